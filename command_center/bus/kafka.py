"""The Kafka adapter over aiokafka: acknowledged batches out, consumer groups in, commits after the work.

aiokafka's errors are translated here and nowhere else: a broker that cannot be reached becomes
Unavailable (retry), a commit refused after a rebalance becomes False (the new owner re-reads).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTP
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from command_center.bus.base import Message, OffsetReset, Record, TopicPartition
from command_center.errors import Unavailable
from command_center.topics import TopicSpec

logger = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


class KafkaBus:
    """A Bus on Apache Kafka (or any Kafka-protocol broker)."""

    probe_timeout = 2.0  # seconds a readiness probe waits for the cluster's metadata

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "command-center",
        topic_prefix: str = "",
        replication_factor: int = 1,
        enable_idempotence: bool = False,
        linger_ms: int = 5,
        request_timeout_ms: int = 30_000,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 2_000,
        rebalance_timeout_ms: int = 15_000,
    ) -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.prefix = topic_prefix
        self.replication_factor = replication_factor
        self._producer_options = {
            "acks": "all",
            "enable_idempotence": enable_idempotence,
            "linger_ms": linger_ms,
            "max_batch_size": 256 * 1024,
            "request_timeout_ms": request_timeout_ms,
            "retry_backoff_ms": 250,
        }
        self.group_options = {
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
            "rebalance_timeout_ms": rebalance_timeout_ms,
        }
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._last_error = "not started"

    def name(self, topic: str) -> str:
        return self.prefix + topic

    async def start(self) -> None:
        await self._ensure_producer()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap, client_id=self.client_id, **self._producer_options
                )
                try:
                    await producer.start()
                except KafkaError as err:
                    await producer.stop()
                    self._last_error = f"kafka {self.bootstrap}: {err}"
                    raise Unavailable(self._last_error) from err
                self._producer = producer
                self._last_error = ""
            return self._producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def ready(self) -> tuple[bool, str]:
        """Ask the cluster for metadata; a broker that does not answer in time is not ready."""
        async def probe() -> None:
            producer = await self._ensure_producer()
            await producer.client.fetch_all_metadata()

        try:
            async with asyncio.timeout(self.probe_timeout):
                await probe()
        except TimeoutError:
            return False, f"kafka {self.bootstrap}: no answer within {self.probe_timeout:g}s"
        except (Unavailable, KafkaError) as err:
            return False, f"kafka {self.bootstrap}: {err}"
        return True, f"kafka {self.bootstrap}"

    async def ensure_topics(self, specs: Iterable[TopicSpec]) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-admin")
        try:
            await admin.start()
            new = [
                NewTopic(self.name(s.name), s.partitions, self.replication_factor, topic_configs=s.configs())
                for s in specs
            ]
            response = await admin.create_topics(new)
        except KafkaError as err:
            raise Unavailable(f"kafka {self.bootstrap}: cannot create topics: {err}") from err
        finally:
            await admin.close()
        for topic, code, message in (e[:3] for e in response.topic_errors):
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise Unavailable(f"kafka: creating {topic} failed with error {code}: {message}")

    async def publish(self, messages: Sequence[Message]) -> None:
        producer = await self._ensure_producer()
        try:
            futures = [await producer.send(self.name(m.topic), m.value, key=m.key, headers=list(m.headers) or None)
                       for m in messages]
            await asyncio.gather(*futures)
        except KafkaError as err:
            self._last_error = f"kafka {self.bootstrap}: publish failed: {err!r}"
            raise Unavailable(self._last_error) from err
        self._last_error = ""

    def consumer(
        self, group: str, topics: Sequence[str], *, offset_reset: OffsetReset = "earliest", client_id: str = ""
    ) -> KafkaConsumer:
        return KafkaConsumer(self, group, list(topics), offset_reset, client_id or self.client_id)

    async def _group_offsets(self, group: str, topics: Sequence[str], *, with_ends: bool = False) -> tuple[
            dict[TopicPartition, int | None], dict[TopicPartition, int], dict[TopicPartition, int]]:
        """(committed, beginning, end) offsets of every partition of `topics` for `group`, by a consumer of the group
        that never subscribes: it reads the committed offsets from the coordinator without joining (the group's
        members are not disturbed)."""
        probe = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-offsets", group_id=group,
                                 enable_auto_commit=False)
        try:
            await probe.start()
            await probe.topics()  # fresh metadata
            tps = [KafkaTP(self.name(t), p) for t in topics for p in sorted(probe.partitions_for_topic(self.name(t))
                                                                            or ())]
            ends = await probe.end_offsets(tps) if with_ends else {}
            starts = await probe.beginning_offsets(tps) if with_ends else {}
            committed = {tp: await probe.committed(tp) for tp in tps}
        except KafkaError as err:
            raise Unavailable(f"kafka {self.bootstrap}: offsets of {group}: {err!r}") from err
        finally:
            await probe.stop()

        def ours(tp: KafkaTP) -> TopicPartition:
            return tp.topic[len(self.prefix):], tp.partition

        return ({ours(tp): (c if c is not None and c >= 0 else None) for tp, c in committed.items()},
                {ours(tp): o for tp, o in starts.items()}, {ours(tp): o for tp, o in ends.items()})

    async def committed_offsets(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int | None]:
        return (await self._group_offsets(group, topics))[0]

    async def group_lag(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        committed, starts, ends = await self._group_offsets(group, topics, with_ends=True)
        return {tp: max(0, ends[tp] - (done if done is not None else starts[tp])) for tp, done in committed.items()}


class KafkaConsumer:
    """A consumer-group member with auto-commit off: offsets move when the runtime says the work is done."""

    def __init__(self, bus: KafkaBus, group: str, topics: list[str], offset_reset: OffsetReset, client_id: str):
        self._bus = bus
        self._consumer = AIOKafkaConsumer(
            *(bus.name(t) for t in topics),
            bootstrap_servers=bus.bootstrap,
            group_id=group,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset=offset_reset,
            max_poll_records=2000,
            metadata_max_age_ms=30_000,
            **bus.group_options,
        )
        self._seen: dict[TopicPartition, int] = {}
        self._started = False

    async def start(self) -> None:
        try:
            await self._consumer.start()
        except KafkaError as err:
            raise Unavailable(f"kafka {self._bus.bootstrap}: consumer cannot start: {err}") from err
        self._started = True

    async def stop(self) -> None:
        if self._started:
            await self._consumer.stop()
            self._started = False

    def _topic(self, name: str) -> str:
        return name[len(self._bus.prefix) :]

    async def poll(self, *, max_records: int, wait: float) -> list[Record]:
        try:
            batches = await self._consumer.getmany(timeout_ms=int(wait * 1000), max_records=max_records)
        except KafkaError as err:
            raise Unavailable(f"kafka {self._bus.bootstrap}: fetch failed: {err!r}") from err
        out: list[Record] = []
        for tp, msgs in batches.items():
            topic = self._topic(tp.topic)
            for m in msgs:
                out.append(Record(topic, tp.partition, m.offset, m.key, m.value, m.timestamp, tuple(m.headers or ())))
            if msgs:
                self._seen[(topic, tp.partition)] = msgs[-1].offset + 1
        return out

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> bool:
        native = {KafkaTP(self._bus.name(t), p): off for (t, p), off in offsets.items()}
        try:
            await self._consumer.commit(native)
        except (CommitFailedError, IllegalStateError) as err:
            logger.warning("commit refused after a rebalance; the new owner will re-read: %s", err)
            return False
        except KafkaError as err:
            raise Unavailable(f"kafka {self._bus.bootstrap}: commit failed: {err!r}") from err
        return True

    def assignment(self) -> set[TopicPartition]:
        return {(self._topic(tp.topic), tp.partition) for tp in self._consumer.assignment()}

    async def end_offsets(self) -> dict[TopicPartition, int]:
        try:
            ends = await self._consumer.end_offsets(list(self._consumer.assignment()))
        except KafkaError as err:
            raise Unavailable(f"kafka {self._bus.bootstrap}: end offsets failed: {err!r}") from err
        return {(self._topic(tp.topic), tp.partition): end for tp, end in ends.items()}

    async def beginning_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        tps = [KafkaTP(self._bus.name(t), p) for t, p in partitions]
        try:
            starts = await self._consumer.beginning_offsets(tps) if tps else {}
        except KafkaError as err:
            raise Unavailable(f"kafka {self._bus.bootstrap}: beginning offsets failed: {err!r}") from err
        return {(self._topic(tp.topic), tp.partition): start for tp, start in starts.items()}

    async def committed(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        out: dict[TopicPartition, int | None] = {}
        try:
            for t, p in partitions:
                done = await self._consumer.committed(KafkaTP(self._bus.name(t), p))
                out[(t, p)] = done if done is not None and done >= 0 else None
        except KafkaError as err:
            raise Unavailable(f"kafka {self._bus.bootstrap}: committed offsets failed: {err!r}") from err
        return out

    def seek(self, positions: Mapping[TopicPartition, int]) -> None:
        for (t, p), offset in positions.items():
            self._consumer.seek(KafkaTP(self._bus.name(t), p), offset)
            self._seen[(t, p)] = offset

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        owned = self._consumer.assignment()
        self._consumer.pause(*(tp for tp in (KafkaTP(self._bus.name(t), p) for t, p in partitions) if tp in owned))

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        owned = self._consumer.assignment()
        self._consumer.resume(*(tp for tp in (KafkaTP(self._bus.name(t), p) for t, p in partitions) if tp in owned))

    async def read_up_to(self, ends: Mapping[TopicPartition, int]) -> bool:
        try:
            for tp in self._consumer.assignment():
                end = ends.get((self._topic(tp.topic), tp.partition))
                if end is not None and await self._consumer.position(tp) < end:
                    return False
        except KafkaError as err:
            raise Unavailable(f"kafka {self._bus.bootstrap}: position failed: {err!r}") from err
        return True

    def lag(self) -> dict[TopicPartition, int]:
        out: dict[TopicPartition, int] = {}
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            key = (self._topic(tp.topic), tp.partition)
            if high is not None and key in self._seen:
                out[key] = max(0, high - self._seen[key])
        return out
