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
