"""The police feed's configuration: the police system's endpoint and what it receives."""

from __future__ import annotations

from typing import Any

from pydantic import Field, HttpUrl, model_validator

from command_center.config import Config
from command_center.config.base import Section


class PoliceConfig(Section):
    """The police system's endpoint for CCTV events (signed JSON), and what it receives."""

    url: HttpUrl | None = Field(default=None, description="HTTPS endpoint; none: only the cc.police.cctv topic")
    secret: str = Field(default="", description="HMAC-SHA256 key; empty: webhook_secret")
    timeout_s: float = Field(default=10, gt=0, le=120)
    activity: bool = Field(default=True, description="also forward activity (motion, people) events")



class PoliceSettings(Config):
    police: PoliceConfig = Field(default_factory=PoliceConfig)

    @model_validator(mode="before")
    @classmethod
    def _from_cctv(cls, data: Any) -> Any:
        """`cctv.police`, where earlier versions kept this section, is read as `police`."""
        if isinstance(data, dict) and isinstance(data.get("cctv"), dict) and "police" in data["cctv"]:
            if "police" in data:
                raise ValueError("police: give it once, at the top level (cctv.police is its old place)")
            cctv = dict(data["cctv"])
            data = {**data, "police": cctv.pop("police"), "cctv": cctv}
        return data
