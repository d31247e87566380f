"""Reads that tell a missing thing from state still being derived: 404 only when the state is whole."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from command_center.api.errors import ApiError, not_found, rebuilding
from command_center.bus.base import TopicPartition
from command_center.runtime.host import Runtime
from command_center.store import StateOf, Store

REBUILDING = "rebuilding its state from the log"


def state_check(store: Store, processors: list[str]) -> Callable[[], Awaitable[tuple[bool, str]]]:
    """For the API's /readyz: which processors are deriving their state again from the log, and how far they
    have to go. The API stays ready (it answers everything else; a read of what is being rebuilt says 503)."""

    async def check() -> tuple[bool, str]:
        behind = []
        for name in processors:
            whole, progress = await store.state_status(name)
            if progress:
                left = sum(max(0, int(p.get("target", 0)) - int(p.get("position", 0))) for p in progress.values())
                behind.append(f"{name} {REBUILDING}, {left:,} records to go")
        return True, "; ".join(behind) or "every processor's state is whole"

    return check


_COMMITTED_S = 0.25
_committed_seen: dict[tuple[int, str], tuple[float, dict[TopicPartition, int | None]]] = {}


async def _behind(rt: Runtime, state: StateOf) -> int:
    """How many records the group committed that the store has not applied (a wiped store, an older copy the
    processor has not noticed yet); 0 on a new site, where nothing was ever committed. The group's offsets are
    asked of the broker at most four times a second per processor (a burst of unknown ids asks once); what the
    store has applied is read each time, so a store lost a moment ago is never taken for a whole one."""
    key = (id(rt.bus), state.processor)
    at, committed = _committed_seen.get(key, (0.0, {}))
    if time.monotonic() - at >= _COMMITTED_S:
        committed = await rt.bus.committed_offsets(state.processor, state.topics)
        _committed_seen[key] = (time.monotonic(), committed)
    applied = await rt.store.applied(state.processor, committed)
    return sum(max(0, done - (applied[tp] or 0)) for tp, done in committed.items() if done is not None)


async def missing(rt: Runtime, state: StateOf, what: str) -> ApiError:
    """The error for `what` not found in a processor's state: 404, or 503 with Retry-After while that state is
    behind what the log says it has handled (a wiped store, an older copy, a rebuild under way), when it may
    well exist."""
    _, progress = await rt.store.state_status(state.processor)
    if progress:
        left = sum(max(0, int(p.get("target", 0)) - int(p.get("position", 0))) for p in progress.values())
        return rebuilding(what, f"the {state.processor} state is being derived again from the log "
                                f"({left:,} records to go)")
    behind = await _behind(rt, state)
    if behind:
        return rebuilding(what, f"the store holds less of the {state.processor} state than the log says was "
                                f"handled ({behind:,} records); it is about to be derived again")
    return not_found(what)
