"""One YAML file validated into typed, frozen configuration; a bad file names the key and the reason."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from command_center.config.base import Location, Section, unique_ids
from command_center.config.sections import (
    AgencyConfig,
    AppConfig,
    AreaConfig,
    CameraConfig,
    CctvConfig,
    ComplaintsConfig,
    ContactConfig,
    EscalationPolicy,
    EscalationRoute,
    HubConfig,
    IncidentsConfig,
    IngestConfig,
    KafkaConfig,
    ListenerConfig,
    MqttConfig,
    NotifyConfig,
    RedisConfig,
    Role,
    RoutingRule,
    SensorConfig,
    ServiceConfig,
    SiteConfig,
    TeamConfig,
    TokenConfig,
)

__all__ = [
    "AppConfig", "CameraConfig", "Config", "ConfigError", "Location", "Role", "SensorConfig", "load_config",
    "parse_config",
]


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the reason."""


class Config(Section):
    site: SiteConfig = Field(default_factory=SiteConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    http: ListenerConfig = Field(default_factory=ListenerConfig, description="the API and the wall page")
    hub: HubConfig = Field(default_factory=HubConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    ops: ListenerConfig = Field(
        default_factory=lambda: ListenerConfig(port=9400), description="/healthz, /readyz and /metrics"
    )
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    tokens: list[TokenConfig] = Field(default_factory=list)
    webhook_secret: str = Field(default="", description="HMAC-SHA256 key for signed webhooks in and out")
    cameras: list[CameraConfig] = Field(default_factory=list)
    apps: list[AppConfig] = Field(default_factory=list)
    sensors: list[SensorConfig] = Field(default_factory=list)
    cctv: CctvConfig = Field(default_factory=CctvConfig)
    mqtt: MqttConfig | None = Field(default=None, description="the MQTT broker sensors publish to; none: off")
    agencies: list[AgencyConfig] = Field(default_factory=list)
    areas: list[AreaConfig] = Field(default_factory=list, description="districts, for complaints' areas and routing")
    services: list[ServiceConfig] = Field(default_factory=list, description="Open311 complaint categories")
    complaints: ComplaintsConfig = Field(default_factory=ComplaintsConfig)
    routing: list[RoutingRule] = Field(default_factory=list)
    contacts: list[ContactConfig] = Field(default_factory=list)
    teams: list[TeamConfig] = Field(default_factory=list)
    escalation_policies: list[EscalationPolicy] = Field(default_factory=list)
    escalation_routes: list[EscalationRoute] = Field(default_factory=list)
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)

    @field_validator("cameras", "apps", "sensors", "agencies", "areas", "contacts", "teams", "escalation_policies")
    @classmethod
    def _unique(cls, items: list[Any], info: Any) -> list[Any]:
        return unique_ids(items, info.field_name.rstrip("s"))

    @model_validator(mode="after")
    def _references(self) -> Config:
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
        for t in self.tokens:
            if t.agency and t.agency not in agencies:
                raise ValueError(f"tokens[{t.name}].agency: unknown agency {t.agency!r}")
        people = {c.id for c in self.contacts} | {t.id for t in self.teams}
        for policy in self.escalation_policies:
            for j, step in enumerate(policy.steps):
                for who in step.notify:
                    if who not in people:
                        raise ValueError(f"escalation_policies[{policy.id}].steps.{j}: unknown contact {who!r}")
        policies = {p.id for p in self.escalation_policies}
        for i, route in enumerate(self.escalation_routes):
            if route.policy not in policies:
                raise ValueError(f"escalation_routes.{i}.policy: unknown policy {route.policy!r}")
        return self


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{where}: {e['msg']}")
    return "; ".join(lines)


def parse_config(data: Any, *, origin: str = "config", env: Mapping[str, str] | None = None) -> Config:
    """Validate a mapping into Config, applying CC_KAFKA_BOOTSTRAP and CC_REDIS_URL from `env`."""
    if env is None:
        env = os.environ
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping, not {type(data).__name__}")
    data = dict(data)
    if env.get("CC_KAFKA_BOOTSTRAP"):
        data["kafka"] = {**(data.get("kafka") or {}), "bootstrap": env["CC_KAFKA_BOOTSTRAP"]}
    if env.get("CC_REDIS_URL"):
        data["redis"] = {**(data.get("redis") or {}), "url": env["CC_REDIS_URL"]}
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{origin}: {_describe(err)}") from err


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML configuration file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    return parse_config(data, origin=str(path), env=env)
