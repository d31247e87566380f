"""Application health payloads: check results and anomalies; its topics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

import msgspec

from command_center.events.types import (
    Id,
    NonNeg,
    Payload,
    Text,
    anomaly_types,
    register,
)
from command_center.topics import DAY_MS, TopicSpec, register_topics
from processors.health.traffic import Sample

Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
AppState = Literal["up", "down", "degraded", "maintenance", "unknown"]
CheckKind = Literal["http", "tcp", "dns", "tls", "icmp", "snmp", "push"]
AppAnomalyKind = Literal["down", "slow", "lossy", "cert_expiring", "flapping", "saturated", "restarted"]


class CheckResult(Payload, kw_only=True, frozen=True):
    """One run of one check against an application."""

    app_id: Id
    check_id: Id
    kind: CheckKind
    ok: bool
    started_at: datetime
    latency_ms: NonNeg = 0.0
    reason: str = ""
    detail: Text = ""
    http_status: int | None = None
    cert_days_left: float | None = None
    sample: Sample | None = None  # an snmp check's counters, turned into bit rates by the processor
    loss_pct: Percent | None = None  # an icmp check's share of echoes lost


class AppAnomaly(Payload, kw_only=True, frozen=True):
    """An application anomaly was raised or cleared; `state` is the app's overall state afterwards."""

    app_id: Id
    kind: AppAnomalyKind
    active: bool
    state: AppState
    previous: AppState
    since: datetime
    reason: str = ""
    downtime_s: NonNeg | None = None
    latency_ms: NonNeg | None = None
    cert_days_left: float | None = None
    in_maintenance: bool = False
    area: str = ""


# --- Complaints -------------------------------------------------------------------------------------


register({
    "id.go.cc.health.check": CheckResult,
    **anomaly_types("id.go.cc.health", get_args(AppAnomalyKind), AppAnomaly),
    "id.go.cc.health.recovered": AppAnomaly,
})


HEALTH_CHECKS = "cc.health.checks"
HEALTH_EVENTS = "cc.health.events"

register_topics(
    TopicSpec(name=HEALTH_CHECKS, partitions=6, retention_ms=7 * DAY_MS, description="check results"),
    TopicSpec(name=HEALTH_EVENTS, partitions=3, retention_ms=90 * DAY_MS, description="app state changes"),
)
