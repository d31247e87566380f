"""Application health decisions, as a pure function of an app's state and one check result.

Gatus-style hysteresis per check: a check is down after `failure_threshold` consecutive failures and up
again after `success_threshold` successes. The app is down while any check is down. It is degraded while
a check is slow (over its latency budget for `slow_threshold` checks running), loses more echoes than its
`max_loss_pct` for as many checks running (icmp: a lossy link), or its certificate expires within the warning
window. More than `flap_changes` up/down changes within `flap_window_minutes` is
flapping: reported once, with down/recovered held back until it settles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from processors.health.config import AppConfig, CheckConfig
from processors.health.events import AppAnomalyKind, AppState, CheckResult


class CheckTrack(msgspec.Struct, kw_only=True):
    up: bool | None = None
    failures: int = 0
    successes: int = 0
    failing_since: datetime | None = None
    passing_since: datetime | None = None
    slow_run: int = 0
    fast_run: int = 0
    slow: bool = False
    lossy_run: int = 0
    clean_run: int = 0
    lossy: bool = False
    loss_pct: float = 0.0
    cert_days_left: float | None = None
    reason: str = ""
    latency_ms: float = 0.0


class AppHealth(msgspec.Struct, kw_only=True):
    """Everything the processor remembers of one app (kept in Redis)."""

    app_id: str
    state: AppState = "unknown"
    since: datetime | None = None
    checks: dict[str, CheckTrack] = {}
    down: bool = False
    reported_down: bool = False
    down_since: datetime | None = None
    slow: bool = False
    lossy: bool = False
    saturated: bool = False  # an interface above its utilisation limit for its hold (set from the traffic)
    cert_expiring: bool = False
    flapping: bool = False
    changes: list[datetime] = []
    reason: str = ""
    last_result: datetime | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """An anomaly raised or cleared by a decision."""

    kind: AppAnomalyKind
    active: bool
    reason: str = ""
    downtime_s: float | None = None


def in_maintenance(app: AppConfig, when: datetime) -> bool:
    return any(window.covers(when) for window in app.maintenance)


def _held(on: bool, run: int, other: int, over: bool, app: AppConfig) -> tuple[bool, int, int]:
    """A condition with hysteresis: on after `slow_threshold` checks over the limit running, off after
    `success_threshold` under it. (on, checks over running, checks under running)."""
    run, other = (run + 1, 0) if over else (0, other + 1)
    if not on and run >= app.slow_threshold:
        on = True
    elif on and other >= app.success_threshold:
        on = False
    return on, run, other


def _track(check: CheckTrack, app: AppConfig, result: CheckResult, config: CheckConfig) -> CheckTrack:
    t = msgspec.structs.replace(check)
    if result.ok:
        t.successes, t.failures = t.successes + 1, 0
        t.passing_since = t.passing_since if t.successes > 1 else result.started_at
    else:
        t.failures, t.successes = t.failures + 1, 0
        t.failing_since = t.failing_since if t.failures > 1 else result.started_at
    t.reason = "" if result.ok else f"{result.check_id}: {result.reason} {result.detail}".strip()
    if t.up is not False and t.failures >= app.failure_threshold:
        t.up = False
    elif t.up is not True and t.successes >= app.success_threshold:
        t.up = True
    if result.ok and result.kind in ("http", "icmp"):
        t.latency_ms = result.latency_ms
        t.slow, t.slow_run, t.fast_run = _held(t.slow, t.slow_run, t.fast_run,
                                               result.latency_ms > config.latency_budget_ms, app)
    if result.ok and result.loss_pct is not None:
        t.loss_pct = result.loss_pct
        t.lossy, t.lossy_run, t.clean_run = _held(t.lossy, t.lossy_run, t.clean_run,
                                                  result.loss_pct > config.max_loss_pct, app)
    if result.kind == "tls" and result.ok:
        t.cert_days_left = result.cert_days_left
    return t


def decide(app: AppConfig, health: AppHealth, result: CheckResult) -> tuple[AppHealth, list[Change]]:
    """The app's state after `result`, and the anomalies that this result raises or clears."""
    check = next((c for c in app.checks if c.id == result.check_id), None)
    if check is None:
        return health, []
    when = result.started_at
    h = msgspec.structs.replace(health, checks=dict(health.checks), changes=list(health.changes))
    h.checks[check.id] = _track(h.checks.get(check.id, CheckTrack()), app, result, check)
    h.last_result = when
    changes: list[Change] = []

    down = any(t.up is False for t in h.checks.values())
    if down != h.down:
        h.changes = [*h.changes, when]
        if down:
            # downtime runs from the first failure of the streak that brought the app down
            h.down_since = min((t.failing_since or when) for t in h.checks.values() if t.up is False)
        h.down = down
    window_start = when - timedelta(minutes=app.flap_window_minutes)
    recent = [t for t in h.changes if t > window_start]
    h.changes = recent
    if not h.flapping and len(recent) > app.flap_changes:
        h.flapping = True
        changes.append(Change("flapping", True, f"{len(recent)} changes in {app.flap_window_minutes:g} min"))
    elif h.flapping and not recent:
        h.flapping = False
        changes.append(Change("flapping", False, "stable again"))
    if not h.flapping and h.down != h.reported_down:
        if h.down:
            reason = "; ".join(t.reason for t in h.checks.values() if t.up is False and t.reason)
            changes.append(Change("down", True, reason))
        else:
            # ... to the first success of the streak that brought it back
            back = h.checks[check.id].passing_since or when
            downtime = (back - h.down_since).total_seconds() if h.down_since else None
            changes.append(Change("down", False, "recovered", downtime_s=downtime))
        h.reported_down = h.down

    slow = any(t.slow for t in h.checks.values())
    if slow != h.slow:
        h.slow = slow
        worst = max((t.latency_ms for t in h.checks.values() if t.slow), default=0.0)
        changes.append(Change("slow", slow, f"latency {worst:.0f} ms over budget" if slow else "latency back in budget"))

    lossy = any(t.lossy for t in h.checks.values())
    if lossy != h.lossy:
        h.lossy = lossy
        worst = max((t.loss_pct for t in h.checks.values() if t.lossy), default=0.0)
        changes.append(Change("lossy", lossy, f"{worst:.0f}% of echoes lost" if lossy else "echoes answered again"))

    warn = {c.id: c.cert_warning_days for c in app.checks}
    expiring = [(cid, t.cert_days_left) for cid, t in h.checks.items()
                if t.cert_days_left is not None and t.cert_days_left < warn.get(cid, 14)]
    if bool(expiring) != h.cert_expiring:
        h.cert_expiring = bool(expiring)
        text = f"certificate expires in {min(d for _, d in expiring):.1f} days" if expiring else "certificate renewed"
        changes.append(Change("cert_expiring", bool(expiring), text))

    settle(app, h, when)
    h.reason = "; ".join(t.reason for t in h.checks.values() if t.reason)[:500]
    return h, changes


def settle(app: AppConfig, h: AppHealth, when: datetime) -> None:
    """The app's overall state from what is known of it (in place): down, degraded, up, unknown, or in
    maintenance; `since` moves only when the state changes."""
    state: AppState
    if h.down:
        state = "down"
    elif h.slow or h.lossy or h.saturated or h.cert_expiring:
        state = "degraded"
    elif any(t.up for t in h.checks.values()):
        state = "up"
    else:
        state = "unknown"
    if in_maintenance(app, when):
        state = "maintenance"
    if state != h.state:
        h.state, h.since = state, when
