"""Configuration sections: infrastructure (Kafka, Redis, listeners, tokens) and the monitored estate."""

from __future__ import annotations

import re
import zlib
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, HttpUrl, field_validator, model_validator

from command_center.config.base import EntityId, Location, Section, unique_ids

Role = Literal["admin", "operator", "oncall", "police", "ingest"]


class SiteConfig(Section):
    name: str = Field(default="Pemerintah Kabupaten", description="the government that runs this centre")
    code: EntityId = Field(default="kab", description="short code used in CAP sender and event sources")
    timezone: str = Field(default="Asia/Jakarta", description="IANA zone for reports by day and month")
    public_url: str = Field(default="http://127.0.0.1:8080", description="where people reach the API and the wall")


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
    url: str = Field(default="redis://localhost:6379/0", description="redis:// URL, or memory:// for the demo")


class ListenerConfig(Section):
    host: str = Field(default="0.0.0.0")
    port: int = Field(default=8080, ge=0, le=65535)


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


class ApiKeyConfig(Section):
    """An Open311 client (a citizen app, the e-pormas portal) and the hash of its api_key."""

    name: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the api_key")


class CameraDetection(Section):
    """How a camera's frames are judged. Levels are relative to the camera's own learned baseline."""

    raise_after: int = Field(default=3, ge=1, le=100, description="consecutive frames before an anomaly is raised")
    clear_after: int = Field(default=2, ge=1, le=100, description="consecutive good frames before it is cleared")
    warmup: int = Field(default=8, ge=3, le=1000, description="frames that teach the baseline before tamper checks")
    offline_intervals: float = Field(default=3, gt=1, le=1000, description="no frame for this many intervals: offline")
    offline_min_s: float = Field(default=15, ge=1, le=86_400, description="... and for at least this many seconds")
    black_mean: float = Field(default=24, ge=0, le=255, description="black: mean grey level below this ...")
    black_std: float = Field(default=6, gt=0, le=255, description="... and spread below this")
    blank_std: float = Field(default=2.5, gt=0, le=255, description="blank: any grey level with spread below this")
    blur_ratio: float = Field(default=0.4, gt=0, lt=1, description="blurred: sharpness below this share of its median")
    frozen_ratio: float = Field(default=0.15, gt=0, lt=1,
                                description="frozen: change between frames below this share of its usual change")
    covered_share: float = Field(default=0.6, gt=0, le=1, description="covered: share of the view that lost its detail")
    moved_correlation: float = Field(default=0.5, ge=-1, lt=1,
                                     description="moved: the view correlates with the learned scene below this")
    moved_shift: float = Field(default=0.05, gt=0, lt=1, description="moved: or is shifted by this share of its width")
    relearn_after_s: float = Field(default=3600, ge=60, le=30 * 86_400,
                                   description="a view moved for this long is learned as the camera's new scene")


class CameraConfig(Section):
    id: EntityId
    name: str
    url: str = Field(description="snapshot URL (http/https), MJPEG URL, or rtsp://")
    kind: Literal["snapshot", "mjpeg", "rtsp"] = "snapshot"
    interval: float = Field(default=10, ge=0.2, le=3600, description="seconds between snapshots")
    timeout: float = Field(default=10, gt=0, le=120, description="seconds a poll (or a stream read) may take")
    max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024,
                           description="a snapshot larger than this is refused as too large")
    area: str = ""
    location: Location | None = None
    username: str = ""
    password: str = ""
    auth: Literal["none", "basic", "digest"] = "none"
    count_people: bool = Field(default=False, description="count people with OpenCV's HOG detector")
    people_every: int = Field(default=6, ge=1, le=1000, description="count people on every Nth frame")
    detect: CameraDetection = Field(default_factory=CameraDetection)

    @model_validator(mode="after")
    def _url_fits_kind(self) -> CameraConfig:
        schemes = {"snapshot": ("http://", "https://"), "mjpeg": ("http://", "https://"), "rtsp": ("rtsp://", "rtsps://")}
        if not self.url.startswith(schemes[self.kind]):
            raise ValueError(f"camera {self.id!r}: a {self.kind} camera needs a {' or '.join(schemes[self.kind])} URL")
        if self.auth != "none" and not self.username:
            raise ValueError(f"camera {self.id!r}: {self.auth} auth needs a username")
        return self


class PoliceConfig(Section):
    """The police system's endpoint for CCTV events (signed JSON), and what it receives."""

    url: HttpUrl | None = Field(default=None, description="HTTPS endpoint; none: only the cc.police.cctv topic")
    secret: str = Field(default="", description="HMAC-SHA256 key; empty: webhook_secret")
    timeout_s: float = Field(default=10, gt=0, le=120)
    activity: bool = Field(default=True, description="also forward activity (motion, people) events")


class CctvConfig(Section):
    frame_ttl_s: float = Field(default=120, ge=5, le=86_400, description="how long each frame stays in Redis")
    latest_ttl_s: float = Field(default=86_400, ge=60, le=30 * 86_400, description="how long a camera's last frame stays")
    jpeg_quality: int = Field(default=85, ge=30, le=100, description="quality of frames re-encoded from RTSP streams")
    police: PoliceConfig = Field(default_factory=PoliceConfig)


class CheckConfig(Section):
    id: EntityId
    kind: Literal["http", "tcp", "dns", "tls", "push"]
    target: str = Field(description="URL for http, host:port for tcp and tls, host name for dns, empty for push")
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

    @model_validator(mode="after")
    def _target_fits_kind(self) -> CheckConfig:
        if self.kind == "http" and not self.target.startswith(("http://", "https://")):
            raise ValueError(f"check {self.id!r}: an http check needs an http:// or https:// target")
        if self.kind in ("tcp", "tls") and not re.fullmatch(r"\[?[\w.:-]+\]?:\d{1,5}", self.target):
            raise ValueError(f"check {self.id!r}: a {self.kind} check needs host:port, not {self.target!r}")
        if self.kind == "dns" and not re.fullmatch(r"[A-Za-z0-9.-]+", self.target):
            raise ValueError(f"check {self.id!r}: a dns check needs a host name, not {self.target!r}")
        if self.json_path:
            from command_center.config.conditions import parse_condition

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
    name: str
    agency: str = ""
    area: str = ""
    checks: list[CheckConfig] = Field(min_length=1)
    failure_threshold: int = Field(default=3, ge=1, le=100)
    success_threshold: int = Field(default=2, ge=1, le=100)
    slow_threshold: int = Field(default=3, ge=1, le=100, description="checks over budget before degraded")
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    flap_changes: int = Field(default=4, ge=2, le=100, description="more up/down changes than this ... ")
    flap_window_minutes: float = Field(default=30, gt=0, le=1440, description="... within this many minutes is flapping")

    @field_validator("checks")
    @classmethod
    def _unique_checks(cls, checks: list[CheckConfig]) -> list[CheckConfig]:
        return unique_ids(checks, "check")


class SensorRule(Section):
    kind: Literal["threshold", "rate", "spike", "stale", "flatline", "range"]
    level: str = Field(default="", description="a name for the level, e.g. siaga 2, shown with the alarm")
    raise_above: float | None = None
    clear_below: float | None = None
    raise_below: float | None = None
    clear_above: float | None = None
    min_duration_s: float = Field(default=0, ge=0)
    delta: float | None = Field(default=None, description="rate rule: change that raises")
    window_s: float = Field(default=600, gt=0)
    z: float = Field(default=6, gt=0, description="spike rule: robust z-score that raises")
    warmup: int = Field(default=20, ge=3)
    intervals: float = Field(default=3, gt=0, description="stale rule: missed intervals before stale")
    duration_s: float = Field(default=3600, gt=0, description="flatline rule: unchanged for this long")
    min: float | None = None
    max: float | None = None
    severity: Literal["critical", "major", "minor", "info"] = "major"

    @model_validator(mode="after")
    def _complete(self) -> SensorRule:
        if self.kind == "threshold":
            high = self.raise_above is not None
            low = self.raise_below is not None
            if high == low:
                raise ValueError("a threshold rule needs raise_above or raise_below (one of them)")
            if high and self.clear_below is not None and self.clear_below > self.raise_above:  # type: ignore[operator]
                raise ValueError("clear_below must not be above raise_above")
            if low and self.clear_above is not None and self.clear_above < self.raise_below:  # type: ignore[operator]
                raise ValueError("clear_above must not be below raise_below")
        if self.kind == "rate" and not self.delta:
            raise ValueError("a rate rule needs delta")
        if self.kind == "range" and self.min is None and self.max is None:
            raise ValueError("a range rule needs min or max")
        return self


class SensorConfig(Section):
    id: EntityId
    name: str
    kind: Literal["water_level", "rainfall", "air_quality", "bandwidth", "packet_loss", "traffic", "temperature", "other"]
    quantity: str = ""
    unit: str
    interval: float = Field(default=60, gt=0, le=86_400, description="expected seconds between readings")
    area: str = ""
    location: Location | None = None
    rules: list[SensorRule] = Field(default_factory=list)
    max_rate: float = Field(default=10, gt=0, le=10_000, description="readings per second accepted (burst 5x)")


class MqttConfig(Section):
    host: str = "localhost"
    port: int = Field(default=1883, ge=1, le=65535)
    topic: str = Field(default="cc/sensors/{sensor_id}", description="the sensor id's place in the topic")
    username: str = ""
    password: str = ""
    client_id: str = Field(default="command-center-sensors", description="MQTT client id (persistent session)")

    @field_validator("topic")
    @classmethod
    def _one_placeholder(cls, topic: str) -> str:
        if topic.count("{sensor_id}") != 1 or "#" in topic or "+" in topic:
            raise ValueError("topic needs exactly one {sensor_id} and no wildcards")
        return topic

    @property
    def subscription(self) -> str:
        return self.topic.replace("{sensor_id}", "+")

    def sensor_of(self, topic: str) -> str | None:
        """The sensor id in a concrete topic, or None when the topic does not fit the pattern."""
        want = self.topic.split("/")
        got = topic.split("/")
        if len(want) != len(got):
            return None
        sensor = None
        for pattern, part in zip(want, got, strict=True):
            if pattern == "{sensor_id}":
                sensor = part
            elif pattern != part:
                return None
        return sensor


class AgencyConfig(Section):
    id: EntityId
    name: str
    head: str = Field(default="", description="contact id of the agency head, for SLA escalations")


class AreaConfig(Section):
    """A district (kecamatan): a complaint's area is the first whose polygon holds its point, else the nearest
    centre within `radius_km`, else the first whose name appears in its address."""

    id: EntityId
    name: str
    polygon: list[Location] = Field(default_factory=list, description="boundary, in order; 3 points or more")
    center: Location | None = None
    radius_km: float = Field(default=5, gt=0, le=200)

    @model_validator(mode="after")
    def _shape(self) -> AreaConfig:
        if self.polygon and len(self.polygon) < 3:
            raise ValueError(f"area {self.id!r}: a polygon needs at least 3 points")
        return self


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


class ContactConfig(Section):
    id: EntityId
    name: str
    webhook: HttpUrl | None = None
    telegram_chat_id: str = ""
    email: str = ""


class EscalationStep(Section):
    wait_minutes: float = Field(default=0, ge=0, le=1440)
    notify: list[str] = Field(min_length=1, description="contact or team ids")


class EscalationPolicy(Section):
    id: EntityId
    steps: list[EscalationStep] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=10)


class EscalationRoute(Section):
    policy: EntityId
    severities: list[Literal["critical", "major", "minor", "info"]] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    areas: list[str] = Field(default_factory=list)


class TeamConfig(Section):
    id: EntityId
    members: list[str] = Field(min_length=1, description="contact ids; a rota pages them in turn")
    rota: bool = False


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


class NotifyConfig(Section):
    telegram_base_url: str = Field(default="https://api.telegram.org", description="Bot API base URL")
    telegram_token: str = ""
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "command-center@localhost"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    ack_link_hours: float = Field(default=24, gt=0, le=720, description="how long a one-click ack link works")
    max_attempts: int = Field(default=10, ge=1, le=50)
    first_retry_s: float = Field(default=5, gt=0, le=600)
    timeout_s: float = Field(default=10, gt=0, le=60)
