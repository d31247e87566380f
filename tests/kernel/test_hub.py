"""The hub with real websocket clients: roles and channels enforced, snapshot then ordered events, resume
after a dropped connection with no gap and no duplicate, bad input refused, a stalled client isolated."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from command_center.api.auth import TokenAuth, demo_tokens
from command_center.bus import EmbeddedBus, Message
from command_center.clock import SystemClock
from command_center.config import Config, parse_config
from command_center.hub.core import Hub
from command_center.hub.transports import hub_service
from command_center.runtime.host import Runtime, topic_specs
from command_center.runtime.readiness import Readiness
from command_center.store import MEMORY_URL, Store
from command_center.topics import VIEWS, WALL_SCREENS
from command_center.views import ViewRecord, encode_view, view_key
from processors.composition import APP
from processors.health.keys import app_key
from processors.health.view import APPS as APP_VIEWS
from tests.helpers import bearer, collect

APPS = 20


@pytest.fixture
def config() -> Config:
    return parse_config({
        "hub": {"host": "127.0.0.1", "port": 0, "replay_buffer": 500},
        "apps": [{"id": f"app-{i}", "name": f"App {i}", "checks": [{"id": "web", "kind": "http", "target": "http://x/"}]}
                 for i in range(APPS)],
    }, env={}).model_copy(update={"tokens": demo_tokens()})


@pytest.fixture
async def running(config: Config) -> AsyncIterator[tuple[Runtime, Hub, str]]:
    bus, store = EmbeddedBus(), Store.open(MEMORY_URL)
    rt = Runtime(config=config, bus=bus, store=store, clock=SystemClock(), readiness=Readiness(),
                 tokens=TokenAuth(config.tokens))
    await bus.ensure_topics(topic_specs(config))
    async with hub_service(rt, APP.channels) as hub:
        await asyncio.sleep(0.3)  # the feed joins its group
        yield rt, hub, f"ws://127.0.0.1:{hub.port}/ws"  # type: ignore[attr-defined]


async def change(rt: Runtime, app: int, n: int, state: str = "down") -> None:
    """An app changes state: its state in Redis, then its view, rendered from it, on cc.views (as the runner
    publishes it after the processor's write)."""
    now = datetime.now(UTC)
    await rt.store.set_bytes(app_key(f"app-{app}"), json.dumps(
        {"app_id": f"app-{app}", "state": state, "since": now.isoformat(), "reason": f"change {n}"}).encode())
    view = await APP_VIEWS.render(rt.store, rt.config, f"app-{app}")
    assert view is not None
    record = ViewRecord(channel="health", entity=f"app-{app}", view=view, at=now.timestamp())
    await rt.bus.publish([Message(VIEWS, view_key("health", f"app-{app}"), encode_view(record))])


async def subscribe(url: str, token: str, channels: list[str], **extra: object) -> ClientConnection:
    ws = await connect(url, max_size=None, additional_headers=bearer(token))
    await ws.send(json.dumps({"type": "subscribe", "channels": channels, **extra}))
    return ws


async def receive(ws: ClientConnection, within: float = 5.0) -> dict:  # type: ignore[type-arg]
    return json.loads(await asyncio.wait_for(ws.recv(), within))  # type: ignore[no-any-return]


async def test_handshake_needs_a_valid_token_and_a_role_with_channels(running) -> None:  # type: ignore[no-untyped-def]
    _, _, url = running
    for headers, status in [({}, 401), (bearer("wrong"), 401), (bearer("demo-ingest"), 403)]:
        with pytest.raises(InvalidStatus) as err:
            await connect(url, additional_headers=headers)
        assert err.value.response.status_code == status
    with pytest.raises(InvalidStatus) as err:  # a token in the URL is no credential: none goes in a URL
        await connect(f"{url}?token=demo-operator")
    assert err.value.response.status_code == 401


@pytest.mark.parametrize(("token", "message", "code", "reason"), [
    ("demo-police", {"type": "subscribe", "channels": ["cctv", "complaints"]}, 4403,
     "role police may not subscribe to complaints"),
    ("demo-operator", {"type": "subscribe", "channels": ["weather"]}, 4400, "unknown channels: weather"),
    ("demo-operator", {"type": "hello"}, 4400, "the first message must be a subscribe"),
    ("demo-operator", {"type": "subscribe", "channels": ["health"], "since": -3}, 4400, "since must be"),
    ("demo-operator", "{not json", 4400, "malformed JSON"),
])
async def test_bad_subscriptions_are_closed_with_a_clear_code(running, token, message, code, reason) -> None:  # type: ignore[no-untyped-def]
    _, _, url = running
    ws = await connect(url, additional_headers=bearer(token))
    await ws.send(message if isinstance(message, str) else json.dumps(message))
    with pytest.raises(ConnectionClosed) as err:
        await receive(ws)
    assert err.value.rcvd is not None and err.value.rcvd.code == code and reason in err.value.rcvd.reason


async def test_a_ten_megabyte_message_is_refused(running) -> None:  # type: ignore[no-untyped-def]
    _, _, url = running
    ws = await subscribe(url, "demo-operator", ["health"])
    await receive(ws)
    await ws.send("x" * (10 * 1024 * 1024))
    with pytest.raises(ConnectionClosed) as err:
        await receive(ws)
    assert err.value.rcvd is not None and err.value.rcvd.code == 1009


async def test_police_may_watch_cctv(running) -> None:  # type: ignore[no-untyped-def]
    _, _, url = running
    ws = await subscribe(url, "demo-police", ["cctv"])
    snapshot = await receive(ws)
    assert snapshot["type"] == "snapshot" and set(snapshot["channels"]) == {"cctv"}
    await ws.close()


async def test_snapshot_then_ordered_events(running) -> None:  # type: ignore[no-untyped-def]
    rt, _, url = running
    await change(rt, 0, 0)
    await asyncio.sleep(0.5)
    ws = await subscribe(url, "demo-operator", ["health", "incidents"])
    snapshot = await receive(ws)
    assert snapshot["type"] == "snapshot"
    apps = {a["id"]: a for a in snapshot["channels"]["health"]}
    assert len(apps) == APPS and apps["app-0"]["state"] == "down" and apps["app-1"]["state"] == "unknown"
    for n in range(1, 6):
        await change(rt, n, n)
    events = [await receive(ws) for _ in range(5)]
    assert sorted(e["entity"] for e in events) == [f"app-{n}" for n in range(1, 6)]  # order is per entity
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and seqs[0] > snapshot["seq"] and all(e["channel"] == "health" for e in events)
    assert events[0]["data"]["state"] == "down"
    await ws.close()


async def test_resume_after_a_dropped_connection_without_gap_or_duplicate(running) -> None:  # type: ignore[no-untyped-def]
    rt, hub, url = running
    ws = await subscribe(url, "demo-operator", ["health"])
    snapshot = await receive(ws)
    await change(rt, 1, 1)
    first = await receive(ws)
    await ws.close()
    for n in range(2, 8):
        await change(rt, n, n)
    await asyncio.sleep(0.5)
    ws = await subscribe(url, "demo-operator", ["health"], since=first["seq"], epoch=snapshot["epoch"])
    resumed = await receive(ws)
    assert resumed["type"] == "resume" and resumed["since"] == first["seq"]
    missed = [await receive(ws) for _ in range(6)]
    assert [m["seq"] for m in missed] == list(range(first["seq"] + 1, first["seq"] + 7))
    assert sorted(m["entity"] for m in missed) == [f"app-{n}" for n in range(2, 8)]
    with pytest.raises(TimeoutError):
        await receive(ws, within=0.5)  # and nothing twice
    await ws.close()
    stale = await subscribe(url, "demo-operator", ["health"], since=first["seq"], epoch="another-instance")
    assert (await receive(stale))["type"] == "snapshot"
    await stale.close()


async def test_a_client_that_never_reads_does_not_delay_the_others(running) -> None:  # type: ignore[no-untyped-def]
    rt, hub, url = running
    stalled = await connect(url, max_size=None, max_queue=1, additional_headers=bearer("demo-operator"))
    await stalled.send(json.dumps({"type": "subscribe", "channels": ["health"]}))
    fast = await subscribe(url, "demo-operator", ["health"])
    await receive(fast)
    big = "x" * 20_000  # large views fill the stalled client's socket buffers quickly
    delays: list[float] = []
    for n in range(300):
        sent = time.perf_counter()
        hub.publish("health", f"app-{n % APPS}", {"id": f"app-{n % APPS}", "n": n, "pad": big})
        message = await receive(fast)
        delays.append(time.perf_counter() - sent)
        assert message["data"]["n"] == n
    assert max(delays) < 0.5
    # whatever the stalled client has not taken is coalesced: at most one pending view per entity
    assert all(len(c.pending) <= APPS + 1 for c in hub.clients)
    await fast.close()
    stalled.transport.abort()  # a client that never reads cannot take part in a closing handshake


async def test_a_wall_screen_reports_itself_through_the_hub_and_bad_reports_are_refused(running) -> None:  # type: ignore[no-untyped-def]
    rt, _, url = running
    ws = await subscribe(url, "demo-operator", ["health"])
    assert (await receive(ws))["type"] == "snapshot"
    at = datetime.now(UTC).isoformat()
    for _ in range(3):  # heard at most every two seconds: one report of the three
        await ws.send(json.dumps({"type": "screen", "screen": "wall-3", "layout": "operator", "rendered_at": at,
                                  "visible": True}))
    events = await collect(rt.bus, WALL_SCREENS, group="t-screens", enough=lambda es: len(es) >= 1)
    assert [(e.subject, e.data.layout, e.data.visible, e.data.by) for e in events] == \
        [("wall-3", "operator", True, "demo-operator")]
    for bad, reason in [({"screen": "Wall 3!"}, "screen must be an id"), ({"rendered_at": "yesterday"}, "RFC 3339"),
                        ({"rendered_at": "2026-12-02T10:00:00"}, "with its offset"), ({"visible": "yes"}, "true or false")]:
        sock = await subscribe(url, "demo-operator", ["health"])
        await receive(sock)
        await sock.send(json.dumps({"type": "screen", "screen": "wall-3", "layout": "", "rendered_at": at,
                                    "visible": True, **bad}))
        with pytest.raises(ConnectionClosed) as err:
            await receive(sock)
        assert err.value.rcvd is not None and err.value.rcvd.code == 4400 and reason in err.value.rcvd.reason
    await ws.close()
