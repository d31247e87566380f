"""How a processor is declared: a plain async function over typed events, a state handle and a clock.

No Kafka or Redis here: the runner hands the function decoded events and a Context, and takes its
outputs, so the same function runs on the embedded bus in a test and on Kafka in production.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from command_center.bus.base import Message
from command_center.clock import Clock
from command_center.events import Event, encode
from command_center.store import StateBatch
from command_center.views import ViewSpec

if TYPE_CHECKING:
    from command_center.config import Config


@dataclass(kw_only=True)
class Context:
    """What a handler may touch: the clock, buffered state, the configuration, and its outputs."""

    processor: str
    clock: Clock
    state: StateBatch
    config: Config
    outputs: list[Message] = field(default_factory=list)
    emitted: list[Event] = field(default_factory=list)
    shown: set[str] = field(default_factory=set)  # entities whose view changed beyond what the events say
    resources: Any = None  # what the processor's `resources` factory opened (an HTTP session, say)
    prepared: Any = None  # what the processor's `prepare` worked out for this event ahead of the batch
    # The event was handled before and its outputs published: state lost since is being derived again from the
    # log. Its outputs are dropped; a handler that acts on the world (posts, sends) must not act again.
    replaying: bool = False

    def now(self) -> datetime:
        return self.clock.now()

    def emit(self, topic: str, event: Event) -> None:
        """Queue an output; it is published (and acked) before state is written and offsets committed."""
        self.outputs.append(Message(topic, event.key, encode(event)))
        self.emitted.append(event)

    def show(self, entity: str) -> None:
        """This entity's view changed too (the first report of a duplicate, say): publish it after the write."""
        self.shown.add(entity)


Handler = Callable[[Event, Context], Awaitable[None]]
Ticker = Callable[[Context], Awaitable[None]]
Preparer = Callable[[Sequence[Event], Context], Awaitable[Mapping[str, Any]]]
Writer = Callable[[Sequence[Event], Context], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Processor:
    """A processor: its consumer group is its name; `tick` runs every `tick_every` seconds for timers."""

    name: str
    inputs: tuple[str, ...]
    handle: Handler
    outputs: tuple[str, ...] = ()
    tick: Ticker | None = None
    tick_every: float = 1.0
    state_keys: Callable[[Event, Config], Iterable[str]] | None = None  # preloaded for a batch in one round trip
    resources: Callable[[Config], AbstractAsyncContextManager[Any]] | None = None  # opened for the runner's life
    # Stateless, costly work for a whole batch at once (decoding frames in a pool, say), by event id; each
    # handler then finds its event's result in ctx.prepared. Handlers still run one by one, in order.
    prepare: Preparer | None = None
    # A sink's write of a whole batch (the archive's rows in SQL), after its handlers and outputs and before its
    # state and the offsets it applied are written: a crash re-reads the batch and writes it again, so it must be
    # idempotent.
    # Unavailable from it is waited out like an outage of the bus or the store.
    write: Writer | None = None
    # its records per batch where not the runner's default: fewer for large inputs (frames), more for a sink
    max_batch: int | None = None
    view: ViewSpec | None = None  # the channel whose views this processor publishes after each state write
    # The inputs whose retained records rebuild this processor's state: where the store holds no applied offset
    # (wiped, never written) their partitions are read again from the earliest retained record, outputs dropped,
    # before anything new is handled. Partitions of other inputs go on from the group's committed offset, their
    # state relearned from what comes (a camera's baseline, a check's hysteresis). A rolled-back store replays
    # every input from the offsets it had applied.
    replay: tuple[str, ...] = ()
    # The store keys its state is made of (Redis glob patterns): what `command-center state rebuild` drops before
    # deriving the state again from the `replay` inputs.
    keys: tuple[str, ...] = ()
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
