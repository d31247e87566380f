"""The bus interface every adapter implements: publish acknowledged batches, consume in groups, commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from command_center.topics import TopicSpec

TopicPartition = tuple[str, int]
OffsetReset = Literal["earliest", "latest"]
Headers = tuple[tuple[str, bytes], ...]
# CloudEvents' Kafka protocol binding: a record in structured mode says so, or a reader takes it for binary mode
STRUCTURED: Headers = (("content-type", b"application/cloudevents+json"),)
PLAIN_JSON: Headers = (("content-type", b"application/json"),)  # a record that is not a CloudEvent (views)


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed message; `offset` is its position in its partition."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class Message:
    """One message to publish; the key chooses the partition."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = STRUCTURED  # every message is a CloudEvent in structured mode unless it says otherwise


class Consumer(Protocol):
    """A member of a consumer group. Offsets move only when the owner commits them."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def poll(self, *, max_records: int, wait: float) -> list[Record]:
        """Up to `max_records` records from the assigned partitions, waiting at most `wait` seconds."""
        ...

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> bool:
        """Commit the next offsets to read; False when the group was rebalanced and the commit was refused."""
        ...

    def assignment(self) -> set[TopicPartition]:
        """The partitions this member owns now."""
        ...

    def lag(self) -> dict[TopicPartition, int]:
        """Records behind the end of each assigned partition, as last seen."""
        ...

    async def read_up_to(self, ends: Mapping[TopicPartition, int]) -> bool:
        """Whether this member has read up to `ends` on every partition it owns (see end_offsets)."""
        ...

    async def end_offsets(self) -> dict[TopicPartition, int]:
        """The offset after the last record of each assigned partition, now."""
        ...

    async def beginning_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The offset of the earliest record still retained in each partition."""
        ...

    async def committed(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """The group's committed offset of each partition (None where it never committed)."""
        ...

    def seek(self, positions: Mapping[TopicPartition, int]) -> None:
        """Read each owned partition from the given offset next (records fetched ahead are dropped)."""
        ...

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        """Fetch nothing from these owned partitions until resumed (they stay owned)."""
        ...

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        ...


class Bus(Protocol):
    """A partitioned log with consumer groups: Kafka in production, in-process for the demo."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ensure_topics(self, specs: Iterable[TopicSpec]) -> None:
        """Create the topics that do not exist yet."""
        ...

    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish and wait until every message is acknowledged; raise Unavailable if it cannot be."""
        ...

    def consumer(
        self, group: str, topics: Sequence[str], *, offset_reset: OffsetReset = "earliest", client_id: str = ""
    ) -> Consumer:
        """A new group member for `topics`; call start() to join."""
        ...

    async def ready(self) -> tuple[bool, str]:
        """Whether the bus answers now, and why not."""
        ...

    async def committed_offsets(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int | None]:
        """The consumer group's committed offset of each partition of `topics` (None where it never committed),
        read without joining the group."""
        ...

    async def group_lag(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """How many records of each partition of `topics` the consumer group has not committed yet (a
        partition it never committed counts from the start); Unavailable when the bus cannot say."""
        ...
