"""The incidents feature's configuration: correlation, acknowledgement, CAP publication and silences."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from command_center.config import Config
from command_center.config.base import EntityId, Section


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


CapCategory = Literal["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
                      "CBRNE", "Other"]


class CapText(Section):
    """One language's words of a public alert; {name} is the sensor's or camera's name, {area} the district's."""

    event: str = Field(min_length=1, max_length=100)
    headline: str = Field(min_length=1, max_length=160)
    description: str = Field(min_length=1, max_length=1000)
    instruction: str = Field(default="", max_length=1000)


class CapTemplate(Section):
    """What the public is told of one kind of public incident, in Indonesian and English."""

    category: CapCategory = "Met"
    certainty: Literal["Observed", "Likely", "Possible"] = "Observed"
    id: CapText
    en: CapText


def _default_cap() -> dict[str, CapTemplate]:
    return {
        "water_level": CapTemplate(category="Met", id=CapText(
            event="Banjir / tinggi muka air", headline="Tinggi muka air naik di {area}",
            description="Tinggi muka air di {name} melewati batas siaga.",
            instruction="Hindari area terdampak, jauhi bantaran sungai, dan ikuti arahan BPBD."), en=CapText(
            event="Flood / river level", headline="River level rising in {area}",
            description="The water level at {name} has passed its alert level.",
            instruction="Avoid the affected area, keep away from the riverbanks and follow BPBD's directions.")),
        "rainfall": CapTemplate(category="Met", id=CapText(
            event="Hujan lebat", headline="Hujan lebat di {area}", description="Curah hujan di {name} tinggi.",
            instruction="Waspadai genangan dan longsor; ikuti arahan BPBD."), en=CapText(
            event="Heavy rain", headline="Heavy rain in {area}", description="Rainfall at {name} is heavy.",
            instruction="Watch for flooding and landslides; follow BPBD's directions.")),
        "air_quality": CapTemplate(category="Env", id=CapText(
            event="Kualitas udara buruk", headline="Kualitas udara buruk di {area}",
            description="Kualitas udara di {name} buruk.",
            instruction="Kurangi aktivitas di luar ruangan dan gunakan masker."), en=CapText(
            event="Poor air quality", headline="Poor air quality in {area}",
            description="The air quality at {name} is poor.",
            instruction="Limit time outdoors and wear a mask.")),
    }


class Relation(Section):
    """Kinds of incident that tell one story where they share a district (a flood and its complaints): members
    are `source/kind` of the anomaly (sensors/threshold), of its entity (sensors/water_level), or a complaint
    category (complaints/banjir)."""

    name: EntityId
    members: list[str] = Field(min_length=2)


def _default_relations() -> list[Relation]:
    return [Relation(name="banjir", members=["sensors/water_level", "sensors/rainfall", "complaints/banjir"])]


class IncidentsConfig(Section):
    correlation_window_minutes: float = Field(default=15, gt=0, le=1440, description=(
        "incidents this close together that share a cause (a dependency) or a relation form one story"))
    outages: list[str] = Field(default_factory=lambda: ["cctv/offline", "cctv/frozen", "health/down", "health/slow",
                                                        "sensors/stale", "sensors/fault"], description=(
        "source/kind of anomalies that a failed switch, link, site or power feed can cause: only these are "
        "grouped by a shared dependency (a turned camera or an expiring certificate is not the switch's doing)"))
    relations: list[Relation] = Field(default_factory=_default_relations, description=(
        "kinds grouped when they share a district; anything else is grouped only by a shared dependency"))
    dependency_hold_s: float = Field(default=30, ge=0, le=3600, description=(
        "an outage of something with a watched dependency (a switch with an ICMP check, an app) waits this long "
        "before it opens: if the dependency goes down meanwhile, it is folded under the dependency's incident"))
    affected_grace_s: float = Field(default=120, ge=0, le=86_400, description=(
        "after a dependency recovers, what is still failing under it waits this long, then opens its own incident"))
    ack_timeout_minutes: float = Field(default=0, ge=0, le=10_080, description="0: an acknowledgement never lapses")
    public: list[str] = Field(default_factory=lambda: ["sensors:threshold"],
                              description="source:kind of incidents published as CAP alerts when major or critical")
    silences: list[Silence] = Field(default_factory=list)
    cap: dict[str, CapTemplate] = Field(default_factory=_default_cap,
                                        description="public alert texts by the kind of what raised them (a sensor's "
                                                    "kind: water_level, rainfall, air_quality)")



class IncidentsSettings(Config):
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)
