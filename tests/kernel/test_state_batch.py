"""A batch's coalesced writes land in the order of their last calls, so the store ends as the calls left it."""

from __future__ import annotations

from command_center.store import MEMORY_URL, Store


async def test_writes_apply_in_call_order_across_kinds() -> None:
    store = Store.open(MEMORY_URL)
    batch = store.batch()
    batch.hset("h:gone", "f", b"1")
    batch.delete("h:gone")  # written, then deleted: gone
    batch.delete("h:kept")
    batch.hset("h:kept", "f", b"2")  # deleted, then written: kept
    batch.zremrangebyscore("z", 0, 100)
    batch.zadd("z", "fresh", 50)  # trimmed, then added: kept
    batch.zadd("z2", "old", 50)
    batch.zremrangebyscore("z2", 0, 100)  # added, then trimmed: gone
    await batch.flush()
    assert await store.hgetall("h:gone") == {}
    assert await store.hgetall("h:kept") == {"f": b"2"}
    assert await store.members("z") == ["fresh"]
    assert await store.members("z2") == []


async def test_a_child_batch_writes_after_its_parent() -> None:
    store = Store.open(MEMORY_URL)
    parent = store.batch()
    parent.hset("h", "f", b"1")
    child = parent.child()
    child.delete("h")
    parent.merge(child)
    await parent.flush()
    assert await store.hgetall("h") == {}


async def test_geo_searches_asked_ahead_find_what_the_store_and_the_batch_hold() -> None:
    """A batch's duplicate searches asked of the store in one round trip answer as one by one would: the store's
    points and the points the batch (and its children) added since, within the radius only, nearest first."""
    store = Store.open(MEMORY_URL)
    first = store.batch()
    first.geoadd("g", 110.3700, -7.7800, "stored-near")
    first.geoadd("g", 110.3800, -7.7800, "stored-far")  # about 1.1 km east
    await first.flush()
    point = (110.3701, -7.7801)
    one_by_one = store.batch()
    child = one_by_one.child()
    child.geoadd("g", 110.3702, -7.7800, "added-near")
    child.geoadd("g", 110.3702, -7.7900, "added-far")  # about 1.1 km south
    asked = store.batch()
    await asked.preload_geo([("g", *point, 100.0)])
    asked_child = asked.child()
    asked_child.geoadd("g", 110.3702, -7.7800, "added-near")
    asked_child.geoadd("g", 110.3702, -7.7900, "added-far")
    expected = await child.geo_near("g", *point, 100.0)
    assert [m for m, _ in expected] == ["stored-near", "added-near"]
    assert await asked_child.geo_near("g", *point, 100.0) == expected
