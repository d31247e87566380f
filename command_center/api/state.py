"""Reads that tell a missing thing from state still being derived: 404 only when the state is whole."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from command_center.api.errors import ApiError, not_found, rebuilding
from command_center.bus import Bus
from command_center.runtime.host import Runtime
from command_center.store import Store


def state_check(store: Store, processors: list[str]) -> Callable[[], Awaitable[tuple[bool, str]]]:
    """For the API's /readyz: which processors are deriving their state again from the log, and how far they
    have to go. The API stays ready (it answers everything else; a read of what is being rebuilt says 503)."""

    async def check() -> tuple[bool, str]:
        behind = []
        for name in processors:
            whole, progress = await store.state_status(name)
            if progress:
                left = sum(max(0, int(p.get("target", 0)) - int(p.get("position", 0))) for p in progress.values())
                behind.append(f"{name} rebuilding its state from the log, {left:,} records to go")
        return True, "; ".join(behind) or "every processor's state is whole"

    return check


_BEHIND_S = 0.25
_behind_seen: dict[tuple[int, str], tuple[float, bool]] = {}


async def _behind(bus: Bus, store: Store, processor: str) -> bool:
    """Whether the store has applied less of some partition than the processor's group committed: an older copy
    of the store (a rolled-back or promoted replica) that the processor has not noticed yet. Read at most four times
    a second per processor (a burst of unknown ids asks the broker once)."""
    key = (id(store), processor)
    at, behind = _behind_seen.get(key, (0.0, False))
    if time.monotonic() - at < _BEHIND_S:
        return behind
    partitions = await store.state_partitions(processor)
    applied = await store.applied(processor, partitions)
    committed = await bus.committed_offsets(processor, partitions)
    behind = any(done is not None and (applied[tp] is None or applied[tp] < done)  # type: ignore[operator]
                 for tp, done in committed.items())
    _behind_seen[key] = (time.monotonic(), behind)
    return behind


async def missing(rt: Runtime, processor: str, what: str) -> ApiError:
    """The error for `what` not found in `processor`'s state: 404, or 503 with Retry-After while that state is
    being derived again from the log (after a wiped or rolled-back store), when it may well exist."""
    store = rt.store
    whole, progress = await store.state_status(processor)
    if whole and not await _behind(rt.bus, store, processor):
        return not_found(what)
    if whole:
        return rebuilding(what, f"the store holds an older copy of the {processor} state, about to be derived "
                                "again from the log")
    if not progress:
        return rebuilding(what, f"the {processor} state was lost and is about to be derived again from the log")
    left = sum(max(0, int(p.get("target", 0)) - int(p.get("position", 0))) for p in progress.values())
    return rebuilding(what, f"the {processor} state is being derived again from the log ({left:,} records to go)")
