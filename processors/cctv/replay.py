"""Judge a sequence of JPEGs as the processor would, without a bus or a store: for tests and benchmarks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from processors.cctv.config import CameraDetection
from processors.cctv.decide import CameraMemory, Change, observe
from processors.cctv.measure import measure


@dataclass(frozen=True, slots=True)
class Judged:
    index: int
    change: Change


def replay(frames: Iterable[bytes], *, width: int, interval: float, start: datetime,
           detect: CameraDetection | None = None, camera_id: str = "cam") -> tuple[list[Judged], CameraMemory]:
    """Every anomaly raised or cleared over `frames`, with the index of the frame that decided it."""
    detect = detect or CameraDetection()
    memory = CameraMemory(camera_id=camera_id)
    out: list[Judged] = []
    for i, data in enumerate(frames):
        at = start + timedelta(seconds=i * interval)
        verdict = observe(detect, memory, measure(data, width), seq=i + 1, at=at,
                          sha256=hashlib.sha256(data).hexdigest())
        memory = verdict.memory
        out.extend(Judged(i, change) for change in verdict.changes)
    return out, memory
