"""The in-process bus: partitions keyed like Kafka's, consumer groups with rebalancing and committed offsets.

It keeps Kafka's delivery semantics so a processor behaves the same on both: order per partition, each
partition owned by one group member, positions that survive a member leaving only through commits, and
replay from the earliest retained record for a new group.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import zlib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from command_center.bus.base import Message, OffsetReset, Record, TopicPartition
from command_center.topics import TopicSpec


@dataclass
class _Partition:
    records: deque[Record] = field(default_factory=deque)
    base: int = 0  # offset of records[0]

    @property
    def end(self) -> int:
        return self.base + len(self.records)


@dataclass
class _Group:
    members: list[EmbeddedConsumer] = field(default_factory=list)
    committed: dict[TopicPartition, int] = field(default_factory=dict)


class EmbeddedBus:
    """A Bus in this process's memory; retention is a bound on records kept per partition."""

    def __init__(self, *, default_partitions: int = 3, max_records_per_partition: int = 100_000) -> None:
        self._default_partitions = default_partitions
        self._max_records = max_records_per_partition
        self._topics: dict[str, list[_Partition]] = {}
        self._groups: dict[str, _Group] = {}
        self._arrived = asyncio.Event()
        self._member_ids = itertools.count(1)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for group in self._groups.values():
            group.members.clear()

    async def ready(self) -> tuple[bool, str]:
        return True, "embedded"

    async def ensure_topics(self, specs: Iterable[TopicSpec]) -> None:
        for spec in specs:
            self._partitions(spec.name, spec.partitions)

    def _partitions(self, topic: str, count: int | None = None) -> list[_Partition]:
        parts = self._topics.get(topic)
        if parts is None:
            parts = self._topics[topic] = [_Partition() for _ in range(count or self._default_partitions)]
            for group in self._groups.values():
                if any(topic in m.topics for m in group.members):
                    self._rebalance(group)
        return parts

    def partition_for(self, topic: str, key: bytes | None) -> int:
        parts = self._partitions(topic)
        if key is None:
            return min(range(len(parts)), key=lambda i: parts[i].end)
        return zlib.crc32(key) % len(parts)

    async def publish(self, messages: Sequence[Message]) -> None:
        now_ms = int(time.time() * 1000)
        for msg in messages:
            index = self.partition_for(msg.topic, msg.key)
            part = self._topics[msg.topic][index]
            part.records.append(Record(msg.topic, index, part.end, msg.key, msg.value, now_ms, msg.headers))
            if len(part.records) > self._max_records:
                part.records.popleft()
                part.base += 1
        if messages:
            self._arrived.set()
            self._arrived = asyncio.Event()

    def consumer(
        self, group: str, topics: Sequence[str], *, offset_reset: OffsetReset = "earliest", client_id: str = ""
    ) -> EmbeddedConsumer:
        return EmbeddedConsumer(self, group, tuple(topics), offset_reset, client_id or f"member-{next(self._member_ids)}")

    # --- group coordination (called by members) -----------------------------------------------------

    def _join(self, member: EmbeddedConsumer) -> None:
        for topic in member.topics:
            self._partitions(topic)
        group = self._groups.setdefault(member.group, _Group())
        group.members.append(member)
        self._rebalance(group)

    def _leave(self, member: EmbeddedConsumer) -> None:
        group = self._groups.get(member.group)
        if group and member in group.members:
            group.members.remove(member)
            self._rebalance(group)

    def _rebalance(self, group: _Group) -> None:
        """Round-robin every subscribed partition over the members; new owners start at the committed offset."""
        wanted = sorted({(t, p) for m in group.members for t in m.topics for p in range(len(self._topics[t]))})
        owners: dict[TopicPartition, EmbeddedConsumer] = {}
        for i, tp in enumerate(wanted):
            subscribed = [m for m in group.members if tp[0] in m.topics]
            owners[tp] = subscribed[i % len(subscribed)]
        for member in group.members:
            mine = {tp for tp, owner in owners.items() if owner is member}
            positions = {tp: member.positions[tp] for tp in mine if tp in member.positions}
            for tp in mine - positions.keys():
                positions[tp] = self._start_offset(group, member, tp)
            member.positions = positions
            member.paused &= set(positions)
        self._arrived.set()
        self._arrived = asyncio.Event()

    def _start_offset(self, group: _Group, member: EmbeddedConsumer, tp: TopicPartition) -> int:
        part = self._topics[tp[0]][tp[1]]
        committed = group.committed.get(tp)
        if committed is None:
            return part.base if member.offset_reset == "earliest" else part.end
        return max(committed, part.base)

    def _fetch(self, member: EmbeddedConsumer, max_records: int) -> list[Record]:
        out: list[Record] = []
        for tp, pos in member.positions.items():
            if tp in member.paused:
                continue
            part = self._topics[tp[0]][tp[1]]
            pos = max(pos, part.base)
            take = min(part.end - pos, max_records - len(out))
            if take > 0:
                start = pos - part.base
                out.extend(itertools.islice(part.records, start, start + take))
                member.positions[tp] = pos + take
            if len(out) >= max_records:
                break
        return out

    def _commit(self, member: EmbeddedConsumer, offsets: Mapping[TopicPartition, int]) -> bool:
        group = self._groups[member.group]
        owned = all(tp in member.positions for tp in offsets)
        if not owned or member not in group.members:
            return False
        group.committed.update(offsets)
        return True

    async def committed_offsets(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int | None]:
        done = self.committed(group)
        return {(t, i): done.get((t, i)) for t in topics for i in range(len(self._partitions(t)))}

    async def group_lag(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        committed = self.committed(group)
        return {(t, i): p.end - committed.get((t, i), p.base) for t in topics
                for i, p in enumerate(self._partitions(t))}

    def committed(self, group: str) -> dict[TopicPartition, int]:
        """The group's committed offsets (for tests and lag reports)."""
        return dict(self._groups.get(group, _Group()).committed)

    def end_offsets(self, topic: str) -> list[int]:
        return [p.end for p in self._partitions(topic)]

    def records(self, topic: str) -> list[Record]:
        """Every retained record of a topic, partition by partition (for tests and the demo's tools)."""
        return [r for p in self._partitions(topic) for r in p.records]


class EmbeddedConsumer:
    """A group member of the embedded bus."""

    def __init__(self, bus: EmbeddedBus, group: str, topics: tuple[str, ...], offset_reset: OffsetReset, name: str):
        self._bus = bus
        self.group = group
        self.topics = topics
        self.offset_reset = offset_reset
        self.name = name
        self.positions: dict[TopicPartition, int] = {}
        self.paused: set[TopicPartition] = set()

    async def start(self) -> None:
        self._bus._join(self)

    async def stop(self) -> None:
        self._bus._leave(self)
        self.positions = {}
        self.paused = set()

    async def poll(self, *, max_records: int, wait: float) -> list[Record]:
        records = self._bus._fetch(self, max_records)
        if records or wait <= 0:
            return records
        arrived = self._bus._arrived
        try:  # asyncio.timeout, not wait_for: 3.11's wait_for loses a cancellation that comes as the event is set
            async with asyncio.timeout(wait):
                await arrived.wait()
        except TimeoutError:
            return []
        return self._bus._fetch(self, max_records)

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> bool:
        return self._bus._commit(self, offsets)

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    def lag(self) -> dict[TopicPartition, int]:
        topics = self._bus._topics
        return {tp: topics[tp[0]][tp[1]].end - pos for tp, pos in self.positions.items()}

    async def end_offsets(self) -> dict[TopicPartition, int]:
        topics = self._bus._topics
        return {tp: topics[tp[0]][tp[1]].end for tp in self.positions}

    async def read_up_to(self, ends: Mapping[TopicPartition, int]) -> bool:
        return all(pos >= ends.get(tp, 0) for tp, pos in self.positions.items())

    async def beginning_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return {(t, p): self._bus._partitions(t)[p].base for t, p in partitions}

    async def committed(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        done = self._bus.committed(self.group)
        return {tp: done.get(tp) for tp in partitions}

    def seek(self, positions: Mapping[TopicPartition, int]) -> None:
        for tp, offset in positions.items():
            if tp in self.positions:
                self.positions[tp] = offset

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        self.paused |= set(partitions) & set(self.positions)

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        self.paused -= set(partitions)
