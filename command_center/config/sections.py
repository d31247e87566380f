"""The kernel's configuration sections: the site (its districts and agencies), Kafka, Redis, the listeners, the
hub, ingest sharding and the credentials. Each feature's own sections live beside it (processors/<feature>/config.py)."""

from __future__ import annotations

import re
import zlib
from datetime import date, time
from typing import Literal

from pydantic import Field, HttpUrl, field_validator, model_validator

from command_center.config.base import EntityId, Location, Section

Role = Literal["admin", "operator", "oncall", "police", "agency", "viewer", "ingest"]


class Bounds(Section):
    """A bounding box in WGS 84 degrees: the region a point must be in."""

    south: float = Field(ge=-90, le=90)
    west: float = Field(ge=-180, le=180)
    north: float = Field(ge=-90, le=90)
    east: float = Field(ge=-180, le=180)

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.south >= self.north or self.west >= self.east:
            raise ValueError("bounds: south must be below north and west below east")
        return self

    def holds(self, lat: float, long: float) -> bool:
        return self.south <= lat <= self.north and self.west <= long <= self.east

    def describe(self) -> str:
        return f"{self.south:g}..{self.north:g} latitude, {self.west:g}..{self.east:g} longitude"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class CalendarConfig(Section):
    """When the offices work, for targets counted in working time (SP4N-LAPOR!'s days, say)."""

    hours: dict[str, str] = Field(
        default_factory=lambda: {d: "08:00-16:00" for d in ("mon", "tue", "wed", "thu")} | {"fri": "08:00-16:30"},
        description="opening hours per weekday (mon..sun) as HH:MM-HH:MM; a day not named is closed")
    national_holidays: bool = Field(default=True, description="Indonesia's national public holidays are closed")
    collective_leave: list[date] = Field(default_factory=list, description="cuti bersama: closed days")
    regional_holidays: list[date] = Field(default_factory=list, description="the region's own closed days")
    day_hours: float = Field(default=8, gt=0, le=24, description="the working hours of a day, for targets in days")

    @field_validator("hours")
    @classmethod
    def _spans(cls, hours: dict[str, str]) -> dict[str, str]:
        for day, span in hours.items():
            if day not in WEEKDAYS:
                raise ValueError(f"calendar.hours: {day!r} is not one of {', '.join(WEEKDAYS)}")
            m = _SPAN.match(span)
            if not m or (m[1], m[2]) >= (m[3], m[4]):
                raise ValueError(f"calendar.hours.{day}: {span!r} is not an opening such as 08:00-16:00")
        return hours

    def opening(self, day: str) -> tuple[time, time] | None:
        span = self.hours.get(day)
        if span is None:
            return None
        m = _SPAN.match(span)
        assert m is not None
        end = time(23, 59, 59, 999999) if m[3] == "24" else time(int(m[3]), int(m[4]))
        return time(int(m[1]), int(m[2])), end


class SiteConfig(Section):
    name: str = Field(default="Pemerintah Kabupaten", description="the government that runs this centre")
    code: EntityId = Field(default="kab", description="short code used in CAP sender and event sources")
    timezone: str = Field(default="Asia/Jakarta", description="IANA zone for reports by day and month")
    public_url: str = Field(default="http://127.0.0.1:8080", description="where people reach the API and the wall")
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    bounds: Bounds | None = Field(default=None, description="the region (a regency's bounding box): points outside "
                                                           "it are refused; none: around the districts' shapes")


class KafkaConfig(Section):
    bootstrap: str = Field(default="localhost:9092", description="bootstrap servers, or embedded:// for the demo")
    client_id: str = Field(default="command-center")
    topic_prefix: str = Field(default="", max_length=64, description="prefix for every topic name (shared clusters)")
    replication_factor: int = Field(default=1, ge=1, le=5)
    enable_idempotence: bool = Field(
        default=False, description="idempotent producer; Apache Kafka supports it, some test brokers do not"
    )
    linger_ms: int = Field(default=5, ge=0, le=1000)
    request_timeout_ms: int = Field(default=30_000, ge=1000, le=300_000)
    partitions: dict[str, int] = Field(default_factory=dict, description="per-topic partition overrides")
    session_timeout_ms: int = Field(default=10_000, ge=1000, le=300_000, description="consumer group session")
    heartbeat_interval_ms: int = Field(default=2_000, ge=100, le=60_000)
    rebalance_timeout_ms: int = Field(
        default=15_000, ge=500, le=600_000, description="how long a rebalance waits for members to rejoin"
    )


class RedisConfig(Section):
    url: str = Field(default="redis://localhost:6379/0",
                     description="redis:// (rediss:// for TLS) URL; redis+sentinel://[:password@]host:port[,host:port...]"
                                 "/service-name[/db] for a master found through Redis Sentinel (it follows a "
                                 "fail-over); memory:// for the demo")


class ListenerConfig(Section):
    host: str = Field(default="0.0.0.0")
    port: int = Field(default=8080, ge=0, le=65535)
    header_timeout_s: float = Field(default=15, gt=0, le=600,
                                    description="a request line and headers not complete by then: 408, closed")
    body_timeout_s: float = Field(default=30, gt=0, le=3600, description="a body not complete by then: 408")


PANELS = ("cameras", "cctv_events", "incidents", "map", "apps", "sensors", "complaints")


class LayoutConfig(Section):
    """A named screen of the wall (/wall/<id>): the panels it shows, in order, the first the largest."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    name: str = ""
    panels: list[Literal["cameras", "cctv_events", "incidents", "map", "apps", "network", "sensors", "complaints"]] = Field(
        min_length=1)


def default_layouts() -> list[LayoutConfig]:
    return [LayoutConfig(id="operator", name="Semua", panels=["cameras", "incidents", "map", "apps", "network",
                                                             "sensors", "complaints"]),
            LayoutConfig(id="cameras", name="Kamera", panels=["cameras", "cctv_events"]),
            LayoutConfig(id="incidents", name="Insiden dan peta", panels=["incidents", "map", "apps", "network"]),
            LayoutConfig(id="complaints", name="Meja aduan", panels=["complaints", "map"]),
            LayoutConfig(id="police", name="Polisi", panels=["cameras", "cctv_events"])]


class WallConfig(Section):
    """The wall's screens and its map."""

    layouts: list[LayoutConfig] = Field(default_factory=default_layouts)
    tile_url: str = Field(default="", description=(
        "a tile server's URL template ({z}/{x}/{y}) for the map's base layer; empty: district outlines only"))
    tile_attribution: str = ""
    sound: bool = Field(default=True, description="a short tone for a new critical or major incident")

    @field_validator("layouts")
    @classmethod
    def _layout_ids(cls, layouts: list[LayoutConfig]) -> list[LayoutConfig]:
        ids = [layout.id for layout in layouts]
        if len(ids) != len(set(ids)):
            raise ValueError("two wall layouts share an id")
        return layouts


class HubConfig(ListenerConfig):
    port: int = Field(default=8081, ge=0, le=65535)
    public_url: str = Field(default="", description="websocket URL the wall connects to; empty: same host, /ws")
    group_id: str = Field(default="", description="prefix of this instance's consumer group (each instance reads "
                                                  "cc.views from the start in a group of its own); empty: hub")
    max_views: int = Field(default=5000, ge=10, le=1_000_000,
                           description="active views kept per channel (the least recently changed go first)")
    history_views: int = Field(default=30, ge=0, le=10_000,
                               description="inactive views (resolved incidents, closed complaints) kept per channel")
    replay_buffer: int = Field(default=2000, ge=10, le=1_000_000, description="events kept per channel for resume")
    client_queue: int = Field(default=500, ge=10, le=100_000, description="messages buffered per client")
    embed: bool = Field(default=False, description="also serve /ws from the API process (the demo's one port)")
    compression: bool = Field(default=False, description="permessage-deflate: less bandwidth for much more CPU and "
                                                          "memory per client; worth it only on slow links")


class IngestConfig(Section):
    """How this ingest instance shares the cameras and apps with the others."""

    shard: int = Field(default=0, ge=0, description="this instance's index, 0-based")
    shards: int = Field(default=1, ge=1, le=1024, description="how many ingest instances split the work")
    concurrency: int = Field(default=200, ge=1, le=10_000, description="probes or polls in flight at once")

    @model_validator(mode="after")
    def _shard_in_range(self) -> IngestConfig:
        if self.shard >= self.shards:
            raise ValueError(f"shard {self.shard} must be below shards ({self.shards})")
        return self

    def owns(self, entity_id: str) -> bool:
        """Whether this instance handles `entity_id` (a stable hash, so no entity is polled twice)."""
        return zlib.crc32(entity_id.encode()) % self.shards == self.shard


class TokenConfig(Section):
    name: str = Field(min_length=1, description="who holds the token, for the audit trail")
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the token; the token is never stored")
    agency: str = Field(default="", description="an agency's desk: acts only on complaints routed to this agency")


class WatchConfig(Section):
    """Watching the pipeline itself: an outgoing heartbeat while everything works, and an incident for a
    processor that falls ever further behind."""

    heartbeat_url: str = Field(default="", pattern=r"^$|^https?://", description=(
        "fetched (GET) every `every_s` while the bus, the store and every processor work: an outside monitor's "
        "push URL (Uptime Kuma, healthchecks.io) notices a silent centre; empty: none"))
    every_s: float = Field(default=30, ge=0.1, le=3600)
    lag_records: int = Field(default=1000, ge=1, description="a processor this many records behind ...")
    lag_minutes: float = Field(default=5, gt=0, le=1440, description="... and not catching up for this long is "
                                                                     "an incident")


class OidcMapping(Section):
    """A claim value that gives a role and scopes: the first mapping whose claim holds its value wins."""

    claim: str = Field(default="groups", min_length=1, description="the ID token claim (a string or a list)")
    value: str = Field(min_length=1, description="the value the claim holds (or one of its list holds)")
    role: Role
    agencies: list[str] = Field(default_factory=list, description="the agencies it may see; empty: every one")
    areas: list[str] = Field(default_factory=list, description="the districts it may see; empty: every one")


class OidcConfig(Section):
    """Single sign-on with OpenID Connect (authorization code flow with PKCE), Keycloak or any certified issuer."""

    issuer: str = Field(default="", pattern=r"^$|^https?://", description=(
        "the issuer's URL (its /.well-known/openid-configuration is read); empty: no single sign-on"))
    client_id: str = ""
    client_secret: str = ""
    scopes: str = Field(default="openid profile email", pattern=r"(^| )openid( |$)")
    login_claim: str = Field(default="preferred_username", description="the claim that is a person's login "
                                                                       "(`sub` when it is missing)")
    name_claim: str = Field(default="name", description="the claim that is a person's display name")
    mappings: list[OidcMapping] = Field(default_factory=list, description=(
        "claim values to roles and scopes; a person none of them maps is refused"))
    label: str = Field(default="Single sign-on", description="the sign-in button's text")


class AccountsConfig(Section):
    """People and named API tokens, in a SQL database; sessions and sign-in failures in the store."""

    url: str = Field(default="", pattern=r"^$|^(postgresql\+asyncpg|sqlite\+aiosqlite)://", description=(
        "SQLAlchemy URL of the accounts database (the archive's may serve); empty: only the configured tokens"))
    session_idle_s: float = Field(default=1800, gt=0, le=86400, description="a session unused this long ends")
    session_max_s: float = Field(default=12 * 3600, gt=0, le=7 * 86400, description="a session ends this long "
                                                                                  "after sign-in, used or not")
    max_failures: int = Field(default=5, ge=1, le=100, description="failed sign-ins that lock an account")
    max_failures_per_address: int = Field(default=20, ge=1, le=10000, description="failed sign-ins that lock "
                                                                                  "an address, whatever the account")
    lockout_s: float = Field(default=900, gt=0, le=86400, description="how long failures count, and a lock lasts")
    origins: list[str] = Field(default_factory=list, description=(
        "origins (scheme://host:port) besides site.public_url's whose pages may open the hub with a session"))
    secure_cookie: bool | None = Field(default=None, description=(
        "the session cookie's Secure flag; none: when site.public_url is https"))
    oidc: OidcConfig = Field(default_factory=OidcConfig)
    demo_key: str = Field(default="", description="the demo's one-click sign-in key; `command-center demo` sets it "
                                                  "for its run, nothing else should")


class ApiKeyConfig(Section):
    """An Open311 client (a citizen app, the e-pormas portal) and the hash of its api_key."""

    name: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the api_key")
    status_webhook: HttpUrl | None = Field(default=None, description=(
        "where each step of the client's complaints (routed, responded, feedback, closed) is POSTed, signed"))
    status_secret: str = Field(default="", description="the HMAC-SHA256 key of those posts; empty: webhook_secret")


class AgencyConfig(Section):
    id: EntityId
    name: str
    head: str = Field(default="", description="contact id of the agency head, for SLA escalations")


class DependencyConfig(Section):
    """Something the estate runs on that is not itself watched as a camera, an app or a sensor: a switch, an NVR,
    a link, a site, a power feed. Cameras, apps, sensors and these name what they depend on (`depends_on`),
    forming a graph checked at load: every name known, no cycle."""

    id: EntityId
    name: str
    kind: Literal["switch", "router", "nvr", "link", "site", "power", "server", "other"]
    area: str = ""
    location: Location | None = None
    depends_on: list[EntityId] = Field(default_factory=list, description="what this runs on, nearest first")


class AreaConfig(Section):
    """A district (kecamatan): a complaint's area is the first whose polygon holds its point, else the nearest
    centre within `radius_km`, else the first whose name appears in its address."""

    id: EntityId
    name: str
    polygon: list[Location] = Field(default_factory=list, description="boundary, in order; 3 points or more")
    center: Location | None = None
    radius_km: float = Field(default=5, gt=0, le=200)
    code: str = Field(default="", max_length=32, pattern=r"^[0-9.]*$",
                      description="Kemendagri area code (kode wilayah), e.g. 34.04.07: CAP geocode and open data")
    population: int = Field(default=0, ge=0, le=100_000_000,
                            description="inhabitants, for complaints per 10,000 inhabitants in the reports")

    @model_validator(mode="after")
    def _shape(self) -> AreaConfig:
        if self.polygon and len(self.polygon) < 3:
            raise ValueError(f"area {self.id!r}: a polygon needs at least 3 points")
        return self
