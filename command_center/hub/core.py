"""The hub's protocol core, with no transport: subscriptions, snapshots, resume, and slow-client isolation.

Messages (DESIGN.md, contract): the client sends {"type": "subscribe", "channels": [...], "since": SEQ?,
"epoch": E?}; the hub answers with a `snapshot` (or a `resume` when it still holds everything after SEQ),
then `event` messages, each with its channel and a seq that increases across the hub instance. `epoch`
names the instance: a seq from another instance (behind a load balancer) is answered with a snapshot. A wall
screen may then report itself, `{"type": "screen", "screen", "layout", "rendered_at", "visible"}`, heard at
most every two seconds and handed to `on_screen` (the transports publish it on cc.wall.screens).

The hub's state is the latest view of each entity, as the processors published it on `cc.views` (see
command_center/views.py): every active one, up to `hub.max_views` a channel, and the newest
`hub.history_views` inactive ones. Snapshots are served from it; nothing is read from Redis.

Every event is a view of one entity, so a client that falls behind is sent only the latest view of each
entity it is missing (coalescing); one that stays behind longer than `max_lag_s` is disconnected. No send to
one client ever waits on another: a view goes straight onto the socket of a client that keeps up (as
websockets.broadcast writes, without awaiting), and into the pending map of one that does not, which its
own relay task drains.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import Counter, Gauge

from command_center.api.auth import Principal
from command_center.config import Config
from command_center.events.types import ScreenReport
from command_center.views import ViewRecord, ViewSpec, placeholders

logger = logging.getLogger(__name__)

CLIENTS = Gauge("cc_hub_clients", "Connected websocket clients")
SENT = Counter("cc_hub_messages_sent_total", "Messages sent to clients")
COALESCED = Counter("cc_hub_messages_coalesced_total", "Updates replaced by a newer view before being sent")
DROPPED_CLIENTS = Counter("cc_hub_slow_clients_closed_total", "Clients closed for staying behind")

CLOSE_BAD_MESSAGE = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
SUBSCRIBE_WITHIN_S = 30
SEND_WITHIN_S = 5.0  # a client whose socket takes nothing for this long is not reading: cut it


class Disconnected(Exception):
    """The client went away."""


class Connection(Protocol):
    async def send(self, text: str) -> None: ...

    def try_send(self, text: str) -> bool:
        """Write now, without waiting, if the socket is keeping up; False to leave it to the relay."""
        ...

    async def recv(self) -> str: ...

    async def close(self, code: int, reason: str) -> None: ...


class Refusal(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class Client:
    """One connection's pending updates, keyed by (channel, entity), sent in seq order by its relay task."""

    def __init__(self, conn: Connection, who: Principal, *, max_pending: int, max_lag_s: float) -> None:
        self.conn, self.who = conn, who
        self.name, self.role = who.name, who.role
        self.channels: set[str] = set()
        self.max_pending, self.max_lag_s = max_pending, max_lag_s
        self.pending: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()
        self.wake = asyncio.Event()
        self.too_slow = False
        self.reported = -MIN_REPORT_S  # when its screen last reported itself (monotonic)

    def offer(self, key: tuple[str, str], text: str) -> None:
        """Send a view now if this client keeps up (as websockets.broadcast does), else queue it without waiting;
        an older unsent view of the same entity is replaced."""
        if not self.pending and not self.too_slow and self.conn.try_send(text):
            SENT.inc()
            return
        enqueued = time.monotonic()
        old = self.pending.pop(key, None)
        if old is not None:
            enqueued = old[1]
            COALESCED.inc()
        self.pending[key] = (text, enqueued)
        if len(self.pending) > self.max_pending:
            self.too_slow = True
        self.wake.set()

    def lag(self) -> float:
        if not self.pending:
            return 0.0
        return time.monotonic() - next(iter(self.pending.values()))[1]

    async def relay(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                if self.too_slow or self.lag() > self.max_lag_s:
                    DROPPED_CLIENTS.inc()
                    raise Refusal(CLOSE_TOO_SLOW, "too far behind; reconnect with since to resume")
                _, (text, _) = self.pending.popitem(last=False)
                try:
                    async with asyncio.timeout(SEND_WITHIN_S):  # bounded: a socket that takes nothing is cut
                        await self.conn.send(text)
                except TimeoutError as err:
                    DROPPED_CLIENTS.inc()
                    raise Refusal(CLOSE_TOO_SLOW, "not reading; reconnect with since to resume") from err
                SENT.inc()


class Shelf:
    """One channel's latest views: active ones (the oldest go first past the limit) and a little history."""

    def __init__(self, max_active: int, max_history: int) -> None:
        # entity -> (view, whether it came from cc.views rather than the configuration's placeholder)
        self.active: OrderedDict[str, tuple[dict[str, Any], bool]] = OrderedDict()
        self.history: OrderedDict[str, tuple[dict[str, Any], bool]] = OrderedDict()
        self.max_active, self.max_history = max_active, max_history

    def put(self, record: ViewRecord) -> bool:
        """Keep the view; False when it is the one already held."""
        held = self.active.get(record.entity) or self.history.get(record.entity)
        if held is not None and held[1] and held[0] == record.view:
            return False
        shelf, most = (self.active, self.max_active) if record.active else (self.history, self.max_history)
        (self.history if record.active else self.active).pop(record.entity, None)
        shelf[record.entity] = (record.view, True)  # an entity already on the shelf keeps its place
        while len(shelf) > most:
            shelf.popitem(last=False)
        return True

    def views(self) -> list[dict[str, Any]]:
        """Active views in the order they first came (configured entities in configuration order), then the
        history, newest first."""
        return [v for v, _ in self.active.values()] + [v for v, _ in reversed(self.history.values())]


class Hub:
    """Holds the latest views, the connected clients and a bounded replay buffer; the feed calls update()."""

    def __init__(self, config: Config, channels: Mapping[str, ViewSpec], *, max_lag_s: float = 30.0) -> None:
        self.config = config
        self.channels = dict(channels)
        self.epoch = uuid.uuid4().hex[:12]
        self.seq = 0
        self.buffer: deque[tuple[int, str, str, str, dict[str, Any]]] = deque(maxlen=config.hub.replay_buffer)
        self.clients: set[Client] = set()
        self.max_lag_s = max_lag_s
        self.shelves = {name: Shelf(config.hub.max_views, config.hub.history_views) for name in channels}
        self.on_screen: Callable[[ScreenReport], None] | None = None  # where wall screens' reports go

    async def prepare(self) -> None:
        """Show every configured entity (each camera, app, sensor) until its first view arrives."""
        for name, spec in self.channels.items():
            for entity, view in (await placeholders(spec, self.config)).items():
                self.shelves[name].active.setdefault(entity, (view, False))

    def allowed(self, role: str) -> set[str]:
        """The channels a role may subscribe to; a viewer watches what an operator does, acting on nothing."""
        seen_as = "operator" if role == "viewer" else role
        return {name for name, spec in self.channels.items() if role == "admin" or seen_as in spec.roles}

    def update(self, record: ViewRecord) -> None:
        """The latest view of an entity: keep it and, if it changed, offer it to the channel's clients."""
        shelf = self.shelves.get(record.channel)
        if shelf is not None and shelf.put(record):
            self.publish(record.channel, record.entity, record.view)

    def publish(self, channel: str, entity: str, view: dict[str, Any]) -> None:
        self.seq += 1
        text = json.dumps({"type": "event", "channel": channel, "seq": self.seq, "epoch": self.epoch,
                           "entity": entity, "data": view}, separators=(",", ":"), default=str)
        self.buffer.append((self.seq, channel, entity, text, view))
        for client in self.clients:
            if channel in client.channels and (not client.who.scoped or client.who.sees_view(view)):
                client.offer((channel, entity), text)

    async def shutdown(self) -> None:
        """Close every client at once (each bounded: a client that reads nothing is aborted)."""
        await asyncio.gather(*(c.conn.close(1001, "the hub is shutting down") for c in list(self.clients)),
                             return_exceptions=True)

    # --- one connection ------------------------------------------------------------------------------

    async def serve(self, conn: Connection, who: Principal) -> None:
        """Run one client's session until it leaves or is refused; close with a clear code and reason. A scoped
        principal (areas, agencies) is sent only the views of entities in its scope."""
        name, role = who.name, who.role
        client = Client(conn, who, max_pending=self.config.hub.client_queue * 20, max_lag_s=self.max_lag_s)
        CLIENTS.inc()
        try:
            request = await self._subscribe_request(conn, role)
            await self._start(client, request)
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(client.relay())
                tasks.create_task(self._read(client))
        except* Refusal as group:
            refusal = group.exceptions[0]
            assert isinstance(refusal, Refusal)
            logger.info("hub client refused", extra={"client": name, "role": role, "code": refusal.code,
                                                     "reason": refusal.reason})
            await conn.close(refusal.code, refusal.reason)
        except* Disconnected:
            pass
        finally:
            self.clients.discard(client)
            CLIENTS.dec()

    async def _subscribe_request(self, conn: Connection, role: str) -> dict[str, Any]:
        try:
            async with asyncio.timeout(SUBSCRIBE_WITHIN_S):
                raw = await conn.recv()
        except TimeoutError as err:
            raise Refusal(CLOSE_BAD_MESSAGE, "send a subscribe message first") from err
        message = _parse(raw)
        if message.get("type") != "subscribe":
            raise Refusal(CLOSE_BAD_MESSAGE, "the first message must be a subscribe")
        channels = message.get("channels")
        if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
            raise Refusal(CLOSE_BAD_MESSAGE, "channels must be a non-empty list of names")
        unknown = sorted(set(channels) - self.channels.keys())
        if unknown:
            raise Refusal(CLOSE_BAD_MESSAGE, f"unknown channels: {', '.join(unknown)}")
        forbidden = sorted(set(channels) - self.allowed(role))
        if forbidden:
            raise Refusal(CLOSE_FORBIDDEN, f"role {role} may not subscribe to {', '.join(forbidden)}")
        since = message.get("since")
        if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
            raise Refusal(CLOSE_BAD_MESSAGE, "since must be a non-negative whole number")
        return message

    async def _start(self, client: Client, request: dict[str, Any]) -> None:
        """Register first, so nothing published meanwhile is missed; then a resume or a snapshot."""
        client.channels = set(request["channels"])
        since: int | None = request.get("since")
        epoch = request.get("epoch")
        oldest = self.buffer[0][0] if self.buffer else self.seq + 1
        self.clients.add(client)
        if since is not None and epoch == self.epoch and oldest - 1 <= since <= self.seq:
            await client.conn.send(json.dumps({"type": "resume", "since": since, "seq": self.seq, "epoch": self.epoch}))
            for seq, channel, entity, text, view in self.buffer:
                if seq > since and channel in client.channels and client.who.sees_view(view):
                    client.offer((channel, entity), text)
            return
        head = self.seq
        views = {name: [v for v in self.shelves[name].views() if client.who.sees_view(v)]
                 for name in sorted(client.channels)}
        await client.conn.send(json.dumps({"type": "snapshot", "seq": head, "epoch": self.epoch, "channels": views},
                                          separators=(",", ":"), default=str))
        SENT.inc()

    async def _read(self, client: Client) -> None:
        while True:
            message = _parse(await client.conn.recv())
            if message.get("type") == "ping":
                client.offer(("", "pong"), json.dumps({"type": "pong", "seq": self.seq}))
            elif message.get("type") == "screen":
                report = screen_report(message, client.who)
                now = time.monotonic()
                if self.on_screen is not None and now - client.reported >= MIN_REPORT_S:
                    client.reported = now
                    self.on_screen(report)
            else:
                raise Refusal(CLOSE_BAD_MESSAGE, f"unexpected message type {message.get('type')!r}")


SCREEN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MIN_REPORT_S = 2.0  # a screen reporting more often than this is not heard more often


def screen_report(message: dict[str, Any], who: Principal) -> ScreenReport:
    """`{"type": "screen", "screen": ID, "layout": ..., "rendered_at": RFC 3339, "visible": bool}`, checked."""
    screen, layout, rendered, visible = (message.get(k) for k in ("screen", "layout", "rendered_at", "visible"))
    if not isinstance(screen, str) or not SCREEN_ID.match(screen):
        raise Refusal(CLOSE_BAD_MESSAGE, "screen must be an id: lowercase letters, digits and dashes")
    if not isinstance(layout, str) or len(layout) > 40:
        raise Refusal(CLOSE_BAD_MESSAGE, "layout must be a string of at most 40 characters")
    if not isinstance(visible, bool):
        raise Refusal(CLOSE_BAD_MESSAGE, "visible must be true or false")
    try:
        at = datetime.fromisoformat(rendered) if isinstance(rendered, str) and len(rendered) <= 40 else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise Refusal(CLOSE_BAD_MESSAGE, "rendered_at must be an RFC 3339 time with its offset")
    return ScreenReport(screen=screen, layout=layout, rendered_at=at, visible=visible, by=who.name)


def _parse(raw: str | bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise Refusal(CLOSE_BAD_MESSAGE, f"malformed JSON: {str(err)[:80]}") from err
    if not isinstance(message, dict):
        raise Refusal(CLOSE_BAD_MESSAGE, "a message must be a JSON object")
    return message
