"""CCTV: 1080p frames analysed per second per core, and the ingest holding 1,000 cameras.

Analysis: 1080p JPEGs of real photographs (tiles of scikit-image's sample photographs at their own scale)
, of camera sequences built from them (processors/cctv/photoscenes.py: day, a crowd, night) and of rendered
street scenes, each analysed by the processor's path (greyscale decode at a reduced scale
through libjpeg's DCT scaling, every measurement but people counting, then the judgement against the
camera's memory), beside the bare reduced greyscale decode of the same frames (the floor: what a core can
ever do) and a full-colour, full-resolution decode path doing the same checks, one thread, in the same run. CPU time per frame, so the figure is per
core. Then the whole processor (fetch from Redis, measure in its pool, judge, write) on all cores.

Ingest: 1,000 snapshot cameras polled every 10 s from a local server in a second process, frames into a
real redis-server: share of polls started late, the ingest's resident memory, and Redis's memory beside
the bound that the frame TTL sets.

    python bench/cctv.py [--part analysis|ingest|all] [--cameras 1000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

from bench._common import report  # noqa: E402
from command_center.bus import EmbeddedBus, Message  # noqa: E402
from command_center.clock import SystemClock  # noqa: E402
from command_center.config import parse_config  # noqa: E402
from command_center.events import encode as encode_event  # noqa: E402
from command_center.events import new_event  # noqa: E402
from command_center.runtime import ProcessorRunner  # noqa: E402
from command_center.store import Store  # noqa: E402
from command_center.store.frames import put_frame  # noqa: E402
from command_center.testing.servers import RedisServer, free_port, wait_for_port  # noqa: E402
from ingest.cctv.service import CctvIngest  # noqa: E402
from processors.cctv import (
    CCTV,  # noqa: E402
    photoscenes,  # noqa: E402
)
from processors.cctv.config import CameraDetection  # noqa: E402
from processors.cctv.decide import CameraMemory, observe  # noqa: E402
from processors.cctv.events import (  # noqa: E402
    CCTV_EVENTS,
    CCTV_SNAPSHOTS,
    CameraSnapshot,  # noqa: E402
)
from processors.cctv.measure import count_people, decode, measure, measure_image  # noqa: E402
from processors.cctv.scenes import Scene, encode  # noqa: E402

WIDTH, HEIGHT = 1920, 1080
QUALITY = 80


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def photographs(count: int, seed: int = 1) -> list[bytes]:
    """1080p mosaics of real photographs, each tile at roughly its own scale (no upscaled blur)."""
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry(),
              data.hubble_deep_field(), data.retina(), data.camera(), data.brick(), data.grass(), data.gravel()]
    photos = [p if p.ndim == 3 else np.stack([p] * 3, axis=2) for p in photos]
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        y = 0
        while y < HEIGHT:
            row = rng.choice([360, 432, 540])
            x = 0
            while x < WIDTH:
                photo = rng.choice(photos)[..., :3]
                scale = row / photo.shape[0] * rng.uniform(0.9, 1.1)
                tile = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)[:row]
                w = min(tile.shape[1], WIDTH - x)
                h = min(tile.shape[0], HEIGHT - y)
                canvas[y:y + h, x:x + w] = tile[:h, :w, ::-1]
                x += w
            y += row
        out.append(encode(canvas, QUALITY))
    return out


def scenes(count: int) -> list[bytes]:
    scene = Scene(8, WIDTH, HEIGHT, cars=5, people=4)
    return [encode(scene.render(t * 3.0, light=1.0 - 0.05 * t), QUALITY) for t in range(count)]


def full_decode_path(data: bytes) -> None:
    """The straightforward path: decode full colour at full size, convert, shrink, then the same checks."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    measure_image(cv2.resize(grey, (WIDTH // 4, HEIGHT // 4), interpolation=cv2.INTER_AREA))


def interleaved(fns, frames: list[bytes], seconds: float = 9.0) -> list[float]:  # type: ignore[no-untyped-def]
    """Frames per CPU second of each function, one thread, measured in alternating rounds so that the machine's
    drift (frequency, neighbours) falls on all of them alike."""
    done, spent = [0] * len(fns), [0.0] * len(fns)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        for i, fn in enumerate(fns):
            cpu0 = cpu_seconds()
            for data in frames:
                fn(data)
            spent[i] += cpu_seconds() - cpu0
            done[i] += len(frames)
    return [d / s for d, s in zip(done, spent, strict=True)]


def analyser():  # type: ignore[no-untyped-def]
    """The whole analysis of a frame, as the processor does it: measure, then judge against the camera's memory."""
    state = {"memory": CameraMemory(camera_id="bench"), "seq": 0}
    detect, start = CameraDetection(), datetime(2026, 1, 1, tzinfo=UTC)

    def analyse(data: bytes) -> None:
        state["seq"] += 1  # type: ignore[operator]
        seq = state["seq"]
        state["memory"] = observe(detect, state["memory"], measure(data, WIDTH), seq=seq,  # type: ignore[arg-type]
                                  at=start + timedelta(seconds=10 * seq), sha256=str(seq)).memory  # type: ignore[operator]
    return analyse


def judge_cost(frames: list[bytes]) -> float:
    """Microseconds per frame for the stateful part (comparisons with the memory, decisions)."""
    measured = [measure(f, WIDTH) for f in frames]
    memory = CameraMemory(camera_id="bench")
    detect = CameraDetection()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rounds, t0 = 400, time.perf_counter()
    for i in range(rounds):
        memory = observe(detect, memory, measured[i % len(measured)], seq=i + 1,
                         at=start + timedelta(seconds=10 * i), sha256=str(i)).memory
    return (time.perf_counter() - t0) / rounds * 1e6


async def processor_rate(redis_url: str, frames: list[bytes], total: int, *, width: int = WIDTH,
                         height: int = HEIGHT, cameras: int = 100) -> tuple[float, int]:
    """Frames per second through the cctv processor on every core: fetch, measure, judge, write, commit."""
    config = parse_config({"cameras": [{"id": f"cam-{i:04d}", "name": "c", "url": "http://127.0.0.1:1/x.jpg"}
                                       for i in range(cameras)]}, env={})
    store = Store.open(redis_url)
    await store.redis.flushall()
    bus = EmbeddedBus()
    await bus.start()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    messages = []
    for n in range(total):
        camera = f"cam-{n % cameras:04d}"
        at = start + timedelta(seconds=10 * (n // cameras))
        seq = int(at.timestamp() * 1000)
        data = frames[n % len(frames)]
        key = await put_frame(store, camera, seq, data, ttl_s=600, latest_ttl_s=600)
        event = new_event("id.go.cc.cctv.snapshot", source="/bench", subject=camera, time=at,
                          data=CameraSnapshot(camera_id=camera, frame_key=key, seq=seq, size=len(data), width=width,
                                              height=height, captured_at=at, sha256=hashlib.sha256(data).hexdigest()))
        messages.append(Message(CCTV_SNAPSHOTS, event.key, encode_event(event)))
    await bus.publish(messages)
    t0 = time.monotonic()
    async with ProcessorRunner(CCTV, bus=bus, store=store, config=config, clock=SystemClock(), poll_timeout=0.05,
                               run_ticks=False) as runner:
        while sum(bus.committed(runner.group).values()) < total:  # noqa: ASYNC110 (polls commits)
            await asyncio.sleep(0.02)
        elapsed = time.monotonic() - t0
    events = sum(bus.end_offsets(CCTV_EVENTS))
    await store.close()
    return total / elapsed, events


SERVER = """
import random, sys
from aiohttp import web
sys.path.insert(0, sys.argv[2])
from bench.cctv import photographs
frames = photographs(12, seed=7)
async def snap(request):
    return web.Response(body=random.choice(frames), content_type="image/jpeg")
app = web.Application()
app.router.add_get("/cam/{camera}.jpg", snap)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


async def ingest_run(port: int, redis: RedisServer, cameras: int, interval: float, seconds: float,
                     ttl: float) -> dict[str, object]:
    config = parse_config({
        "cameras": [{"id": f"cam-{i:04d}", "name": f"Camera {i}", "url": f"http://127.0.0.1:{port}/cam/{i}.jpg",
                     "interval": interval, "timeout": 5} for i in range(cameras)],
        "cctv": {"frame_ttl_s": ttl, "latest_ttl_s": 3600}, "ingest": {"concurrency": 200}}, env={})
    store = Store.open(redis.url)
    bus = EmbeddedBus()
    await bus.start()
    me = psutil.Process()
    rss: list[float] = []
    cpu0, t0 = cpu_seconds(), time.monotonic()
    async with CctvIngest(config, bus, store) as ingest:
        while time.monotonic() - t0 < seconds:
            await asyncio.sleep(5)
            rss.append(me.memory_info().rss / 2**20)
        started, late, skipped = ingest.scheduler.started, ingest.scheduler.late, ingest.scheduler.skipped
    cpu = (cpu_seconds() - cpu0) / (time.monotonic() - t0)
    info = await store.redis.info("memory")
    keys = await store.redis.dbsize()
    sizes = [len(f) for f in photographs(12, seed=7)]
    mean_size = statistics.mean(sizes)
    # At any moment a camera has at most floor(ttl / interval) + 1 frames alive, plus its latest copy.
    bound = cameras * (int(ttl // interval) + 2) * mean_size
    published = sum(bus.end_offsets(CCTV_SNAPSHOTS))
    await store.close()
    return {"cameras": cameras, "interval_s": interval, "seconds": seconds, "polls": started, "late": late,
            "skipped": skipped, "late_share": round(late / max(1, started), 5), "published": published,
            "ingest_cpu_share_of_core": round(cpu, 3), "ingest_rss_mb": round(max(rss), 1),
            "redis_used_mb": round(int(info["used_memory"]) / 2**20, 1), "redis_keys": keys,
            "redis_peak_mb": round(int(info["used_memory_peak"]) / 2**20, 1),
            "redis_bound_mb": round(bound / 2**20, 1), "frame_ttl_s": ttl, "mean_frame_kb": round(mean_size / 1024, 1)}


def ingest(cameras: int, interval: float, seconds: float, ttl: float) -> dict[str, object]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(Path(__file__).resolve().parent.parent)])
    redis = RedisServer(persist=False)
    redis.start()
    try:
        wait_for_port(port, proc=server, timeout=60)
        return asyncio.run(ingest_run(port, redis, cameras, interval, seconds, ttl))
    finally:
        server.terminate()
        server.wait()
        redis.stop()


def analysis() -> dict[str, object]:
    cv2.setNumThreads(1)
    photos, rendered = photographs(8), scenes(8)
    cameras = [f for seed, weather in ((11, "day"), (12, "crowd"), (13, "night"))
               for f in photoscenes.sequence(photoscenes.PhotoScene(seed, weather, frames=16))]
    figures: dict[str, object] = {}
    for label, frames in (("camera", cameras), ("photographs", photos), ("rendered", rendered)):
        floor, ours, full = interleaved([lambda d: decode(d, WIDTH), analyser(), full_decode_path], frames)
        kb = statistics.mean(len(f) for f in frames) / 1024
        figures[label] = {"frames_per_core_s": round(ours, 1), "bare_reduced_decode_per_core_s": round(floor, 1),
                          "share_of_decode": round(ours / floor, 3),
                          "full_decode_frames_per_core_s": round(full, 1), "ratio": round(ours / full, 2),
                          "mean_jpeg_kb": round(kb, 1)}
        print(f"{label:11s} 1080p JPEG {kb:5.0f} KB   analysed (measured and judged) {ours:6.1f}/s per core   "
              f"bare reduced greyscale decode {floor:6.1f}/s: {ours / floor:.2f} of it (target >= 0.85)   "
              f"full-colour full-size path {full:6.1f}/s: {ours / full:.2f}x (target >= 1.5x)")
    t0 = time.perf_counter()
    people = [count_people(f, WIDTH) for f in rendered[:4]]
    hog_ms = (time.perf_counter() - t0) / 4 * 1000
    figures["people_count_ms"] = round(hog_ms, 1)
    figures["judge_us"] = round(judge_cost(rendered), 1)
    print(f"people counting (HOG at 640 px) {hog_ms:.1f} ms a frame, found {people} in rendered scenes; "
          f"judging a measured frame {figures['judge_us']} us")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["analysis", "ingest", "all"], default="all")
    parser.add_argument("--cameras", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--ttl", type=float, default=30)
    args = parser.parse_args()
    figures: dict[str, object] = {}
    if args.part in ("analysis", "all"):
        figures.update(analysis())
        redis = RedisServer(persist=False)
        redis.start()
        try:
            rate, events = asyncio.run(processor_rate(redis.url, photographs(8) + scenes(8), 2000))
            small = [f for seed, weather in ((21, "day"), (22, "crowd"), (23, "night")) for f in photoscenes.sequence(
                photoscenes.PhotoScene(seed, weather, width=640, height=360, frames=20))]
            sub, _ = asyncio.run(processor_rate(redis.url, small, 6000, width=640, height=360, cameras=300))
        finally:
            redis.stop()
        figures["processor_frames_s"] = round(rate, 1)
        figures["processor_substream_frames_s"] = round(sub, 1)
        figures["processor_cores"] = os.cpu_count()
        print(f"cctv processor, real Redis, {os.cpu_count()} cores: {rate:.1f} 1080p frames/s end to end "
              f"({events} events); 300 cameras' 640x360 sub-streams: {sub:.1f} frames/s (300 cameras at 1 s: 300)")
    if args.part in ("ingest", "all"):
        result = ingest(args.cameras, args.interval, args.seconds, args.ttl)
        figures["ingest"] = result
        print(f"ingest: {result['cameras']} cameras every {result['interval_s']}s for {result['seconds']}s: "
              f"{result['polls']} polls, {result['late']} late ({100 * result['late_share']:.2f}%, target < 1%), "
              f"{result['ingest_cpu_share_of_core']:.0%} of a core, RSS {result['ingest_rss_mb']} MB (target < 300); "
              f"Redis {result['redis_used_mb']} MB (peak {result['redis_peak_mb']}) in {result['redis_keys']} keys, "
              f"bound from the TTL {result['redis_bound_mb']} MB")
    report("cctv", figures)


if __name__ == "__main__":
    main()
