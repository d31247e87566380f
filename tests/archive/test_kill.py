"""The archive over tansu, Redis and PostgreSQL, as deployed: 10,000 complaints with their whole lifecycle, the
archive processor (`command-center run archive`, its own process) killed with SIGKILL twice mid-run and
started again: every complaint's history is in PostgreSQL exactly once and equal to what the API shows. Then
`command-center archive rebuild` replays the topics from the first offset into an empty database, which ends
with the same rows as the live archive."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import func, select

from command_center.api.app import build_app
from command_center.bus.kafka import KafkaBus
from command_center.clock import SystemClock
from command_center.config import parse_config
from command_center.runtime import ProcessorRunner
from command_center.runtime.host import open_runtime, topic_specs
from command_center.runtime.http import HttpServer
from command_center.sql import open_engine
from command_center.store import Store, timer_key
from command_center.testing.estates import complaint_estate
from command_center.testing.servers import KafkaBroker, PostgresServer, RedisServer
from processors.archive import schema
from processors.complaints import COMPLAINTS_PROCESSOR
from processors.complaints.events import COMPLAINT_CONTACTS, COMPLAINTS
from processors.composition import API_ROUTES
from tests.archive.lifecycle import archived, differences, lifecycles, rows_of
from tests.conftest import FAST_GROUPS
from tests.helpers import T0, eventually, publish

N = 10_000
pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "command_center", *args, "--config", str(config)]


async def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`command-center ARGS --config FILE`, run to its end."""
    return await asyncio.to_thread(subprocess.run, command(config, *args), capture_output=True, text=True,
                                   timeout=600)


async def test_killed_twice_the_archive_holds_every_complaint_once_and_a_rebuild_agrees(
        kafka_broker: KafkaBroker, redis_server: RedisServer, postgres_server: PostgresServer,
        tmp_path: Path) -> None:
    prefix = f"k{uuid.uuid4().hex[:8]}."
    url = await postgres_server.new_database()
    raw = complaint_estate()
    raw.update(kafka={"bootstrap": kafka_broker.bootstrap, "topic_prefix": prefix, **FAST_GROUPS},
               redis={"url": redis_server.url}, archive={"url": url}, ops={"host": "127.0.0.1", "port": 0})
    path = tmp_path / "archive.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = parse_config(raw, env={})
    receipts, contacts, later = lifecycles(config, N, T0, spread_days=120)
    bus = KafkaBus(kafka_broker.bootstrap, topic_prefix=prefix, **FAST_GROUPS)
    store = Store.open(redis_server.url)
    await store.redis.flushall()
    await bus.start()
    await bus.ensure_topics(topic_specs(config))
    upgraded = await cli(path, "db", "upgrade")
    assert upgraded.returncode == 0 and "revision 0001" in upgraded.stdout
    log = (tmp_path / "archive.log").open("w")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command(path, "run", "archive"), stdout=log, stderr=subprocess.STDOUT)

    engine = open_engine(url)

    async def changes() -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(schema.complaint_changes))).scalar_one())

    archive = start()
    kills = 0
    try:
        async with ProcessorRunner(COMPLAINTS_PROCESSOR, bus=bus, store=store, config=config, clock=SystemClock(),
                                   poll_timeout=0.2) as complaints:
            await publish(bus, COMPLAINTS, receipts)
            await publish(bus, COMPLAINT_CONTACTS, contacts)
            await publish(bus, COMPLAINTS, later)
            for threshold in (4_000, 16_000):  # mid-run: a batch in hand, offsets not yet committed
                async def reached(threshold: int = threshold) -> bool:
                    return await changes() >= threshold
                await eventually(reached, within=180, every=0.05)
                archive.kill()
                archive.wait()
                kills += 1
                archive = start()

            async def settled() -> bool:  # every record read and every deadline already past fired (its breach)
                due = sum([await store.redis.zcount(timer_key(t), "-inf", time.time())
                           for t in ("complaint-response", "complaint-feedback")])
                return complaints.batches > 0 and complaints.lag() == 0 and \
                    await complaints.ready() == (True, "consuming") and due == 0
            await eventually(settled, within=180, every=0.5)
            async with open_runtime(config, bus=bus, store=store) as rt, \
                    HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", 0) as server, aiohttp.ClientSession() as s:
                async def view(cid: str) -> dict[str, Any]:
                    async with s.get(f"http://127.0.0.1:{server.port}/api/complaints/{cid}",
                                     headers={"Authorization": "Bearer demo-operator"}) as r:
                        assert r.status == 200
                        return await r.json()  # type: ignore[no-any-return]

                views = []
                for start_at in range(0, N, 200):
                    views += await asyncio.gather(*(view(e.data.complaint_id) for e in receipts[start_at:start_at + 200]))
            expected = sum(len(v["history"]) for v in views)

            async def archived_all() -> bool:
                return await changes() >= expected
            with contextlib.suppress(AssertionError):  # what is left over says what went wrong
                await eventually(archived_all, within=120, every=0.5)
        rows, history = await archived(engine)
        assert differences(views, rows, history)[:5] == []
        assert kills == 2 and len(rows) == N
        assert await changes() == expected  # each change once
    finally:
        archive.kill()
        archive.wait()
        log.close()
        await engine.dispose()
        await bus.stop()
        await store.close()
    into = await postgres_server.new_database()
    rebuilt = await cli(path, "archive", "rebuild", "--into", into)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    live, again = await rows_of(url), await rows_of(into)
    assert {t: len(r) for t, r in again.items()} == {t: len(r) for t, r in live.items()}
    assert again == live
    refused = await cli(path, "archive", "rebuild", "--into", into)
    assert refused.returncode == 1 and "not empty" in refused.stderr
