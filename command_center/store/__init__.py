"""The state store: Redis (or fakeredis in the embedded mode) behind one class."""

from command_center.store.store import (
    MEMORY_URL,
    StateBatch,
    StateOf,
    Store,
    applied_key,
    rebuild_key,
    timer_key,
    whole_key,
)

__all__ = ["MEMORY_URL", "StateBatch", "StateOf", "Store", "applied_key", "rebuild_key", "timer_key", "whole_key"]
