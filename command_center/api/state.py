"""Reads that tell a missing thing from state still being derived: 404 only when the state is whole."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from command_center.api.errors import ApiError, not_found, rebuilding
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


async def missing(store: Store, processor: str, what: str) -> ApiError:
    """The error for `what` not found in `processor`'s state: 404, or 503 with Retry-After while that state is
    being derived again from the log (after a wiped or rolled-back store), when it may well exist."""
    whole, progress = await store.state_status(processor)
    if whole:
        return not_found(what)
    if not progress:
        return rebuilding(what, f"the {processor} state was lost and is about to be derived again from the log")
    left = sum(max(0, int(p.get("target", 0)) - int(p.get("position", 0))) for p in progress.values())
    return rebuilding(what, f"the {processor} state is being derived again from the log ({left:,} records to go)")
