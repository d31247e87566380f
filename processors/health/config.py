"""The health feature's configuration: the government's applications and the checks that watch them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, field_validator, model_validator

from command_center.config import Config, Place
from command_center.config.base import EntityId, Location, Section, unique_ids
from processors.health.conditions import parse_condition


class SnmpConfig(Section):
    """How to read a device's interfaces: SNMP v2c with a community, or v3 with a user (authPriv: SHA and AES)."""

    version: Literal["v2c", "v3"] = "v2c"
    community: str = Field(default="", description="v2c: the read community")
    user: str = Field(default="", description="v3: the USM user")
    auth_key: str = Field(default="", description="v3: the user's SHA authentication passphrase")
    priv_key: str = Field(default="", description="v3: the user's AES privacy passphrase")
    interfaces: list[str] = Field(default_factory=list, description=(
        "interface names (ifName) watched: one that is not up fails the check; empty: every interface is read, "
        "none is required up"))
    capacity_mbps: dict[str, float] = Field(default_factory=dict, description=(
        "what each interface (by ifName) was bought or built for, in Mbit/s: the utilisation is measured against it"))
    max_utilisation_pct: float = Field(default=90, gt=0, le=100, description=(
        "an interface above this share of its capacity (in or out) ..."))
    utilisation_minutes: float = Field(default=5, gt=0, le=1440, description="... for this long is saturated")

    @model_validator(mode="after")
    def _credentials(self) -> SnmpConfig:
        if self.version == "v2c" and not self.community:
            raise ValueError("snmp v2c needs a community")
        if self.version == "v3" and not (self.user and len(self.auth_key) >= 8 and len(self.priv_key) >= 8):
            raise ValueError("snmp v3 needs a user, and auth_key and priv_key of at least 8 characters")
        return self


class CheckConfig(Section):
    id: EntityId
    kind: Literal["http", "tcp", "dns", "tls", "icmp", "snmp", "push"]
    target: str = Field(description="URL for http, host:port for tcp and tls, host name for dns, host (name or "
                                    "address) for icmp, empty for push")
    interval: float = Field(default=30, ge=1, le=86_400)
    timeout: float = Field(default=10, gt=0, le=120)
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: list[int] = Field(default_factory=lambda: [200])
    body_contains: str = ""
    body_excludes: str = ""
    json_path: str = Field(default="", description='condition such as "$.status == ok"')
    latency_budget_ms: float = Field(default=2000, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    username: str = ""
    password: str = ""
    follow_redirects: bool = True
    cert_warning_days: int = Field(default=14, ge=1, le=365)
    verify_tls: bool = True
    ca_file: str = Field(default="", description="extra CA bundle for a government CA")
    count: int = Field(default=3, ge=1, le=20, description="icmp: echo requests a check sends")
    max_loss_pct: float = Field(default=50, ge=0, lt=100, description=(
        "icmp: more of them lost, for slow_threshold checks running, is degraded (lossy); all lost is unreachable"))
    snmp: SnmpConfig | None = Field(default=None, description="snmp: the credentials and the interfaces watched")

    @model_validator(mode="after")
    def _target_fits_kind(self) -> CheckConfig:
        if self.kind == "http" and not self.target.startswith(("http://", "https://")):
            raise ValueError(f"check {self.id!r}: an http check needs an http:// or https:// target")
        if self.kind in ("tcp", "tls") and not re.fullmatch(r"\[?[\w.:-]+\]?:\d{1,5}", self.target):
            raise ValueError(f"check {self.id!r}: a {self.kind} check needs host:port, not {self.target!r}")
        if self.kind == "snmp" and (self.snmp is None or not re.fullmatch(r"\[?[\w.:-]+\]?(:\d{1,5})?", self.target)):
            raise ValueError(f"check {self.id!r}: an snmp check needs host or host:port and its snmp section")
        if self.kind == "icmp" and not re.fullmatch(r"[A-Za-z0-9.:-]+", self.target):
            raise ValueError(f"check {self.id!r}: an icmp check needs a host name or an address, not {self.target!r}")
        if self.kind == "dns" and not re.fullmatch(r"[A-Za-z0-9.-]+", self.target):
            raise ValueError(f"check {self.id!r}: a dns check needs a host name, not {self.target!r}")
        if self.json_path:
            parse_condition(self.json_path)
        return self


class MaintenanceWindow(Section):
    start: AwareDatetime = Field(description="RFC 3339 start")
    end: AwareDatetime = Field(description="RFC 3339 end")
    reason: str = ""

    def covers(self, when: datetime) -> bool:
        return self.start <= when < self.end


class AppConfig(Section):
    id: EntityId
    depends_on: list[EntityId] = Field(default_factory=list,
                                       description="the topology's switches, NVRs, links or sites it runs on")
    name: str
    kind: Literal["app", "switch", "router", "nvr", "link", "site", "power", "server", "screen", "other"] = Field(
        default="app", description="what it is: an application, a network device watched by its checks (an icmp "
                                   "echo, a TCP port) that cameras and apps name in depends_on, or a wall screen "
                                   "(a push check its page answers through the hub: ?screen=<id> on the wall)")
    agency: str = ""
    area: str = ""
    location: Location | None = Field(default=None, description="where a device or site stands (the wall's map)")
    path: list[Location] = Field(default_factory=list, max_length=500, description=(
        "a link's route on the map, from one end to the other (two points at least: its ends)"))
    checks: list[CheckConfig] = Field(min_length=1)
    failure_threshold: int = Field(default=3, ge=1, le=100)
    success_threshold: int = Field(default=2, ge=1, le=100)
    slow_threshold: int = Field(default=3, ge=1, le=100, description="checks over budget before degraded")
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    flap_changes: int = Field(default=4, ge=2, le=100, description="more up/down changes than this ... ")
    flap_window_minutes: float = Field(default=30, gt=0, le=1440, description="... within this many minutes is flapping")
    uptime_target_pct: float = Field(default=99.5, ge=0, le=100,
                                     description="the monthly uptime it is measured against (reports)")

    @field_validator("checks")
    @classmethod
    def _unique_checks(cls, checks: list[CheckConfig]) -> list[CheckConfig]:
        return unique_ids(checks, "check")

    @model_validator(mode="after")
    def _path_is_a_links(self) -> AppConfig:
        if self.path and (self.kind != "link" or len(self.path) < 2):
            raise ValueError(f"app {self.id!r}: a path is a link's route, two points at least")
        return self

    def place(self) -> Location | None:
        """Where it is: its location, else a link's middle point along its route."""
        if self.location is not None or not self.path:
            return self.location
        half = len(self.path) // 2
        if len(self.path) % 2:
            return self.path[half]
        a, b = self.path[half - 1], self.path[half]
        return Location(lat=(a.lat + b.lat) / 2, long=(a.long + b.long) / 2)



class HealthSettings(Config):
    apps: Annotated[list[AppConfig], AfterValidator(lambda v: unique_ids(v, "app"))] = Field(default_factory=list)

    def places(self) -> Iterator[Place]:
        yield from super().places()
        for a in self.apps:
            yield Place(id=a.id, source="health", kind=a.kind, name=a.name, area=a.area, location=a.place(),
                        depends_on=tuple(a.depends_on))
