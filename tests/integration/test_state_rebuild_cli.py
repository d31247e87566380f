"""`command-center state rebuild PROCESSOR`: refused while the processor runs; afterwards it drops the state and
derives it again from the log, with its progress, and the complaints are all there."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import yaml

from command_center.bus.kafka import KafkaBus
from command_center.clock import SystemClock
from command_center.config import parse_config
from command_center.runtime import ProcessorRunner
from command_center.runtime.host import topic_specs
from command_center.store import Store
from command_center.testing.estates import complaint_estate
from command_center.testing.servers import KafkaBroker, RedisServer
from processors.complaints.processor import COMPLAINTS_PROCESSOR
from processors.complaints.record import ComplaintRecord, record_key
from tests.conftest import FAST_GROUPS
from tests.helpers import eventually


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "command_center", "state", "rebuild", *args, "--config",
                           str(config)], capture_output=True, text=True, timeout=120)


async def test_state_rebuild_waits_for_the_processor_then_derives_every_complaint(
        tmp_path: Path, kafka_broker: KafkaBroker, redis_server: RedisServer) -> None:
    from bench.rebuild import complaints

    prefix = f"r{uuid.uuid4().hex[:8]}."
    raw = {**complaint_estate(), "redis": {"url": redis_server.url},
           "kafka": {"bootstrap": kafka_broker.bootstrap, "topic_prefix": prefix, **FAST_GROUPS}}
    config = parse_config(raw, env={})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    store = Store.open(redis_server.url)
    await store.redis.flushall()
    bus = KafkaBus(kafka_broker.bootstrap, topic_prefix=prefix, **FAST_GROUPS)
    await bus.start()
    await bus.ensure_topics(topic_specs(config))
    messages = complaints(300)
    await bus.publish(messages)
    ids = [m.key.decode() for m in messages[0::2] if m.key]
    runner = ProcessorRunner(COMPLAINTS_PROCESSOR, bus=bus, store=store, config=config, clock=SystemClock(),
                             run_ticks=False)
    try:
        async with runner:
            async def routed() -> bool:
                return all(r is not None and r.agency for r in await store.get_many([record_key(i) for i in ids],
                                                                                       ComplaintRecord))

            await eventually(routed, within=60)
            refused = _cli(path, "complaints", "--wait", "1")
            assert refused.returncode == 1 and "stop its services first" in refused.stderr
        before = {r.id: r for r in await store.get_many([record_key(i) for i in ids], ComplaintRecord) if r}
        await store.redis.set(record_key(ids[0]), b'{"id": "damaged"}')  # state an operator no longer trusts
        done = _cli(path, "complaints", "--wait", "20")
        assert done.returncode == 0, done.stderr
        assert "dropped" in done.stderr and "100.0%" in done.stderr
        replayed = re.search(r"state derived again from ([\d,]+) records", done.stderr)
        # every receipt the stopped processor committed (contacts and its decisions as far as it had read them)
        assert replayed and int(replayed.group(1).replace(",", "")) >= len(ids)
        after = {r.id: r for r in await store.get_many([record_key(i) for i in ids], ComplaintRecord) if r}
        assert after == before, "every complaint as it was, the damaged one too"
    finally:
        await store.close()
        await bus.stop()
