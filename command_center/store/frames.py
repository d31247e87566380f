"""Camera frames in the store (the claim check, DESIGN.md): large bytes never ride on Kafka.

Each frame is kept under `frame:{camera}:{seq}` for `frame_ttl_s`, so a snapshot event can name it and a
processor or the police can fetch that exact frame; `frame:{camera}:latest` holds the camera's newest frame
for the wall, and `frame:{camera}:seq` its sequence number (the capture time in milliseconds), which tells
the offline timer that a frame arrived even while the processor is behind.
"""

from __future__ import annotations

from command_center.store.store import Store, translated


def frame_key(camera_id: str, seq: int) -> str:
    return f"frame:{camera_id}:{seq}"


def latest_frame_key(camera_id: str) -> str:
    return f"frame:{camera_id}:latest"


def latest_seq_key(camera_id: str) -> str:
    return f"frame:{camera_id}:seq"


@translated
async def put_frame(store: Store, camera_id: str, seq: int, data: bytes, *, ttl_s: float, latest_ttl_s: float) -> str:
    """Store one frame and make it the camera's latest, in one round trip; returns the frame's key."""
    key = frame_key(camera_id, seq)
    pipe = store.redis.pipeline(transaction=False)
    pipe.set(key, data, px=int(ttl_s * 1000))
    pipe.set(latest_frame_key(camera_id), data, px=int(latest_ttl_s * 1000))
    pipe.set(latest_seq_key(camera_id), str(seq).encode(), px=int(latest_ttl_s * 1000))
    await pipe.execute()
    return key


async def latest_seqs(store: Store, camera_ids: list[str]) -> dict[str, int]:
    """The newest frame's seq of each camera that has one."""
    raws = await store.many_bytes([latest_seq_key(c) for c in camera_ids]) if camera_ids else []
    return {c: int(raw) for c, raw in zip(camera_ids, raws, strict=True) if raw is not None}
