"""The state store: redis-py's asyncio client against real Redis, or fakeredis in the embedded mode.

Both run the same code below; only the client differs. Redis errors are translated to Unavailable here.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import msgspec
import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from command_center.errors import StateLost, Unavailable
from command_center.geo import METRES_PER_DEGREE, distance_m

logger = logging.getLogger(__name__)

MEMORY_URL = "memory://"
SWEEP_S = 5.0
MAX_CONNECTIONS = 64
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_TRANSIENT = (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.BusyLoadingError, OSError)
_encoder = msgspec.json.Encoder()


SENTINEL_SCHEME = "redis+sentinel://"
GeoQuery = tuple[str, float, float, float]  # a geo set's key, a point's longitude and latitude, a radius in metres


def sentinel_master(url: str) -> aioredis.Redis:
    """The master that Redis Sentinel names for `redis+sentinel://[:password@]host:port[,host:port]/name[/db]`:
    each new connection asks the sentinels, so the store follows a fail-over to the promoted replica (and the
    runner derives again from the log whatever the replica had not received)."""
    from urllib.parse import unquote

    from redis.asyncio.sentinel import Sentinel

    rest = url[len(SENTINEL_SCHEME):]
    auth, _, rest = rest.rpartition("@")
    hosts, _, path = rest.partition("/")
    name, _, db = path.partition("/")
    if not hosts or not name:
        raise ValueError(f"redis.url {url!r}: expected redis+sentinel://host:port[,host:port]/service-name[/db]")
    password = unquote(auth.partition(":")[2]) if auth else None
    sentinels = [(h.rpartition(":")[0], int(h.rpartition(":")[2])) if ":" in h else (h, 26379)
                 for h in hosts.split(",")]
    sentinel = Sentinel(sentinels, socket_timeout=5, socket_connect_timeout=3, password=password,
                        sentinel_kwargs={"socket_timeout": 3, "socket_connect_timeout": 3})
    return sentinel.master_for(name, db=int(db or 0), max_connections=MAX_CONNECTIONS)  # type: ignore[no-any-return]


def translated(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn a Redis outage inside `fn` into Unavailable, naming what failed."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except _TRANSIENT as err:
            raise Unavailable(f"redis: {fn.__name__} failed: {err}") from err

    return wrapper


def applied_key(group: str, topic: str, partition: int) -> str:
    """The next offset of `topic`/`partition` that the state of the processor consuming as `group` (its name,
    unless told otherwise) has not applied yet: written in the same transaction as the state a batch derived from
    the records before it."""
    return f"cc:applied:{group}:{topic}:{partition}"


def whole_key(processor: str) -> str:
    """Present while the store holds `processor`'s state as of its applied offsets (gone with a wiped store): a
    hash of the partitions (topic/partition) its members derived it from (for `state rebuild` and /readyz)."""
    return f"cc:state:{processor}"


MEMBER_TTL_S = 10.0


def members_key(group: str) -> str:
    """The running members of a processor's group, scored by when each last said so."""
    return f"cc:members:{group}"


def rebuild_key(processor: str) -> str:
    """While `processor` derives lost state again: topic/partition -> its progress (JSON), for reads and /readyz."""
    return f"cc:rebuild:{processor}"


@dataclass(frozen=True)
class StateOf:
    """Whose state a read looks in: the processor (its consumer group) and the inputs it derives it from."""

    processor: str
    topics: tuple[str, ...]


def timer_key(name: str) -> str:
    return f"cc:timers:{name}"


def _claim_key(name: str, member: str) -> str:
    return f"cc:timers:{name}:claim:{member}"


class Store:
    """Hot state: typed values, indexes and timers, with writes applied in batches after outputs are acked."""

    def __init__(self, client: aioredis.Redis, *, url: str = "") -> None:
        # redis-py types replies as bytes | str; this client never decodes, so replies are bytes.
        self.redis: Any = client
        self.url = url
        self._last_error = ""

    @classmethod
    def open(cls, url: str) -> Store:
        """`memory://` for an in-process store (fakeredis), otherwise a redis:// URL."""
        if url == MEMORY_URL:
            import fakeredis

            return cls(fakeredis.FakeAsyncRedis(), url=url)
        if url.startswith(SENTINEL_SCHEME):
            return cls(sentinel_master(url), url=url)
        # A bounded pool that waits for a free connection (up to 5 s) rather than failing under a burst.
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=MAX_CONNECTIONS, timeout=5,
                                                        socket_timeout=5, socket_connect_timeout=3,
                                                        health_check_interval=15)
        return cls(aioredis.Redis(connection_pool=pool), url=url)

    async def close(self) -> None:
        await self.redis.aclose()

    async def ping(self) -> bool:
        """True when the store answers; remembers the reason when it does not (for /readyz)."""
        try:
            await self.redis.ping()
        except (*_TRANSIENT, redis_errors.RedisError) as err:
            self._last_error = f"redis {self.url}: {err}"
            return False
        self._last_error = ""
        return True

    def ready(self) -> tuple[bool, str]:
        return (not self._last_error, self._last_error or "redis")

    async def sweep_expired(self, every: float = SWEEP_S) -> None:
        """For the in-process store: fakeredis frees an expired key only when something touches it, so the demo's
        frames and marks would pile up; counting the keys checks every expiry. Runs until cancelled."""
        while True:
            await asyncio.sleep(every)
            await self.redis.dbsize()

    # --- typed reads --------------------------------------------------------------------------------

    @translated
    async def get(self, key: str, type: type[T]) -> T | None:
        raw = await self.redis.get(key)
        return None if raw is None else msgspec.json.decode(raw, type=type)

    @translated
    async def get_many(self, keys: list[str], type: type[T]) -> list[T | None]:
        if not keys:
            return []
        raws = await self.redis.mget(keys)
        return [None if r is None else msgspec.json.decode(r, type=type) for r in raws]

    @translated
    async def many_bytes(self, keys: list[str]) -> list[bytes | None]:
        return await self.redis.mget(keys)  # type: ignore[no-any-return]

    @translated
    async def get_bytes(self, key: str) -> bytes | None:
        return await self.redis.get(key)  # type: ignore[no-any-return]

    @translated
    async def hgetall(self, key: str) -> dict[str, bytes]:
        raw = await self.redis.hgetall(key)
        return {k.decode(): v for k, v in raw.items()}

    @translated
    async def hgetall_many(self, keys: list[str]) -> list[dict[str, bytes]]:
        """HGETALL of each key, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return [{k.decode(): v for k, v in raw.items()} for raw in await pipe.execute()] if keys else []

    @translated
    async def lists_many(self, keys: list[str]) -> list[list[bytes]]:
        """Every item of each list, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.lrange(key, 0, -1)
        return list(await pipe.execute()) if keys else []

    @translated
    async def members(self, key: str) -> list[str]:
        """Members of a sorted set in score order."""
        return [m.decode() for m in await self.redis.zrange(key, 0, -1)]

    @translated
    async def range_with_scores(self, key: str, low: float, high: float, *, limit: int | None = None,
                                newest_first: bool = False) -> list[tuple[str, float]]:
        """Members of a sorted set scored between `low` and `high` with their scores, in (score, member) order
        (or the reverse)."""
        if newest_first:
            raw = await self.redis.zrevrangebyscore(key, high, low, start=0 if limit else None, num=limit,
                                                    withscores=True)
        else:
            raw = await self.redis.zrangebyscore(key, low, high, start=0 if limit else None, num=limit,
                                                 withscores=True)
        return [(m.decode(), float(s)) for m, s in raw]

    @translated
    async def range_by_score(self, key: str, low: float, high: float, *, limit: int | None = None,
                             newest_first: bool = False) -> list[str]:
        """Members of a sorted set scored between `low` and `high`, in score order (or the reverse)."""
        if newest_first:
            raw = await self.redis.zrevrangebyscore(key, high, low, start=0 if limit else None, num=limit)
        else:
            raw = await self.redis.zrangebyscore(key, low, high, start=0 if limit else None, num=limit)
        return [m.decode() for m in raw]

    @translated
    async def list_range(self, key: str, start: int = 0, stop: int = -1) -> list[bytes]:
        return await self.redis.lrange(key, start, stop)  # type: ignore[no-any-return]

    @translated
    async def geo_near(self, key: str, long: float, lat: float, radius_m: float) -> list[tuple[str, float]]:
        """Members of a geo set within `radius_m` of the point, with their distance in metres, nearest first."""
        raw = await self.redis.geosearch(key, longitude=long, latitude=lat, radius=radius_m, unit="m",
                                         withdist=True, sort="ASC")
        return [(m.decode(), float(d)) for m, d in raw]

    @translated
    async def geo_near_many(self, queries: list[GeoQuery]) -> list[list[tuple[str, float]]]:
        """geo_near for each (key, long, lat, radius_m) in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for key, long, lat, radius_m in queries:
            pipe.geosearch(key, longitude=long, latitude=lat, radius=radius_m, unit="m", withdist=True, sort="ASC")
        return [[(m.decode(), float(d)) for m, d in raw] for raw in await pipe.execute()]

    @translated
    async def put_if_absent(self, values: dict[str, msgspec.Struct]) -> bool:
        """Write typed values at once unless any of their keys exists (a provisional read model), in one command;
        True when written."""
        return bool(await self.redis.msetnx({key: _encoder.encode(value) for key, value in values.items()}))

    @translated
    async def set_if_absent(self, key: str, value: bytes, *, ttl: float | None) -> bool:
        """Set bytes unless the key exists, with a TTL or none (claims, replay guards); True when this call set it."""
        return bool(await self.redis.set(key, value, nx=True, px=int(ttl * 1000) if ttl else None))

    @translated
    async def claim(self, key: str, value: bytes, *, ttl: float | None = None,
                    also: Mapping[str, tuple[bytes, float]] | None = None) -> bytes:
        """Set bytes unless the key exists; what the key holds afterwards (ours, or the earlier claim's).
        `also` sets other keys (value, TTL) in the same round trip, whatever the claim's outcome."""
        px = int(ttl * 1000) if ttl else None
        if not also:
            earlier = await self.redis.set(key, value, nx=True, get=True, px=px)
        else:
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(key, value, nx=True, get=True, px=px)
            for other, (raw, other_ttl) in also.items():
                pipe.set(other, raw, px=int(other_ttl * 1000))
            earlier = (await pipe.execute())[0]
        return value if earlier is None else earlier  # type: ignore[no-any-return]

    @translated
    async def set_bytes(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Write bytes at once (frames, claim checks): for adapters, not processors."""
        await self.redis.set(key, value, px=int(ttl * 1000) if ttl else None)

    @translated
    async def remove(self, key: str) -> None:
        await self.redis.delete(key)

    @translated
    async def refresh(self, key: str, ttl: float) -> bool:
        """Give `key` a new TTL (a session's sliding renewal); False when it is gone."""
        return bool(await self.redis.pexpire(key, int(ttl * 1000)))

    @translated
    async def count_within(self, key: str, window_s: float) -> tuple[int, float]:
        """Count one more at `key`, a counter that lapses `window_s` after its first count: (count, seconds left)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.pexpire(key, int(window_s * 1000), nx=True)
        pipe.pttl(key)
        count, _, left = await pipe.execute()
        return int(count), max(0.0, left / 1000)

    @translated
    async def counted(self, key: str) -> tuple[int, float]:
        """What `count_within` has counted at `key`: (count, seconds left), (0, 0) when none."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(key)
        pipe.pttl(key)
        raw, left = await pipe.execute()
        return (int(raw), max(0.0, left / 1000)) if raw is not None else (0, 0.0)

    # --- timers -------------------------------------------------------------------------------------

    @translated
    async def claim_due(self, name: str, now: datetime, *, limit: int = 500, lease_s: float = 30.0) -> list[str]:
        """Timers of `name` due by `now` that no other instance holds; the claim lapses after `lease_s`."""
        due = await self.redis.zrangebyscore(timer_key(name), "-inf", now.timestamp(), start=0, num=limit)
        claimed: list[str] = []
        for raw in due:
            member = raw.decode()
            if await self.redis.set(_claim_key(name, member), b"1", nx=True, px=int(lease_s * 1000)):
                claimed.append(member)
        return claimed

    def batch(self) -> StateBatch:
        return StateBatch(self)

    @translated
    async def apply(self, ops: Iterable[tuple[str, tuple[Any, ...], dict[str, Any]]],
                    guard: Mapping[str, bytes | None] | None = None) -> None:
        """Apply buffered writes in one transaction. With a `guard` (key -> the value it must hold, None for
        absent) the writes land only while every guarded key still holds its value, checked under WATCH in the
        same transaction; otherwise StateLost, and nothing is written."""
        ops = list(ops)
        if not guard:
            if ops:
                pipe = self.redis.pipeline(transaction=True)
                for method, args, kwargs in ops:
                    getattr(pipe, method)(*args, **kwargs)
                await pipe.execute()
            return
        keys = list(guard)
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(*keys)
                found = await pipe.mget(keys)
                if [None if v is None else bytes(v) for v in found] != [guard[k] for k in keys]:
                    raise StateLost(", ".join(f"{k} holds {v!r}, not {guard[k]!r}" for k, v in zip(keys, found, strict=True)
                                              if v != guard[k]))
                pipe.multi()
                for method, args, kwargs in ops:
                    getattr(pipe, method)(*args, **kwargs)
                await pipe.execute()
            except redis_errors.WatchError as err:
                raise StateLost(f"{', '.join(keys)} changed under the batch's write") from err

    @translated
    async def applied(self, group: str, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int | None]:
        """The offsets the state of `group`'s processor has applied up to, per partition (None: the store holds
        none)."""
        tps = list(partitions)
        if not tps:
            return {}
        raws = await self.redis.mget([applied_key(group, t, p) for t, p in tps])
        return {tp: None if raw is None else int(raw) for tp, raw in zip(tps, raws, strict=True)}

    @translated
    async def rebuild_progress(self, processor: str, active: Mapping[str, Mapping[str, int]], *,
                               done: Iterable[str] = (), whole: Iterable[str] = ()) -> None:
        """Record a member's rebuilds in progress (partition -> from, position, target) and those done; `whole`:
        the partitions of a member that holds its whole state again."""
        pipe = self.redis.pipeline(transaction=True)
        key = rebuild_key(processor)
        gone = list(done)
        if gone:
            pipe.hdel(key, *gone)
        if active:
            pipe.hset(key, mapping={k: _encoder.encode(v) for k, v in active.items()})
            pipe.expire(key, 300)
        owned = list(whole)
        if owned:
            pipe.hset(whole_key(processor), mapping=dict.fromkeys(owned, b"1"))
        await pipe.execute()

    @translated
    async def alive(self, group: str, member: str, *, now: float) -> None:
        """`member` of `group` runs (a processor instance says so every second or so)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(members_key(group), {member: now})
        pipe.zremrangebyscore(members_key(group), "-inf", now - MEMBER_TTL_S)
        pipe.expire(members_key(group), int(MEMBER_TTL_S) + 1)
        await pipe.execute()

    @translated
    async def running_members(self, group: str, *, now: float) -> list[str]:
        """The members of `group` that said they run within the last MEMBER_TTL_S seconds."""
        return [m.decode() for m in await self.redis.zrangebyscore(members_key(group), now - MEMBER_TTL_S, "+inf")]

    @translated
    async def state_status(self, processor: str) -> tuple[bool, dict[str, Any]]:
        """Whether the store holds `processor`'s whole state now, and each partition being rebuilt with its
        progress (from, position, target)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(whole_key(processor))
        pipe.hgetall(rebuild_key(processor))
        exists, rebuilding = await pipe.execute()
        progress = {k.decode(): msgspec.json.decode(v) for k, v in rebuilding.items()}
        return bool(exists) and not progress, progress


_DELETED = object()
_CALLS = itertools.count()  # one sequence for every batch, so a child's calls sort after its parent's
Op = tuple[str, tuple[Any, ...], dict[str, Any]]


class StateBatch:
    """Reads through, writes buffered: a processor's state changes land only after its outputs are acked.

    Typed values read back what this batch wrote (read-your-writes); indexes, lists and timers are
    write-only here. A child batch isolates one event's changes so a failed event leaves no trace.
    Writes coalesce per key, so a batch that touches one entity a thousand times writes it once: the
    last value of a key, one push of all values to a list, the sum of a counter, the last score of a
    timer. The coalesced writes are applied in the order of each one's last call, so a key deleted after
    it was written (or a sorted set trimmed after it was added to) ends as the calls left it.
    """

    def __init__(self, store: Store, parent: StateBatch | None = None) -> None:
        self.store = store
        self._parent = parent
        self._values: dict[str, tuple[object, float | None]] = {}
        self._lists: dict[str, tuple[list[bytes | str], int]] = {}
        self._zsets: dict[str, dict[str, float | None]] = {}
        self._counters: dict[tuple[str, str], int] = {}
        self._deletes: set[str] = set()
        self._other: list[tuple[int, Op]] = []
        self._geo: dict[str, dict[str, tuple[float, float]]] = {}
        self._preloaded: dict[str, bytes | None] = {}
        self._near: dict[GeoQuery, list[tuple[str, float]]] = {}  # the store's answers to preloaded geo searches
        self._last: dict[tuple[str, ...], int] = {}  # (kind, key...) -> the sequence number of its last call

    def _called(self, *kind_and_key: str) -> None:
        self._last[kind_and_key] = next(_CALLS)

    def child(self) -> StateBatch:
        return StateBatch(self.store, self)

    def merge(self, child: StateBatch) -> None:
        self._values.update(child._values)
        for key, (values, maxlen) in child._lists.items():
            mine, _ = self._lists.get(key, ([], maxlen))
            self._lists[key] = ((mine + values)[-maxlen:], maxlen)
        for key, members in child._zsets.items():
            self._zsets.setdefault(key, {}).update(members)
        for field_key, amount in child._counters.items():
            self._counters[field_key] = self._counters.get(field_key, 0) + amount
        self._deletes |= child._deletes
        self._other.extend(child._other)
        for key, points in child._geo.items():
            self._geo.setdefault(key, {}).update(points)
        self._last.update(child._last)  # the child's calls came after the parent's

    @property
    def pending(self) -> int:
        """How many keys this batch will write (for tests and metrics)."""
        return len(self._values) + len(self._lists) + len(self._zsets) + len(self._counters) + len(self._deletes) \
            + len(self._other) + len(self._geo)

    # --- reads ---------------------------------------------------------------------------------------

    def _root(self) -> StateBatch:
        batch = self
        while batch._parent is not None:
            batch = batch._parent
        return batch

    async def preload(self, keys: list[str]) -> None:
        """Fetch typed values for `keys` in one round trip, ahead of the events that will read them."""
        root = self._root()
        missing = [k for k in dict.fromkeys(keys) if k not in root._preloaded and k not in root._values]
        if missing:
            raws = await self.store.many_bytes(missing)
            root._preloaded.update(zip(missing, raws, strict=True))

    def _held(self, key: str, type: type[T]) -> tuple[bool, T | None]:
        """(True, the value) where this batch, its parents or the preload know the key; (False, None) otherwise."""
        batch: StateBatch | None = self
        while batch is not None:
            if key in batch._values:
                value = batch._values[key][0]
                return True, None if value is _DELETED else value  # type: ignore[return-value]
            batch = batch._parent
        root = self._root()
        if key in root._preloaded:
            raw = root._preloaded[key]
            return True, None if raw is None else msgspec.json.decode(raw, type=type)
        return False, None

    async def get(self, key: str, type: type[T]) -> T | None:
        known, value = self._held(key, type)
        return value if known else await self.store.get(key, type)

    async def get_many(self, keys: list[str], type: type[T]) -> list[T | None]:
        """get() of each key; what the batch does not know is read in one round trip."""
        held = {key: self._held(key, type) for key in keys}
        unknown = [key for key, (known, _) in held.items() if not known]
        read = dict(zip(unknown, await self.store.get_many(unknown, type), strict=True)) if unknown else {}
        return [read[key] if key in read else held[key][1] for key in keys]

    async def preload_geo(self, queries: list[GeoQuery]) -> None:
        """Ask the store the geo searches the batch's events will make, in one round trip (see geo_near)."""
        root = self._root()
        missing = [q for q in dict.fromkeys(queries) if q not in root._near]
        if missing:
            root._near.update(zip(missing, await self.store.geo_near_many(missing), strict=True))

    async def geo_near(self, key: str, long: float, lat: float, radius_m: float) -> list[tuple[str, float]]:
        """Store.geo_near, including the points this batch has added but not yet written."""
        asked = self._root()._near.get((key, long, lat, radius_m))
        found = dict(asked if asked is not None else await self.store.geo_near(key, long, lat, radius_m))
        # a box around the point first (a subtraction, not a haversine, for each of a large batch's points)
        box_lat = radius_m / METRES_PER_DEGREE * 1.01
        box_long = box_lat / max(math.cos(math.radians(lat)), 0.01)
        batch: StateBatch | None = self
        while batch is not None:
            for member, (m_long, m_lat) in batch._geo.get(key, {}).items():
                if abs(m_lat - lat) > box_lat or abs(m_long - long) > box_long:
                    continue
                distance = distance_m(lat, long, m_lat, m_long)
                if distance <= radius_m:
                    found.setdefault(member, distance)
            batch = batch._parent
        return sorted(found.items(), key=lambda item: item[1])

    async def claim_due(self, timer: str, now: datetime, *, limit: int = 500) -> list[str]:
        """Timers of `timer` due by `now` that this instance now holds (see Store.claim_due)."""
        return await self.store.claim_due(timer, now, limit=limit)

    # --- writes --------------------------------------------------------------------------------------

    def put(self, key: str, value: msgspec.Struct | bytes, *, ttl: float | None = None) -> None:
        """Write a typed value (or bytes as they are: a mark) with the batch."""
        self._values[key] = (value, ttl)
        self._called("value", key)

    def delete(self, key: str) -> None:
        self._values[key] = (_DELETED, None)
        self._called("value", key)

    async def mark(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Record something done outside (a post, a message sent): at once where the store answers, so a retry of
        the handler finds it, and with the batch in any case, so it lands with the offsets it was done for (a
        store lost meanwhile derives it again, and the records are not acted on twice)."""
        self.put(key, value, ttl=ttl)
        try:
            await self.store.set_bytes(key, value, ttl=ttl)
        except Unavailable as err:
            logger.warning("a mark waits for the batch's write: %s", err, extra={"key": key})

    def hset(self, key: str, field: str, value: bytes | str) -> None:
        self._other.append((next(_CALLS), ("hset", (key, field, value), {})))

    def hincrby(self, key: str, field: str, amount: int = 1) -> None:
        self._counters[(key, field)] = self._counters.get((key, field), 0) + amount
        self._called("counter", key, field)

    def hdel(self, key: str, *fields: str) -> None:
        self._other.append((next(_CALLS), ("hdel", (key, *fields), {})))

    def zadd(self, key: str, member: str, score: float) -> None:
        self._zsets.setdefault(key, {})[member] = score
        self._called("zset", key)

    def zrem(self, key: str, *members: str) -> None:
        for member in members:
            self._zsets.setdefault(key, {})[member] = None
        self._called("zset", key)

    def zremrangebyscore(self, key: str, low: float, high: float) -> None:
        self._other.append((next(_CALLS), ("zremrangebyscore", (key, low, high), {})))

    def push_capped(self, key: str, value: bytes | str, maxlen: int) -> None:
        """Append to a list and keep only its last `maxlen` items."""
        values, _ = self._lists.get(key, ([], maxlen))
        values.append(value)
        self._lists[key] = (values[-maxlen:], maxlen)
        self._called("list", key)

    def geoadd(self, key: str, long: float, lat: float, member: str) -> None:
        """Place `member` in a geo set (see geo_near)."""
        self._geo.setdefault(key, {})[member] = (long, lat)
        self._called("geo", key)

    def expire(self, key: str, seconds: float) -> None:
        self._other.append((next(_CALLS), ("pexpire", (key, int(seconds * 1000)), {})))

    def schedule(self, timer: str, member: str, due: datetime) -> None:
        """Set (or move) a timer; it fires from Store.claim_due once `due` has passed."""
        self.zadd(timer_key(timer), member, due.timestamp())
        self._deletes.add(_claim_key(timer, member))

    def schedule_if_absent(self, timer: str, member: str, due: datetime) -> None:
        """Set a timer unless it is already set."""
        self.schedule_all_if_absent(timer, {member: due})

    def schedule_all_if_absent(self, timer: str, dues: Mapping[str, datetime]) -> None:
        """Set each timer of `dues` that is not already set, in one command."""
        if dues:
            self._other.append((next(_CALLS), ("zadd", (timer_key(timer), {m: d.timestamp() for m, d in dues.items()}),
                                               {"nx": True})))

    def cancel(self, timer: str, member: str) -> None:
        self.zrem(timer_key(timer), member)
        self._deletes.add(_claim_key(timer, member))

    def ops(self) -> list[Op]:
        """The coalesced writes, as Redis commands, in the order of each one's last call (timer claims first:
        nothing else touches them)."""
        last = self._last
        out: list[tuple[int, Op]] = [(-1, ("delete", tuple(self._deletes), {}))] if self._deletes else []
        for key, (value, ttl) in self._values.items():
            op: Op = ("delete", (key,), {}) if value is _DELETED else \
                ("set", (key, value if isinstance(value, bytes) else _encoder.encode(value)),
                 {"px": int(ttl * 1000) if ttl else None})
            out.append((last[("value", key)], op))
        for key, (values, maxlen) in self._lists.items():
            out.append((last[("list", key)], ("rpush", (key, *values), {})))
            out.append((last[("list", key)], ("ltrim", (key, -maxlen, -1), {})))
        for key, members in self._zsets.items():
            gone = [m for m, score in members.items() if score is None]
            kept = {m: score for m, score in members.items() if score is not None}
            if gone:
                out.append((last[("zset", key)], ("zrem", (key, *gone), {})))
            if kept:
                out.append((last[("zset", key)], ("zadd", (key, kept), {})))
        for (key, field), amount in self._counters.items():
            out.append((last[("counter", key, field)], ("hincrby", (key, field, amount), {})))
        for key, points in self._geo.items():
            out.append((last[("geo", key)], ("geoadd", (key, [v for member, (lo, la) in points.items()
                                                              for v in (lo, la, member)]), {})))
        out.extend(self._other)
        out.sort(key=lambda item: item[0])  # stable: a key's zrem stays before its zadd, rpush before ltrim
        return [op for _, op in out]

    async def flush(self, *, guard: Mapping[str, bytes | None] | None = None,
                    also: Mapping[str, bytes] | None = None) -> None:
        """Apply every buffered write in one transaction, then forget them. `also` sets more keys in it (the
        offsets the batch applied); with a `guard` the transaction lands only while those keys hold those values
        (see Store.apply), or raises StateLost and keeps the writes."""
        extra: list[Op] = [("set", (key, value), {}) for key, value in (also or {}).items()]
        await self.store.apply(self.ops() + extra, guard)
        self.__init__(self.store, self._parent)  # type: ignore[misc]
