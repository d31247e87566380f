"""The broker's half of durability: tansu keeping its topics in an object store (S3; moto's server stands for it)
killed with SIGKILL in the middle of a run on the production path (the API, complaints, incidents and notify,
replies, police and upstream, each its own process) and started again on the same port. Citizens file as a careful
client does (a 503 is retried under the same Idempotency-Key). Afterwards every complaint acknowledged before,
during and after the outage is served once, routed, with its token, and each citizen heard once that it
arrived."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from command_center.bus.kafka import KafkaBus
from command_center.testing.servers import KafkaBroker, ObjectStore, RedisServer
from tests.conftest import FAST_GROUPS, _start
from tests.helpers import eventually
from tests.integration.test_state_from_the_log import (
    KEY,
    Centre,
    Filed,
    World,
    redis_alone,
    routed,
    running,
    world,
)

__all__ = ["redis_alone", "world"]  # the fixtures, shared with the Redis-loss test


@pytest.fixture
def object_store() -> Iterator[ObjectStore]:
    server = _start(ObjectStore)
    yield server
    server.stop()


@pytest.fixture
def durable_broker(object_store: ObjectStore) -> Iterator[KafkaBroker]:
    server = _start(lambda: KafkaBroker(storage=object_store))
    yield server
    if server.proc is not None:
        server.stop()


@pytest.fixture
async def centre(durable_broker: KafkaBroker, redis_alone: RedisServer,
                 world: tuple[World, str]) -> AsyncIterator[tuple[Centre, World]]:
    async with running(durable_broker, redis_alone, world[1], f"k{uuid.uuid4().hex[:8]}.") as c:
        yield c, world[0]


async def file_carefully(c: Centre, n: int, answers: Counter[int]) -> Filed:
    """POST complaint `n` under its own Idempotency-Key until it is acknowledged (a 503 or a refused connection
    while the broker is down is tried again, as a careful client does)."""
    service = ("jalan-rusak", "sampah", "lainnya")[n % 3]
    lat, long = -7.60 - (n % 20) * 0.012, 110.15 + (n // 20) * 0.05
    form = {"api_key": KEY, "service_code": service, "lat": str(lat), "long": str(long), "phone": f"0813{n:08d}",
            "description": f"Laporan warga nomor {n}: {service} di titik {lat:.3f},{long:.3f}"}
    deadline = time.monotonic() + 120
    while True:
        try:
            status, body = await c.call("POST", "/open311/v2/requests.json", data=form,
                                        headers={"Idempotency-Key": f"warga-{n}"})
        except aiohttp.ClientError:
            status, body = 0, None
        answers[status] += 1
        if status == 200:
            return Filed(body[0]["service_request_id"], form["phone"], service)
        assert status in (0, 503), (status, body)  # the broker is away: never a 4xx or a 500
        assert time.monotonic() < deadline, f"complaint {n} not acknowledged within 120 s"
        await asyncio.sleep(0.5)


async def test_a_broker_killed_mid_run_loses_no_acknowledged_complaint(
        centre: tuple[Centre, World], durable_broker: KafkaBroker) -> None:
    c, world = centre
    answers: Counter[int] = Counter()
    before = [await file_carefully(c, n, answers) for n in range(8)]
    for filed in before:
        await eventually(lambda f=filed: routed(c, f), within=30)

    down = threading.Event()
    back: list[float] = []

    def power_cut() -> None:  # SIGKILL, down for 3 s, started again on the same port from the same store
        durable_broker.kill()
        down.set()
        time.sleep(3)
        back.append(time.monotonic())  # from here on it may answer again
        durable_broker.start()

    cut = threading.Thread(target=power_cut)
    during: list[Filed] = []
    acknowledged: dict[int, float] = {}
    for n in range(8, 24):
        if n == 12:
            cut.start()
            await asyncio.to_thread(down.wait, 10)
        during.append(await file_carefully(c, n, answers))
        acknowledged[n] = time.monotonic()
    cut.join(30)
    # the complaint filed as the broker died was answered only once it was back (held, or 503 and retried)
    assert back and acknowledged[12] >= back[0], "the complaint filed in the outage waited for the broker"
    after = [await file_carefully(c, n, answers) for n in range(24, 30)]

    everyone = before + during + after
    for filed in everyone:  # each served, routed, with its token (the processors found their way back)
        await eventually(lambda f=filed: routed(c, f), within=90, every=0.5)
        assert filed.token
    status, listed = await c.call("GET", f"/open311/v2/requests.json?api_key={KEY}&service_request_id="
                                         + ",".join(f.id for f in everyone))
    assert status == 200 and sorted(r["service_request_id"] for r in listed) == sorted(f.id for f in everyone)
    assert len({f.id for f in everyone}) == len(everyone)  # a retry never filed a second complaint

    async def all_told() -> bool:
        return all(any("diterima" in t for t in world.texts_to(f.phone)) for f in everyone)

    await eventually(all_told, within=60, every=0.5)
    await asyncio.sleep(2)  # a second "received" would have gone by now
    assert all(sum("diterima" in t for t in world.texts_to(f.phone)) == 1 for f in everyone), \
        "every citizen heard once that their complaint arrived"
    assert all(proc.poll() is None for proc, _, _ in c.procs), "no process of the centre died with the broker"
    rest = KafkaBus(durable_broker.bootstrap, topic_prefix=c.config["kafka"]["topic_prefix"], **FAST_GROUPS)
    await rest.start()
    try:  # the groups' offsets came through the restart: nobody is left far behind
        lag = await rest.group_lag("complaints", ["cc.complaints"])
        assert sum(lag.values()) <= 5, lag
    finally:
        await rest.stop()
