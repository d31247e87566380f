"""Tracking tokens are claimed, not assumed: a token held for another complaint is never given out again."""

from __future__ import annotations

import msgspec

from command_center.store import MEMORY_URL, Store
from processors.complaints.record import TokenRef, token_key
from processors.complaints.tokens import ALPHABET, candidate, claim_token


async def test_a_taken_token_moves_on_and_a_second_claim_finds_the_same() -> None:
    store = Store.open(MEMORY_URL)
    taken = candidate("complaint-b", 0)
    await store.set_bytes(token_key(taken), msgspec.json.encode(TokenRef("complaint-a")))
    token = await claim_token(store, "complaint-b")
    assert token == candidate("complaint-b", 1) != taken
    assert await claim_token(store, "complaint-b") == token  # a replay, or the processor after intake
    assert (await store.get(token_key(taken), TokenRef)) == TokenRef("complaint-a")  # the first keeps its own
    assert len(token) == 8 and set(token) <= set(ALPHABET)


async def test_every_candidate_taken_gives_no_token_rather_than_a_shared_one() -> None:
    store = Store.open(MEMORY_URL)
    for attempt in range(8):
        await store.set_bytes(token_key(candidate("c", attempt)), msgspec.json.encode(TokenRef(f"other-{attempt}")))
    assert await claim_token(store, "c") == ""
