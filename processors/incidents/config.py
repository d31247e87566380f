"""The incidents feature's configuration: correlation, acknowledgement, CAP publication and silences."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, Field

from command_center.config import Config
from command_center.config.base import Section


class Silence(Section):
    """Pushes for matching incidents are held back until `until`; the incidents are still recorded."""

    source: str = ""
    entity: str = ""
    area: str = ""
    kind: str = ""
    until: AwareDatetime
    reason: str = ""

    def matches(self, source: str, entity: str, area: str, kind: str, when: datetime) -> bool:
        return when < self.until and all(
            want in ("", have) for want, have in ((self.source, source), (self.entity, entity), (self.area, area),
                                                  (self.kind, kind)))


class IncidentsConfig(Section):
    correlation_window_minutes: float = Field(default=15, gt=0, le=1440,
                                              description="anomalies in one area this close together form one story")
    ack_timeout_minutes: float = Field(default=0, ge=0, le=10_080, description="0: an acknowledgement never lapses")
    public: list[str] = Field(default_factory=lambda: ["sensors:threshold"],
                              description="source:kind of incidents published as CAP alerts when major or critical")
    silences: list[Silence] = Field(default_factory=list)



class IncidentsSettings(Config):
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)
