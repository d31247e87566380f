"""The state store: Redis (or fakeredis in the embedded mode) behind one class."""

from command_center.store.store import MEMORY_URL, StateBatch, Store, timer_key

__all__ = ["MEMORY_URL", "StateBatch", "Store", "timer_key"]
