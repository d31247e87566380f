"""Judge a sequence of JPEGs as the processor would, without a bus or a store: for tests and benchmarks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from processors.cctv import decide
from processors.cctv import measure as measuring
from processors.cctv.config import CameraDetection
from processors.cctv.decide import CameraMemory, Change


@dataclass(frozen=True, slots=True)
class Judged:
    index: int
    change: Change


@dataclass(frozen=True, slots=True)
class Detector:
    """The two halves of the analysis: a JPEG's measurements, and a frame's judgement against the memory.
    The benchmark puts an earlier version of both beside the current one."""

    measure: Callable[[bytes, int], Any] = measuring.measure
    observe: Callable[..., Any] = decide.observe
    memory: Callable[..., Any] = CameraMemory


CURRENT = Detector()


@dataclass
class Replayed:
    judged: list[Judged]
    memory: Any
    states: list[str] = field(default_factory=list)  # the camera's state after each frame


def run(frames: Iterable[bytes], *, width: int, interval: float, start: datetime,
        detect: CameraDetection | None = None, camera_id: str = "cam", detector: Detector = CURRENT) -> Replayed:
    """Every anomaly raised or cleared over `frames`, with the index of the frame that decided it."""
    detect = detect or CameraDetection()
    memory = detector.memory(camera_id=camera_id)
    out = Replayed([], memory)
    for i, data in enumerate(frames):
        at = start + timedelta(seconds=i * interval)
        verdict = detector.observe(detect, memory, detector.measure(data, width), seq=i + 1, at=at,
                                   sha256=hashlib.sha256(data).hexdigest())
        memory = verdict.memory
        out.judged.extend(Judged(i, change) for change in verdict.changes)
        out.states.append(memory.state)
    out.memory = memory
    return out


def replay(frames: Iterable[bytes], *, width: int, interval: float, start: datetime,
           detect: CameraDetection | None = None, camera_id: str = "cam") -> tuple[list[Judged], CameraMemory]:
    """Every anomaly raised or cleared over `frames`, with the index of the frame that decided it."""
    done = run(frames, width=width, interval=interval, start=start, detect=detect, camera_id=camera_id)
    return done.judged, done.memory
