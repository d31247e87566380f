"""The health processor: check results in, app states in Redis, anomalies out on cc.health.events."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import msgspec

from command_center.config.base import by_id
from command_center.events import Event, derive_id, new_event
from command_center.events.types import ScreenReport
from command_center.runtime import Context, Processor
from command_center.topics import WALL_SCREENS
from processors.health.config import AppConfig, HealthSettings
from processors.health.decide import AppHealth, Change, decide, in_maintenance, settle
from processors.health.events import HEALTH_CHECKS, HEALTH_EVENTS, AppAnomaly, CheckResult
from processors.health.keys import app_key, latency_key, traffic_key, uptime_key  # noqa: F401 (re-exported)
from processors.health.traffic import Traffic, rates, restarted, saturation
from processors.health.view import APPS

logger = logging.getLogger(__name__)

PUSH_TIMER = "health-push"
PUSH_GRACE = 1.5  # intervals of silence before a heartbeat check fails
LATENCY_POINTS = 500
UPTIME_HOURS = 30 * 24


def anomaly_event(app: AppConfig, before: AppHealth, after: AppHealth, change: Change, result: CheckResult,
                  cause: str) -> Event:
    kind = "recovered" if change.kind == "down" and not change.active else change.kind
    return new_event(
        f"id.go.cc.health.{kind}", id=derive_id("health", app.id, change.kind, change.active, cause),
        source="/processors/health", subject=app.id, time=result.started_at,
        data=AppAnomaly(
            app_id=app.id, kind=change.kind, active=change.active, state=after.state, previous=before.state,
            since=after.since or result.started_at, reason=change.reason[:1000], downtime_s=change.downtime_s,
            latency_ms=result.latency_ms if change.kind == "slow" else None,
            cert_days_left=result.cert_days_left if change.kind == "cert_expiring" else None,
            in_maintenance=in_maintenance(app, result.started_at), area=app.area,
        ),
    )


async def _traffic(ctx: Context, app: AppConfig, after: AppHealth, result: CheckResult) -> list[Change]:
    """A device's SNMP sample: its bit rates; `saturated` raised or cleared as its interfaces stay above their
    utilisation limit or come back under it (the device degraded meanwhile); `restarted` when its uptime went
    back (cleared at the next poll). The changes, for the caller to emit."""
    assert result.sample is not None
    check = next(c for c in app.checks if c.id == result.check_id)
    known = await ctx.state.get(traffic_key(app.id), Traffic)
    found = rates(known.sample if known else None, result.sample)
    now = result.started_at.timestamp()
    rebooted = known is not None and restarted(known.sample, result.sample)
    raised = known.restart_raised if known else False
    changes: list[Change] = []
    if rebooted and not raised:
        changes.append(Change("restarted", True, f"uptime went back to {result.sample.uptime_ticks / 100:.0f}s"))
        raised = True
    elif raised and found is not None:
        changes.append(Change("restarted", False, "polled normally since"))
        raised = False
    traffic = Traffic(sample=result.sample, rates=found if found is not None else [],
                      restarted_at=now if rebooted else (known.restarted_at if known else None), restart_raised=raised,
                      hot_since=known.hot_since if known else {}, saturated=known.saturated if known else [])
    if found is not None and check.snmp is not None and check.snmp.capacity_mbps:
        hot, saturated, reason = saturation(traffic, found, check.snmp.capacity_mbps, check.snmp.max_utilisation_pct,
                                            check.snmp.utilisation_minutes * 60, now)
        if bool(saturated) != bool(traffic.saturated):
            changes.append(Change("saturated", bool(saturated), reason or "back under its utilisation limit"))
        traffic = msgspec.structs.replace(traffic, hot_since=hot, saturated=saturated)
    ctx.state.put(traffic_key(app.id), traffic)
    after.saturated = bool(traffic.saturated)
    settle(app, after, result.started_at)
    return changes


async def apply_result(ctx: Context, app: AppConfig, result: CheckResult, cause: str) -> None:
    """Fold one result into the app's state; record uptime and latency; emit what changed."""
    before = await ctx.state.get(app_key(app.id), AppHealth) or AppHealth(app_id=app.id)
    after, changes = decide(app, before, result)
    if result.sample is not None:
        changes += await _traffic(ctx, app, after, result)
    ctx.state.put(app_key(app.id), after)
    hour = int(result.started_at.timestamp() // 3600)
    ctx.state.hincrby(uptime_key(app.id), f"{hour}:n")
    if not after.down:
        ctx.state.hincrby(uptime_key(app.id), f"{hour}:up")
    ctx.state.hdel(uptime_key(app.id), f"{hour - UPTIME_HOURS - 1}:n", f"{hour - UPTIME_HOURS - 1}:up")
    if result.kind in ("http", "icmp") and result.ok:
        ctx.state.push_capped(latency_key(app.id), f"{result.latency_ms:.1f}", LATENCY_POINTS)
    for change in changes:
        ctx.emit(HEALTH_EVENTS, anomaly_event(app, before, after, change, result, cause))
        logger.info("app anomaly %s", "raised" if change.active else "cleared",
                    extra={"app": app.id, "kind": change.kind, "state": after.state, "reason": change.reason})
    check = next(c for c in app.checks if c.id == result.check_id)
    if check.kind == "push" and result.ok:
        ctx.state.schedule(PUSH_TIMER, f"{app.id}|{check.id}",
                           result.started_at + timedelta(seconds=check.interval * PUSH_GRACE))


def screen_result(app: AppConfig, report: ScreenReport, now: datetime) -> CheckResult | None:
    """A wall screen's report as its push check's result: failed when the page is hidden, or has not drawn for
    three intervals (its main thread stuck); None for a screen that is not configured as one."""
    push = next((c for c in app.checks if c.kind == "push"), None)
    if app.kind != "screen" or push is None:
        return None
    stale = (now - report.rendered_at).total_seconds() > 3 * push.interval
    reason = "hidden" if not report.visible else "not_rendering" if stale else ""
    detail = f"layout {report.layout or '-'}, signed in as {report.by or '-'}, drew at {report.rendered_at.isoformat()}"
    return CheckResult(app_id=app.id, check_id=push.id, kind="push", ok=not reason, started_at=now, reason=reason,
                       detail=detail[:1000])


async def handle(event: Event, ctx: Context) -> None:
    if isinstance(event.data, ScreenReport):
        screen = by_id(HealthSettings.of(ctx.config).apps).get(event.data.screen)
        result = screen_result(screen, event.data, event.time) if screen is not None else None
        if screen is None or result is None:
            logger.warning("a report from a screen that is not configured", extra={"screen": event.data.screen})
            return
        await apply_result(ctx, screen, result, event.id)
        return
    if not isinstance(event.data, CheckResult):
        return
    app = by_id(HealthSettings.of(ctx.config).apps).get(event.data.app_id)
    if app is None or not any(c.id == event.data.check_id for c in app.checks):
        logger.warning("result for an unknown app or check ignored",
                       extra={"app": event.data.app_id, "check": event.data.check_id, "source": event.source})
        return
    await apply_result(ctx, app, event.data, event.id)


async def tick(ctx: Context) -> None:
    """Heartbeat checks: silence past the grace period is a failed check, repeated every interval."""
    now = ctx.now()
    apps = by_id(HealthSettings.of(ctx.config).apps)
    for app in HealthSettings.of(ctx.config).apps:
        for check in app.checks:
            if check.kind == "push":
                ctx.state.schedule_if_absent(PUSH_TIMER, f"{app.id}|{check.id}",
                                             now + timedelta(seconds=check.interval * PUSH_GRACE))
    for member in await ctx.state.claim_due(PUSH_TIMER, now):
        app_id, _, check_id = member.partition("|")
        owner = apps.get(app_id)
        push = next((c for c in owner.checks if c.id == check_id), None) if owner else None
        if owner is None or push is None:
            ctx.state.cancel(PUSH_TIMER, member)
            continue
        silent = CheckResult(app_id=owner.id, check_id=push.id, kind="push", ok=False, started_at=now,
                             reason="no_heartbeat", detail=f"no heartbeat for {push.interval * PUSH_GRACE:g}s")
        await apply_result(ctx, owner, silent, f"silence|{member}|{now.isoformat()}")
        ctx.state.schedule(PUSH_TIMER, member, now + timedelta(seconds=push.interval))


HEALTH = Processor(name="health", view=APPS, inputs=(HEALTH_CHECKS, WALL_SCREENS), outputs=(HEALTH_EVENTS,), handle=handle, tick=tick,
                   tick_every=1.0, state_keys=lambda event, config: (app_key(event.subject),), description="app states with hysteresis, slow, certificate, flapping, uptime; wall screens' reports")
