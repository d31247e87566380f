"""Runs one processor as a consumer-group member: poll, handle, publish, write state, commit.

The order is the delivery guarantee. Outputs are acked before state is written, state is written before
the views of the entities it concerns are rendered from it and published, and all of that before offsets
are committed, so a crash at any point re-reads the batch and produces the same outputs and views again,
with the same deterministic ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from command_center.bus.base import PLAIN_JSON, Bus, Consumer, Message, Record, TopicPartition
from command_center.clock import Clock
from command_center.config import Config
from command_center.errors import DecodeError, Refused, StateLost, Unavailable
from command_center.events import Event, decode, derive_id, encode, new_event
from command_center.events.types import DeadLetter
from command_center.runtime import metrics
from command_center.runtime.processor import Context, Processor
from command_center.store import StateBatch, Store, applied_key
from command_center.topics import DEADLETTER, VIEWS
from command_center.views import ViewRecord, encode_view, view_key

logger = logging.getLogger(__name__)
T = TypeVar("T")
VERIFY_S = 1.0  # how often an idle member checks that the store still holds the state it applied
PROGRESS_S = 5.0  # how often a rebuild logs its progress
UNREAD_WAIT_S = 10.0  # how long a tick called from outside waits for the last tick's outputs to be read back


class _Abandoned(Exception):
    """Stopping while a dependency is down: leave the batch uncommitted for the next owner."""


class Backoff:
    """Exponential backoff between retries of an unavailable dependency."""

    def __init__(self, first: float = 0.1, most: float = 5.0) -> None:
        self.first, self.most, self.delay = first, most, first

    def reset(self) -> None:
        self.delay = self.first

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, self.most)
        return delay


class ProcessorRunner:
    """An async context manager that owns the processor's loop task and stops it cleanly."""

    def __init__(
        self,
        processor: Processor,
        *,
        bus: Bus,
        store: Store,
        config: Config,
        clock: Clock,
        group: str | None = None,
        max_batch: int = 500,
        poll_timeout: float = 0.5,
        stop_grace: float = 10.0,
        run_ticks: bool = True,
    ) -> None:
        self.processor = processor
        self._turn = asyncio.Lock()  # a batch and a tick never interleave: both read and write the same state
        self.bus = bus
        self.store = store
        self.config = config
        self.clock = clock
        self.group = group or processor.name
        self.max_batch = processor.max_batch or max_batch
        self.poll_timeout = poll_timeout
        self.stop_grace = stop_grace
        self.run_ticks = run_ticks and processor.tick is not None
        self._consumer: Consumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._stop_requested_at = 0.0
        self._problem = "starting"
        self._backoff = Backoff()
        self._handler_seconds = metrics.HANDLER_SECONDS.labels(processor.name)
        self._exits = AsyncExitStack()
        self._resources: object = None
        self._states: dict[str, str] = {}  # entity -> the state its gauge shows
        self._view_shown: dict[str, float] = {}  # entity -> when its view was last published (throttled views)
        self._view_due: dict[str, float] = {}  # entity -> when its held-back view is due
        self.batches = 0
        # How far the store's state has applied each owned partition (None: nothing yet), as this member last
        # wrote or read it; a store that holds anything else has lost state since.
        self._owned: set[TopicPartition] = set()
        self._applied: dict[TopicPartition, int | None] = {}
        self._position: dict[TopicPartition, int] = {}
        self._targets: dict[TopicPartition, int] = {}  # rebuilding: records below this were handled before
        self._rebuilds: dict[TopicPartition, tuple[int, float]] = {}  # rebuilding: (from offset, started)
        self._paused: set[TopicPartition] = set()
        # Partitions of the processor's own outputs that it reads back (the outcomes of what it sent), with the
        # end they had when taken: its timers wait until it has read that far, so a send whose outcome is on the
        # log but not yet read back (past the group's commit) is never made again from a store that lost its mark.
        self._gate: dict[TopicPartition, int] = {}
        # The same for what the last tick emitted onto them: the next tick decides with it applied to the store.
        self._unread: dict[TopicPartition, int] = {}
        self._caught_up = asyncio.Event()  # set while nothing the last tick emitted waits to be read back
        self._caught_up.set()
        self._verified_at = 0.0
        self._progress_at = 0.0
        self._told = True  # the store has been told of this member's partitions and rebuilds as they are now
        self._member = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.rebuilt: list[dict[str, Any]] = []  # each partition derived again: topic, partition, from, to, seconds

    @property
    def name(self) -> str:
        return self.processor.name

    @property
    def rebuilding(self) -> dict[TopicPartition, int]:
        """The partitions being derived again from the log, each with the records left to read."""
        return {tp: max(0, target - self._position.get(tp, self._rebuilds[tp][0]))
                for tp, target in self._targets.items()}

    # --- lifecycle -----------------------------------------------------------------------------------

    async def __aenter__(self) -> ProcessorRunner:
        if self.processor.resources is not None:
            self._resources = await self._exits.enter_async_context(self.processor.resources(self.config))
        self._task = asyncio.create_task(self._run(), name=f"processor:{self.name}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Finish the batch in hand (publish, write, commit), leave the group, and return."""
        self._stopping.set()
        self._stop_requested_at = time.monotonic()
        if self._task is None:
            await self._exits.aclose()
            return
        try:
            async with asyncio.timeout(self.stop_grace + 5):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        except Exception:
            pass  # the crash was logged where it happened
        finally:
            self._task = None
            await self._exits.aclose()

    def assignment(self) -> set[tuple[str, int]]:
        """The partitions this member owns now (empty before it has joined)."""
        return self._consumer.assignment() if self._consumer is not None else set()

    def lag(self) -> int:
        """Records behind the end of the partitions this member owns, as of its last batch."""
        return sum(self._consumer.lag().values()) if self._consumer is not None else 0

    def rebuild_progress(self) -> tuple[int, int]:
        """(records read again, records to read in all) over this member's rebuilds, done and under way."""
        total = sum(r["to"] - r["from"] for r in self.rebuilt) + \
            sum(target - self._rebuilds[tp][0] for tp, target in self._targets.items())
        return total - sum(self.rebuilding.values()), total

    async def ready(self) -> tuple[bool, str]:
        if self._targets and not self._problem:
            left = self.rebuilding
            return False, f"rebuilding its state from the log: {sum(left.values()):,} records to go on " + \
                ", ".join(f"{t}/{p}" for t, p in sorted(left))
        return (not self._problem, self._problem or "consuming")

    # --- the loop ------------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            self._consumer = await self._until_done("join", self._join)
            next_tick = time.monotonic()
            while not self._stopping.is_set():
                wait = self.poll_timeout
                if self.run_ticks:
                    wait = max(0.0, min(wait, next_tick - time.monotonic()))
                try:
                    records = await self._consumer.poll(max_records=self.max_batch, wait=wait)
                except Unavailable as err:
                    await self._wait_out(err)
                    continue
                records = await self._until_done("take partitions", self._ownership, records)
                if records:
                    await self.process(records)
                elif time.monotonic() - self._verified_at > VERIFY_S:
                    await self._until_done("check state", self._verify)
                if self._view_due:
                    await self._publish_views({}, due_only=True)
                if self.run_ticks and not self._targets and time.monotonic() >= next_tick and not self._read_back():
                    next_tick = time.monotonic() + self.processor.tick_every
                    await self._tick_when_whole()
        except _Abandoned:
            logger.warning("stopping with a dependency down; the batch stays uncommitted", extra={"processor": self.name})
        except Exception as err:
            self._problem = f"crashed: {type(err).__name__}: {err}"
            logger.exception("processor crashed; its uncommitted batch will be re-read", extra={"processor": self.name})
            raise
        finally:
            if self._consumer is not None:
                await self._consumer.stop()
            logger.info("processor stopped", extra={"processor": self.name, "batches": self.batches})

    async def _join(self) -> Consumer:
        consumer = self.bus.consumer(self.group, self.processor.inputs, client_id=f"{self.group}")
        await consumer.start()
        logger.info("processor joined its group", extra={"processor": self.name, "topics": self.processor.inputs})
        return consumer

    async def process(self, records: Sequence[Record]) -> None:
        """Handle one polled batch through to its commit (never while a tick runs: both read and write state)."""
        async with self._turn:
            await self._process(records)

    async def _process(self, records: Sequence[Record]) -> None:
        started = time.perf_counter()
        if not await self._until_done("check state", self._verify, records):
            return  # the store lost state: the partitions were sent back to derive it again
        batch = self.store.batch()
        outputs: list[Message] = []
        decoded: list[tuple[Record, Event | DecodeError]] = []
        for record in records:
            try:
                decoded.append((record, decode(record.value, record.headers)))
            except DecodeError as err:
                decoded.append((record, err))
        if self.processor.state_keys is not None:
            keys = [k for _, e in decoded if isinstance(e, Event) for k in self.processor.state_keys(e, self.config)]
            await self._until_done("preload state", batch.preload, keys)
        prepared: Mapping[str, Any] = {}
        if self.processor.prepare is not None:
            events = [e for _, e in decoded if isinstance(e, Event)]
            prepared = await self._until_done("prepare", self.processor.prepare, events, self._context(batch))
        for topic, count in Counter(r.topic for r in records).items():
            metrics.EVENTS_CONSUMED.labels(self.name, topic).inc(count)
        touched: dict[str, bool] = {}
        for record, event in decoded:
            replaying = record.offset < self._targets.get((record.topic, record.partition), -1)
            messages, concerned = await self._handle(record, event, batch, prepared, replaying)
            if replaying:
                continue  # handled before: its outputs and views were published then
            outputs.extend(messages)
            for entity, urgent in concerned.items():
                touched[entity] = touched.get(entity, False) or urgent
        await self._until_done("publish", self.bus.publish, outputs)
        if self.processor.write is not None:  # a sink writes before the offsets that say it has
            events = [e for _, e in decoded if isinstance(e, Event)]
            await self._until_done("write", self.processor.write, events, self._context(batch))
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            offsets[(r.topic, r.partition)] = max(offsets.get((r.topic, r.partition), 0), r.offset + 1)
        guard = {applied_key(self.group, *tp): _offset_bytes(self._applied.get(tp)) for tp in offsets}
        applied = {applied_key(self.group, *tp): str(offset).encode() for tp, offset in offsets.items()}
        try:
            await self._until_done("write state", functools.partial(batch.flush, guard=guard, also=applied))
        except StateLost as err:
            # the batch's outputs are out (and whatever its handlers did): its records count as handled before
            await self._until_done("check state", self._lost, set(offsets), str(err), records, offsets)
            return
        self._applied.update(offsets)
        self._position.update(offsets)
        self._read_back()
        await self._publish_views(touched)
        assert self._consumer is not None
        # a partition being rebuilt keeps its committed offset until it has read past it: a member taking it
        # over meanwhile replays the same records, none of them acted on twice
        commit = {tp: offset for tp, offset in offsets.items() if offset >= self._targets.get(tp, 0)}
        if commit:
            await self._until_done("commit", self._consumer.commit, commit)
        if self._targets:
            await self._until_done("rebuild progress", self._progressed)
        for topic, count in Counter(m.topic for m in outputs).items():
            metrics.EVENTS_PRODUCED.labels(self.name, topic).inc(count)
        for (topic, partition), lag in self._consumer.lag().items():
            metrics.LAG.labels(self.name, topic, str(partition)).set(lag)
        metrics.BATCH_SECONDS.labels(self.name).observe(time.perf_counter() - started)
        self.batches += 1

    def _context(self, state: StateBatch, prepared: object = None, replaying: bool = False) -> Context:
        return Context(processor=self.name, clock=self.clock, state=state, config=self.config,
                       resources=self._resources, prepared=prepared, replaying=replaying)

    async def _handle(self, record: Record, event: Event | DecodeError, batch: StateBatch,
                      prepared: Mapping[str, Any], replaying: bool = False) -> tuple[list[Message], dict[str, bool]]:
        """Outputs of one record and the entities whose views it concerns; a poison record yields its dead
        letter, an outage is waited out."""
        if isinstance(event, DecodeError):
            err = event
            metrics.ERRORS.labels(self.name, "decode").inc()
            logger.warning(
                "undecodable event sent to the dead-letter topic",
                extra={"processor": self.name, "topic": record.topic, "partition": record.partition,
                       "offset": record.offset, "reason": str(err)},
            )
            return [self._dead_letter(record, str(err))], {}
        while True:
            child = batch.child()
            ctx = self._context(child, prepared.get(event.id), replaying)
            started = time.perf_counter()
            try:
                await self.processor.handle(event, ctx)
            except Unavailable as err:
                await self._wait_out(err)
                continue
            except Refused as err:
                metrics.ERRORS.labels(self.name, "refused").inc()
                logger.error("event refused and sent to the dead-letter topic: %s", err,
                             extra={"processor": self.name, "event_id": event.id, "type": event.type,
                                    "subject": event.subject})
                return [self._dead_letter(record, f"refused: {err}")], {}
            except Exception as err:
                metrics.ERRORS.labels(self.name, "handler").inc()
                logger.exception(
                    "handler failed; event sent to the dead-letter topic",
                    extra={"processor": self.name, "event_id": event.id, "type": event.type, "subject": event.subject},
                )
                return [self._dead_letter(record, f"handler: {type(err).__name__}: {err}")], {}
            self._handler_seconds.observe(time.perf_counter() - started)
            batch.merge(child)
            return ctx.outputs, self._concerned(ctx, event)

    def _concerned(self, ctx: Context, event: Event | None = None) -> dict[str, bool]:
        """The entities whose views a handled event (or a tick) may have changed, each True when it is urgent:
        an output or the handler named it (an anomaly, say), which no throttle holds back."""
        spec = self.processor.view
        if spec is None:
            return {}
        # the processor's own output read back (an echo, a changelog) was shown when it was published
        echo = event is None or event.source == f"/processors/{self.name}"
        concerned = {entity: False for entity in (() if echo else spec.entities(event))}  # type: ignore[arg-type]
        for e in ctx.emitted:
            concerned.update(dict.fromkeys(spec.entities(e), True))
        concerned.update(dict.fromkeys(ctx.shown, True))
        return concerned

    async def _publish_views(self, entities: dict[str, bool], *, due_only: bool = False) -> None:
        """Render the views of `entities` from the store (their state is written) and publish them; a routine
        change throttled by `every_s` is held back until its time, then rendered from the state it has then."""
        spec = self.processor.view
        if spec is None:
            return
        now = time.monotonic()
        if spec.every_s:
            for entity, urgent in entities.items():
                due = now if urgent else self._view_shown.get(entity, -spec.every_s) + spec.every_s
                self._view_due[entity] = min(self._view_due.get(entity, due), due)
            entities = {e: True for e, due in self._view_due.items() if due <= now}
            for entity in entities:
                del self._view_due[entity]
                self._view_shown[entity] = now
        elif due_only:
            return
        if not entities:
            return
        ordered = sorted(entities)
        views = await self._until_done("render views", self._render_all, ordered)
        at = self.clock.now().timestamp()
        messages = [Message(VIEWS, view_key(spec.channel, entity), encode_view(ViewRecord(
            channel=spec.channel, entity=entity, view=view, active=spec.active(view), at=at)), PLAIN_JSON)
            for entity, view in zip(ordered, views, strict=True) if view is not None]
        await self._until_done("publish views", self.bus.publish, messages)
        metrics.EVENTS_PRODUCED.labels(self.name, VIEWS).inc(len(messages))
        if spec.state is not None:
            for entity, view in zip(ordered, views, strict=True):
                if view is not None:
                    self._gauge_state(spec.channel, entity, spec.state(view))

    def _gauge_state(self, channel: str, entity: str, state: str) -> None:
        before = self._states.get(entity)
        if before == state:
            return
        if before is not None:
            metrics.ENTITY_STATE.remove(channel, entity, before)
        metrics.ENTITY_STATE.labels(channel, entity, state).set(1)
        self._states[entity] = state

    async def _render_all(self, entities: list[str]) -> list[Any]:
        spec = self.processor.view
        assert spec is not None
        if spec.render_many is not None:
            try:
                return await spec.render_many(self.store, self.config, entities)
            except Unavailable:
                raise
            except Exception:
                logger.exception("views failed to render together; one at a time", extra={"processor": self.name})

        async def one(entity: str) -> Any:
            try:
                return await spec.render(self.store, self.config, entity)
            except Unavailable:
                raise
            except Exception:
                logger.exception("view failed to render", extra={"processor": self.name, "entity": entity})
                return None

        return await asyncio.gather(*(one(e) for e in entities))

    async def tick(self) -> None:
        """Run the processor's timer function once, then publish and write what it decided. Called from outside
        (a runner with run_ticks=False, polling on its own), it first waits up to UNREAD_WAIT_S for the member to
        read back what the last tick emitted."""
        if self._read_back():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(UNREAD_WAIT_S):
                    await self._caught_up.wait()
        await self._tick_when_whole()

    def _read_back(self) -> bool:
        """Whether the member has yet to read back what the last tick emitted onto its own inputs."""
        self._unread = self._still_unread(self._unread)
        if self._unread:
            self._caught_up.clear()
        else:
            self._caught_up.set()
        return bool(self._unread)

    def _still_unread(self, ends: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        """The partitions of `ends` this member owns and has not yet read to their end."""
        return {tp: end for tp, end in ends.items() if tp in self._owned and self._position.get(tp, 0) < end}

    async def _tick_when_whole(self) -> None:
        if self.processor.tick is None or self._targets:
            return  # while state is derived again, no timer fires from half of it
        self._gate = self._still_unread(self._gate)
        if self._gate:
            return
        async with self._turn:
            # a timer decides from the store as it is: one that lost what this member applied fires nothing
            if await self._until_done("check state", self._verify):
                await self._tick()

    async def _tick(self) -> None:
        assert self.processor.tick is not None
        ctx = self._context(self.store.batch())
        failed: Unavailable | Exception | None = None
        try:
            await self.processor.tick(ctx)
        except Unavailable as err:
            failed = err
        except Exception as err:
            failed = err
            metrics.ERRORS.labels(self.name, "tick").inc()
            logger.exception("tick failed", extra={"processor": self.name})
        # what a tick emitted before failing is out in the world (a page, an SMS delivered): it is published even
        # so, or a store derived again from the log would not know it was done, and it would be done twice
        await self._until_done("publish", self.bus.publish, ctx.outputs)
        # the next tick decides with what this one emitted onto the processor's own inputs applied to the store
        # (a store that lost the tick's marks meanwhile holds them again by then, from the log)
        self._unread.update(await self._until_done("end offsets", self._unread_ends, self._owned, self._position,
                                                   {m.topic for m in ctx.outputs}))
        self._read_back()
        if isinstance(failed, Unavailable):
            await self._wait_out(failed)
        if failed is not None:
            return
        await self._until_done("write state", ctx.state.flush)
        await self._publish_views(self._concerned(ctx))
        for message in ctx.outputs:
            metrics.EVENTS_PRODUCED.labels(self.name, message.topic).inc()

    def _dead_letter(self, record: Record, reason: str) -> Message:
        event = new_event(
            "id.go.cc.deadletter",
            id=derive_id("deadletter", self.group, record.topic, record.partition, record.offset),
            source=f"/processors/{self.name}",
            subject=f"{record.topic}/{record.partition}/{record.offset}",
            time=self.clock.now(),
            data=DeadLetter(
                topic=record.topic, partition=record.partition, offset=record.offset, consumer=self.group,
                reason=reason[:4000], original=record.value,
                key=(record.key or b"").decode("utf-8", "replace"),
            ),
        )

        return Message(DEADLETTER, event.key, encode(event))

    # --- state from the log ---------------------------------------------------------------------------

    async def _ownership(self, records: list[Record]) -> list[Record]:
        """Take partitions newly assigned (from where the store's state says, see _take) and forget revoked
        ones; records already fetched from a partition just taken are dropped (it was sent where it must start)."""
        assert self._consumer is not None
        owned = self._consumer.assignment()
        for tp in self._owned - owned:
            self._forget(tp)
        new = owned - self._owned
        if new:
            await self._take(new)
            records = [r for r in records if (r.topic, r.partition) not in new]
        self._owned = owned
        if not self._told:
            await self._progressed()
        return records

    def _forget(self, tp: TopicPartition) -> None:
        for table in (self._applied, self._position, self._targets, self._rebuilds, self._gate, self._unread):
            table.pop(tp, None)  # type: ignore[attr-defined]
        self._paused.discard(tp)

    async def _take(self, tps: set[TopicPartition]) -> None:
        """Start each partition where the store's state has applied it. Records the group committed beyond that
        were handled before (outputs published, people told): they are read again to derive the state, with their
        outputs dropped, and nothing new is handled until they are. A store with no applied offset for a partition
        of a `replay` input derives it from the earliest retained record; another input goes on from its commit."""
        assert self._consumer is not None
        applied = await self.store.applied(self.group, tps)
        committed = await self._consumer.committed(tps)
        earliest = await self._consumer.beginning_offsets(tps)
        seeks: dict[TopicPartition, int] = {}
        for tp in sorted(tps):
            state, done, first = applied[tp], committed.get(tp), earliest.get(tp, 0)
            if state is None and tp[0] not in self.processor.replay:
                start = done if done is not None else first
                if done is not None and done > first:
                    logger.info("no applied state for a partition: going on from the committed offset, its state "
                                "relearned from what comes", extra={"processor": self.name, "topic": tp[0],
                                                                   "partition": tp[1], "offset": start})
            else:
                start = first if state is None else state
                if start < first:
                    logger.warning("the log no longer holds records the state had not applied; derived from the "
                                   "earliest retained", extra={"processor": self.name, "topic": tp[0],
                                                              "partition": tp[1], "applied": state, "earliest": first})
                    start = first
                if done is not None and done > start:
                    self._targets[tp] = done
                    self._rebuilds[tp] = (start, time.monotonic())
                    metrics.REBUILDS.labels(self.name, tp[0]).inc()
                    logger.warning("deriving state again from the log", extra={
                        "processor": self.name, "topic": tp[0], "partition": tp[1], "from": start, "to": done,
                        "records": done - start,
                        "why": "the store holds no applied offset" if state is None else
                        f"the store applied up to {state}, the group committed {done}"})
            self._told = False
            seeks[tp] = start
            self._applied[tp] = state
            self._position[tp] = start
        self._consumer.seek(seeks)
        self._arrange()
        await self._hold_timers(tps, seeks)

    async def _hold_timers(self, tps: set[TopicPartition], positions: Mapping[TopicPartition, int]) -> None:
        """Timers wait until the partitions of the processor's own outputs among `tps` are read to their end."""
        self._gate.update(await self._unread_ends(tps, positions, set(self.processor.outputs)))

    async def _unread_ends(self, tps: set[TopicPartition], positions: Mapping[TopicPartition, int],
                           topics: set[str]) -> dict[TopicPartition, int]:
        """The end of each partition among `tps` of the processor's inputs in `topics` not yet read to it."""
        own = set(self.processor.inputs) & topics
        if not own & {t for t, _ in tps}:
            return {}
        assert self._consumer is not None
        ends = await self._consumer.end_offsets()
        return {tp: ends[tp] for tp in tps if tp[0] in own and tp in ends and ends[tp] > positions.get(tp, 0)}

    def _arrange(self) -> None:
        """While any owned partition is being rebuilt, the others wait (nothing new is decided on half a state)."""
        assert self._consumer is not None
        hold = (self._consumer.assignment() - set(self._targets)) if self._targets else set()
        if hold - self._paused:
            self._consumer.pause(hold - self._paused)
        if self._paused - hold:
            self._consumer.resume(self._paused - hold)
        self._paused = hold

    async def _verify(self, batch: Sequence[Record] = ()) -> bool:
        """Whether the store still holds what this member applied; if not, its partitions go back (see _lost) and
        the `batch` in hand is dropped. Says, at most every second, that this member runs."""
        if time.monotonic() - self._verified_at > VERIFY_S:
            await self.store.alive(self.group, self._member, now=time.time())
        self._verified_at = time.monotonic()
        if not self._owned:
            return True
        found = await self.store.applied(self.group, self._owned)
        lost = {tp for tp, offset in found.items() if offset != self._applied.get(tp)}
        if lost:
            await self._lost(lost, "; ".join(f"{t}/{p} applied {found[(t, p)]}, expected {self._applied.get((t, p))}"
                                             for t, p in sorted(lost)), batch)
        return not lost

    async def _lost(self, tps: set[TopicPartition], why: str, batch: Sequence[Record] = (),
                    handled: Mapping[TopicPartition, int] | None = None) -> None:
        """Send the partitions whose state the store lost back to derive it again; the other partitions of the
        dropped `batch` go back to its first records (they are read again, not skipped). `handled`: the batch was
        handled and its outputs published, up to these offsets: read again, it is replayed (nothing acted on
        twice)."""
        logger.error("the store lost state this processor had applied (wiped, or an older copy): deriving it "
                     "again from the log", extra={"processor": self.name, "detail": why})
        found = await self.store.applied(self.group, self._owned)
        taken = {tp for tp in self._owned if tp in tps or found[tp] != self._applied.get(tp)}
        await self._take(taken)
        # marks the store lost may be on the log past what was read of it, on any partition
        await self._hold_timers(self._owned - taken, self._position)
        again: dict[TopicPartition, int] = {}
        for r in batch:
            tp = (r.topic, r.partition)
            if tp not in taken and tp in self._owned:
                again[tp] = min(again.get(tp, r.offset), r.offset)
        if again:
            assert self._consumer is not None
            self._consumer.seek(again)
            self._position.update(again)
        for tp, end in (handled or {}).items():
            if tp in self._owned and end > self._targets.get(tp, 0) and end > self._position.get(tp, end):
                self._targets[tp] = end
                self._rebuilds.setdefault(tp, (self._position[tp], time.monotonic()))
        if handled:
            self._arrange()
        await self._progressed()

    async def _progressed(self) -> None:
        """Partitions that have read past their rebuild's end are done; the progress is told to the store (for
        reads and /readyz), the logs and the metrics."""
        now = time.monotonic()
        done = [tp for tp, target in self._targets.items() if self._position.get(tp, 0) >= target]
        for tp in done:
            start, began = self._rebuilds.pop(tp)
            target = self._targets.pop(tp)
            seconds = now - began
            self.rebuilt.append({"topic": tp[0], "partition": tp[1], "from": start, "to": target, "seconds": seconds})
            logger.warning("state derived again from the log", extra={
                "processor": self.name, "topic": tp[0], "partition": tp[1], "from": start, "to": target,
                "records": target - start, "seconds": round(seconds, 3),
                "per_second": round((target - start) / seconds) if seconds > 0 else None})
        left = self.rebuilding
        metrics.REBUILD_LEFT.labels(self.name).set(sum(left.values()))
        if left and now - self._progress_at > PROGRESS_S:
            self._progress_at = now
            logger.info("rebuilding state", extra={"processor": self.name, "records_left": sum(left.values())})
        await self.store.rebuild_progress(self.name, {
            f"{t}/{p}": {"from": self._rebuilds[(t, p)][0], "position": self._position.get((t, p), 0),
                         "target": self._targets[(t, p)]} for t, p in self._targets},
            done=[f"{t}/{p}" for t, p in done], whole=[] if self._targets else [f"{t}/{p}" for t, p in self._owned])
        if done:
            self._arrange()
        self._told = True

    # --- outages -------------------------------------------------------------------------------------

    async def _until_done(self, what: str, fn: Callable[..., Awaitable[T]], *args: object) -> T:
        """Retry `fn` through an outage; give up only when stopping has outlasted the grace period."""
        while True:
            try:
                result = await fn(*args)
            except Unavailable as err:
                await self._wait_out(err, what)
                continue
            if self._problem:
                logger.info("processor is working again", extra={"processor": self.name})
            self._problem = ""
            self._backoff.reset()
            return result

    async def _wait_out(self, err: Unavailable, what: str = "handle") -> None:
        if not self._problem or self._problem == "starting":
            logger.warning("dependency unavailable, retrying", extra={"processor": self.name, "step": what, "error": str(err)})
        self._problem = f"{what}: {err}"
        metrics.ERRORS.labels(self.name, "unavailable").inc()
        if self._stopping.is_set() and time.monotonic() - self._stop_requested_at > self.stop_grace:
            raise _Abandoned()
        try:
            async with asyncio.timeout(self._backoff.next()):
                await self._stopping.wait()
        except TimeoutError:
            pass
        if self._stopping.is_set() and time.monotonic() - self._stop_requested_at > self.stop_grace:
            raise _Abandoned()


def _offset_bytes(offset: int | None) -> bytes | None:
    return None if offset is None else str(offset).encode()
