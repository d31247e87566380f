"""Reads that tell a missing thing from state still being derived: 404 only when the state is whole."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from command_center.api.errors import ApiError, not_found, rebuilding
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


_BEHIND_S = 0.25
_behind_seen: dict[tuple[int, str], tuple[float, int]] = {}


async def _behind(rt: Runtime, state: StateOf) -> int:
    """How many records the group committed that the store has not applied (a wiped store, an older copy the
    processor has not noticed yet); 0 on a new site, where nothing was ever committed. Asked of the broker at most
    four times a second per processor (a burst of unknown ids asks once)."""
    key = (id(rt.store), state.processor)
    at, behind = _behind_seen.get(key, (0.0, 0))
    if time.monotonic() - at < _BEHIND_S:
        return behind
    committed = await rt.bus.committed_offsets(state.processor, state.topics)
    applied = await rt.store.applied(state.processor, committed)
    behind = sum(max(0, done - (applied[tp] or 0)) for tp, done in committed.items() if done is not None)
    _behind_seen[key] = (time.monotonic(), behind)
    return behind


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
