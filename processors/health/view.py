"""The health read model: what /api/apps and the wall show of each application."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from command_center.config import Config
from command_center.config.base import by_id
from command_center.store import Store
from command_center.views import STAFF, ViewSpec, subjects
from processors.health.config import AppConfig, HealthSettings
from processors.health.decide import AppHealth, in_maintenance
from processors.health.keys import app_key, latency_key, traffic_key, uptime_key
from processors.health.traffic import Traffic

WINDOWS = {"24h": 24, "7d": 7 * 24, "30d": 30 * 24}


def uptime(buckets: dict[str, bytes], now_hour: int) -> dict[str, float | None]:
    """Share of checks during which the app was not down, over each window (None without data)."""
    out: dict[str, float | None] = {}
    for name, hours in WINDOWS.items():
        total = up = 0
        for hour in range(now_hour - hours + 1, now_hour + 1):
            total += int(buckets.get(f"{hour}:n", 0))
            up += int(buckets.get(f"{hour}:up", 0))
        out[name] = round(100 * up / total, 3) if total else None
    return out


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def app_view(store: Store, app: AppConfig, health: AppHealth | None, *, now: float | None = None) -> dict[str, Any]:
    now = now or time.time()
    latencies = [float(v) for v in await store.list_range(latency_key(app.id))]
    health = health or AppHealth(app_id=app.id)
    state = health.state
    if state != "down" and app.maintenance and in_maintenance(app, _utc(now)):
        state = "maintenance"
    return {
        "id": app.id, "name": app.name, "kind": app.kind, "state": state,
        "since": health.since.isoformat() if health.since else None,
        "area": app.area, "agency": app.agency, "reason": health.reason,
        "location": app.location.model_dump() if app.location else None,
        **({"path": [[p.lat, p.long] for p in app.path]} if app.path else {}),
        "flapping": health.flapping,
        "uptime": uptime(await store.hgetall(uptime_key(app.id)), int(now // 3600)),
        "latency_ms": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
                       "recent": latencies[-30:]},
        "checks": [
            {"id": c.id, "kind": c.kind, "up": t.up if t else None, "reason": t.reason if t else "",
             "latency_ms": t.latency_ms if t else None, "cert_days_left": t.cert_days_left if t else None}
            for c in app.checks for t in [health.checks.get(c.id)]
        ],
        **(await _traffic(store, app)),
    }


async def _traffic(store: Store, app: AppConfig) -> dict[str, Any]:
    """A device's interfaces with their bit rates (snmp checks only)."""
    if not any(c.kind == "snmp" for c in app.checks):
        return {}
    known = await store.get(traffic_key(app.id), Traffic)
    return {"interfaces": [msgspec.to_builtins(r) for r in known.rates] if known else [],
            "restarted_at": known.restarted_at if known else None}


def _utc(ts: float):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC)


async def app_views(store: Store, config: Config) -> list[dict[str, Any]]:
    states = await store.get_many([app_key(a.id) for a in HealthSettings.of(config).apps], AppHealth)
    now = time.time()
    return [await app_view(store, app, health, now=now) for app, health in zip(HealthSettings.of(config).apps, states, strict=True)]


async def render(store: Store, config: Config, app_id: str) -> dict[str, Any] | None:
    from processors.health.keys import app_key

    app = by_id(HealthSettings.of(config).apps).get(app_id)
    return None if app is None else await app_view(store, app, await store.get(app_key(app_id), AppHealth))


APPS = ViewSpec(state=lambda view: str(view["state"]), channel="health", roles=STAFF, entities=subjects, render=render,
                catalogue=lambda config: [a.id for a in HealthSettings.of(config).apps])
