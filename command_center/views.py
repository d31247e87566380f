"""Views on the bus: what the wall and the read API show of each entity, published by the processor that owns it.

A feature declares a ViewSpec for its channel: which entities an event concerns, how to render one entity's
view from the store, and whether a view is still active (an open incident) or history (a resolved one).
After a batch's state is written, the runner renders every entity the batch concerned and publishes each
view to the compacted `cc.views` topic, keyed by channel and entity, before it commits: a view is never
older than the store, and replaying the batch publishes it again. The hub keeps the latest view of each
entity from that topic and reads nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from command_center.events import Event

if TYPE_CHECKING:
    from command_center.config import Config
    from command_center.store import Store

View = dict[str, Any]
STAFF = frozenset({"admin", "operator", "oncall"})  # the roles that watch every channel of the wall


@dataclass(frozen=True, kw_only=True)
class ViewSpec:
    """A channel's views: who may see them, which entities an event concerns, how one is rendered."""

    channel: str
    roles: frozenset[str]
    entities: Callable[[Event], Iterable[str]]  # applied to a batch's inputs and outputs
    render: Callable[[Store, Config, str], Awaitable[View | None]]
    active: Callable[[View], bool] = lambda view: True  # inactive views are history: the hub keeps the latest few
    every_s: float = 0.0  # publish an entity's view at most this often (entities that change many times a second)
    # the configured entities (every camera, say): shown, as the store knowing nothing of them renders them,
    # until their first view arrives
    catalogue: Callable[[Config], Iterable[str]] | None = None
    state: Callable[[View], str] | None = None  # the entity's state in a view, for the cc_entity_state gauge
    # many views at once (one round trip for a batch's entities) where a feature can; else `render` each
    render_many: Callable[[Store, Config, list[str]], Awaitable[list[View | None]]] | None = None


async def placeholders(spec: ViewSpec, config: Config) -> dict[str, View]:
    """The views of `spec`'s configured entities as an empty store renders them (state unknown, no frame)."""
    if spec.catalogue is None:
        return {}
    from command_center.store import MEMORY_URL, Store

    empty = Store.open(MEMORY_URL)
    try:
        views = {entity: await spec.render(empty, config, entity) for entity in spec.catalogue(config)}
    finally:
        await empty.close()
    return {entity: view for entity, view in views.items() if view is not None}


class ViewRecord(msgspec.Struct, kw_only=True, frozen=True):
    """One entity's latest view, as it rides `cc.views`."""

    channel: str
    entity: str
    view: View
    active: bool = True
    at: float = 0.0  # when it was rendered (Unix seconds): the newest history is kept


def view_key(channel: str, entity: str) -> bytes:
    return f"{channel}/{entity}".encode()


def subjects(event: Event) -> tuple[str, ...]:
    """The usual answer to `entities`: the event's subject."""
    return (event.subject,)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ViewRecord)


def encode_view(record: ViewRecord) -> bytes:
    return _encoder.encode(record)


def decode_view(raw: bytes) -> ViewRecord:
    """A view record; msgspec.DecodeError (a ValueError) for bytes that are not one."""
    return _decoder.decode(raw)
