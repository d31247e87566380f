"""Each accounts test: a database of its own on the tests' PostgreSQL, and the tests' Redis with no sign-in
failures left by an earlier test (they are counted per address, and every test signs in from 127.0.0.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from command_center.testing.servers import PostgresServer, RedisServer


@dataclass(frozen=True)
class Backing:
    accounts_url: str
    store_url: str


@pytest.fixture
async def backing(postgres_server: PostgresServer, redis_server: RedisServer) -> AsyncIterator[Backing]:
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        keys = [k async for k in client.scan_iter("cc:signin:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
    yield Backing(await postgres_server.new_database(), redis_server.url)
