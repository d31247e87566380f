"""The upstream systems complaints are forwarded to, and which complaints go."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, HttpUrl, model_validator

from command_center.config import Config
from command_center.config.base import EntityId, Section, unique_ids


class UpstreamConfig(Section):
    """An Open311 GeoReport v2 endpoint complaints are filed with; its answers come back, signed, by
    POST /webhooks/upstream/{id} (register that URL as the status_webhook of this site's api_key there)."""

    id: EntityId
    name: str = ""
    kind: Literal["open311", "lapor"] = Field(default="open311", description=(
        "lapor: SP4N-LAPOR!'s categories and institutions (processors/upstream/lapor.py)"))
    url: HttpUrl = Field(description="the Open311 base, ending /open311/v2 (requests.json is under it)")
    api_key: str = Field(min_length=1, description="this site's api_key there")
    jurisdiction_id: str = ""
    secret: str = Field(min_length=16, description="HMAC-SHA256 key: our posts are signed with it, its answers too")
    agencies: list[str] = Field(default_factory=list, description="forward complaints routed to these agencies")
    services: list[str] = Field(default_factory=list, description="... or of these services")
    service_map: dict[str, str] = Field(default_factory=dict, description="our service code -> its service code")
    institution_map: dict[str, str] = Field(default_factory=dict, description=(
        "lapor: our agency id -> the LAPOR! institution (instansi) code, sent as attribute[instansi]"))
    timeout_s: float = Field(default=10, gt=0, le=120)


class UpstreamSettings(Config):
    upstreams: Annotated[list[UpstreamConfig], AfterValidator(lambda v: unique_ids(v, "upstream"))] = Field(
        default_factory=list)

    @model_validator(mode="after")
    def _known(self) -> UpstreamSettings:
        agencies = {a.id for a in self.agencies}
        for u in self.upstreams:
            for agency in u.agencies:
                if agency not in agencies:
                    raise ValueError(f"upstreams[{u.id}].agencies: unknown agency {agency!r}")
        return self
