"""The complaints feature's configuration: Open311 services, intake, routing to agencies, duplicates, surges."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, model_validator

from command_center.config import Config
from command_center.config.base import EntityId, Section
from command_center.config.sections import ApiKeyConfig
from command_center.worktime import WorkCalendar


class AttributeValue(Section):
    key: str = Field(min_length=1, max_length=100)
    name: str


class ServiceAttribute(Section):
    """An Open311 service attribute (GET services/{code}: attributes)."""

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"] = "string"
    required: bool = False
    variable: bool = True
    datatype_description: str = ""
    order: int = Field(default=1, ge=1)
    values: list[AttributeValue] = Field(default_factory=list)


class ServiceConfig(Section):
    """An Open311 service (complaint category)."""

    code: EntityId
    name: str
    description: str = ""
    group: str = ""
    keywords: list[str] = Field(default_factory=list)
    response_minutes: int = Field(default=60, ge=1, le=10_080, description="response due this long after receipt")
    feedback_minutes: int = Field(default=1440, ge=1, le=43_200, description="feedback to the citizen due this long")
    response_working_hours: float | None = Field(default=None, gt=0, le=2000, description=(
        "instead of response_minutes: a response due this many working hours after receipt (site.calendar)"))
    feedback_working_days: float | None = Field(default=None, gt=0, le=250, description=(
        "instead of feedback_minutes: feedback due this many working days after receipt (SP4N-LAPOR! counts so)"))
    service_notice: str = Field(default="", description="what the citizen is told to expect (Open311 service_notice)")
    attributes: list[ServiceAttribute] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_attributes(self) -> ServiceConfig:
        codes = [a.code for a in self.attributes]
        if len(codes) != len(set(codes)):
            raise ValueError(f"service {self.code!r}: attribute codes must be unique")
        return self


class RoutingRule(Section):
    agency: EntityId
    service_codes: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    areas: list[str] = Field(default_factory=list)


class ComplaintsConfig(Section):
    """Intake (Open311 keys, photos, channels), duplicates and surges."""

    jurisdiction_id: str = Field(default="", description="Open311 jurisdiction_id; a request naming another is 404")
    api_keys: list[ApiKeyConfig] = Field(default_factory=list, description="Open311 clients")
    public_reads: bool = Field(default=False,
                               description="Open311 GETs without an api_key (the spec allows it; off: every call needs one)")
    default_service: str = Field(default="", description="the service of an SMS or post no keyword places")
    default_agency: str = Field(default="", description="the agency of a complaint no routing rule matches")
    media_dir: str = Field(default="", description="where photos are kept; empty: a directory under the system temp")
    max_photo_bytes: int = Field(default=5 * 1024 * 1024, ge=10_000, le=50 * 1024 * 1024)
    max_photo_side: int = Field(default=2048, ge=256, le=8192, description="photos are re-encoded no larger than this")
    duplicate_radius_m: float = Field(default=50, gt=0, le=5000)
    duplicate_window_minutes: float = Field(default=60, gt=0, le=10_080)
    surge_min_count: int = Field(default=5, ge=2, le=10_000, description="a surge needs at least this many an hour")
    surge_factor: float = Field(default=3, gt=1, le=100, description="... and this many times the usual count")
    surge_days: int = Field(default=7, ge=1, le=28, description="days of the same hour that make the usual count")
    whatsapp_app_secret: str = Field(default="", description=(
        "the Meta app's secret: /webhooks/whatsapp takes only posts signed with it (X-Hub-Signature-256)"))
    whatsapp_verify_token: str = Field(default="", description="what Meta sends as hub.verify_token to subscribe")



class ComplaintsSettings(Config):
    services: list[ServiceConfig] = Field(default_factory=list, description="Open311 complaint categories")
    complaints: ComplaintsConfig = Field(default_factory=ComplaintsConfig)
    routing: list[RoutingRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complaint_references(self) -> ComplaintsSettings:
        agencies = {a.id for a in self.agencies}
        for i, rule in enumerate(self.routing):
            if rule.agency not in agencies:
                raise ValueError(f"routing.{i}.agency: unknown agency {rule.agency!r}")
        codes = [s.code for s in self.services]
        if len(codes) != len(set(codes)):
            raise ValueError("services: two services share a code")
        c = self.complaints
        if c.default_agency and c.default_agency not in agencies:
            raise ValueError(f"complaints.default_agency: unknown agency {c.default_agency!r}")
        if c.default_service and c.default_service not in codes:
            raise ValueError(f"complaints.default_service: unknown service {c.default_service!r}")
        return self

    def api_clients(self) -> tuple[Sequence[ApiKeyConfig], bool]:
        clients, public = super().api_clients()
        return (*clients, *self.complaints.api_keys), public or self.complaints.public_reads


def deadlines(service_code: str, received: datetime, config: Config) -> tuple[datetime, datetime]:
    """When the response and the feedback are due: in wall-clock minutes (the 1x60 minutes and 1x24 hours rule),
    or in working hours and days over the site's calendar where the service counts so."""
    service = next((s for s in ComplaintsSettings.of(config).services if s.code == service_code), None)
    if service is None:
        return received + timedelta(minutes=60), received + timedelta(minutes=1440)
    calendar = WorkCalendar(config.site.calendar, config.site.timezone) \
        if service.response_working_hours or service.feedback_working_days else None
    response = calendar.add_hours(received, service.response_working_hours) \
        if calendar and service.response_working_hours else received + timedelta(minutes=service.response_minutes)
    feedback = calendar.add_days(received, service.feedback_working_days) \
        if calendar and service.feedback_working_days else received + timedelta(minutes=service.feedback_minutes)
    return response, feedback
