"""Camera anomalies as a pure function of a camera's memory and one frame's measurements.

Each frame is judged against the camera's own learned baseline (the scene, its usual sharpness, how much
it usually changes between frames, the detail in each part of the view), never against one constant for
every camera. The baseline is learned over a warm-up and then follows slow changes (day into night) from
frames that look normal, so a blurred or covered view never teaches it that blur is normal.

black     mean and spread very low (video lost), or no spread at all at any level (a blank screen)
covered   most of the detailed part of the view lost its detail at once, and the scene no longer matches
frozen    the same JPEG again, or a change from the last frame far below the camera's usual change
blurred   sharpness far below the camera's own median, while the scene still matches
moved     the view no longer matches the learned scene (low correlation, or shifted), detail intact
offline   no frame for `offline_intervals` intervals: a timer in the processor, cleared by the next frame
          captured after the newest frame known when offline was raised (a backlog's older frames clear nothing)

Hysteresis: an anomaly is raised after `raise_after` frames in a row and cleared after `clear_after`.
A frame that is black is not judged for anything else, and a covered one not for blur, frozen or moved:
their verdicts are masked (counters left as they are), not taken as evidence either way. No check sits
behind a motion gate: a covered lens is one huge "motion".
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

import msgspec
import numpy as np

from processors.cctv.config import CameraDetection
from processors.cctv.events import CameraAnomalyKind, CameraState
from processors.cctv.measure import (
    THUMB,
    Measurements,
    correlation,
    frame_change,
    motion_share,
    shift,
    thumb_array,
)

WINDOW = 32  # recent values of normal frames kept for the sharpness and change medians
LEARN_RATE = 0.05  # how fast the learned scene and detail follow slow change, per normal frame
TEXTURED = 0.3  # cells with less learned detail than this share of the median cell (sky, walls) are not judged
MIN_SHARPNESS = 0.05  # a camera whose view has hardly any fine detail (fog, a blank wall) is not judged for blur
LOST = 0.3  # a cell lost its detail below this share of what it learned
MIN_RESPONSE = 0.1  # a phase-correlation shift counts only with at least this peak ...
SHIFTED_BELOW = 0.8  # ... and when the view also correlates less than this (not a crowd walking across)
ACTIVITY_EVERY_S = 30.0
PRIORITY: tuple[CameraAnomalyKind, ...] = ("offline", "black", "covered", "moved", "frozen", "blurred")


class Track(msgspec.Struct, kw_only=True):
    active: bool = False
    run: int = 0  # frames in a row that disagree with `active`
    since: datetime | None = None  # raised at (active), or when the current run began


class CameraMemory(msgspec.Struct, kw_only=True):
    """What the processor keeps of one camera (in Redis, so any instance can take the camera over)."""

    camera_id: str
    learned: int = 0  # frames that taught the baseline
    seq: int = 0
    at: datetime | None = None
    sha256: str = ""
    thumb: bytes = b""
    reference: bytes = b""  # the learned scene: THUMB as float16
    cells: list[float] = []
    sharpness: list[float] = []
    changes: list[float] = []
    tracks: dict[str, Track] = {}
    state: CameraState = "ok"
    since: datetime | None = None
    moved_frames: int = 0
    motion: float = 0.0
    people: int | None = None
    activity_at: datetime | None = None
    activity: str = ""
    failure: str = ""
    # when offline was raised, the newest capture time anyone had seen (the ingest's latest frame included):
    # only a frame captured after it is proof of life; an older one, still in a backlog, clears nothing
    offline_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class Change:
    kind: CameraAnomalyKind
    active: bool
    since: datetime


@dataclass(frozen=True, slots=True)
class Verdict:
    memory: CameraMemory
    changes: list[Change]
    metrics: dict[str, float]
    activity: bool = False


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _reference(memory: CameraMemory) -> np.ndarray | None:
    if not memory.reference:
        return None
    return np.frombuffer(memory.reference, np.float16).reshape(THUMB[1], THUMB[0]).astype(np.float32)


def _lost_share(learned: list[float], cells: tuple[float, ...]) -> float:
    floor = max(0.1, TEXTURED * statistics.median(learned)) if learned else 0.0
    pairs = [(want, have) for want, have in zip(learned, cells, strict=False) if want >= floor]
    if len(pairs) < 4:
        return 0.0
    return sum(have < LOST * want for want, have in pairs) / len(pairs)


def _step(track: Track, condition: bool, at: datetime, detect: CameraDetection) -> tuple[Track, bool]:
    """Advance one kind's hysteresis by a frame; True when its state flips."""
    if condition == track.active:
        return Track(active=track.active, since=track.since if track.active else None), False
    run = track.run + 1
    started = track.since if track.run and not track.active else at
    needed = detect.clear_after if track.active else detect.raise_after
    if run >= needed:
        return Track(active=condition, since=started if condition else None), True
    return Track(active=track.active, run=run, since=track.since if track.active else started), False


def state_of(tracks: dict[str, Track]) -> CameraState:
    return next((k for k in PRIORITY if tracks.get(k, Track()).active), "ok")


def _with_state(memory: CameraMemory, tracks: dict[str, Track], at: datetime) -> CameraMemory:
    state = state_of(tracks)
    since = memory.since if state == memory.state and memory.since else at
    if state != "ok":
        since = tracks[state].since or since
    return msgspec.structs.replace(memory, tracks=tracks, state=state, since=since)


def observe(detect: CameraDetection, memory: CameraMemory, m: Measurements, *, seq: int, at: datetime,
            sha256: str, relearn_after: int = 360) -> Verdict:
    """Judge one frame; an old or repeated frame (seq not newer) changes nothing."""
    if seq <= memory.seq:
        return Verdict(memory, [], {})
    warm = memory.learned >= detect.warmup
    reference = _reference(memory)
    identical = sha256 == memory.sha256
    change = frame_change(memory.thumb, m.thumb) if memory.thumb else None
    usual_change = _median(memory.changes)
    usual_sharpness = _median(memory.sharpness)
    corr, (moved_by, response) = (1.0, (0.0, 1.0)) if reference is None else \
        (correlation(reference, m.thumb), shift(reference, m.thumb))
    lost = _lost_share(memory.cells, m.cells)
    sharp_ratio = m.sharpness / usual_sharpness if usual_sharpness else 1.0

    verdicts: dict[str, bool] = {"black": (m.mean < detect.black_mean and m.std < detect.black_std)
                                 or m.std < detect.blank_std}
    if not verdicts["black"]:
        if warm:
            verdicts["covered"] = lost >= detect.covered_share and corr < detect.moved_correlation
        if not verdicts.get("covered"):
            still = change is not None and warm and usual_change is not None and \
                change < detect.frozen_ratio * usual_change
            verdicts["frozen"] = identical or still
            if warm:
                if usual_sharpness is not None and usual_sharpness >= MIN_SHARPNESS:
                    verdicts["blurred"] = sharp_ratio < detect.blur_ratio
                verdicts["moved"] = corr < detect.moved_correlation or \
                    (moved_by >= detect.moved_shift and response >= MIN_RESPONSE and corr < SHIFTED_BELOW)

    tracks = dict(memory.tracks)
    changes: list[Change] = []
    offline = tracks.get("offline")
    if offline is not None and offline.active and (memory.offline_seen is None or at > memory.offline_seen):
        tracks["offline"] = Track()  # a frame captured after offline was raised is proof of life: it clears at once
        changes.append(Change("offline", False, at))
    for kind, condition in verdicts.items():
        track, flipped = _step(tracks.get(kind, Track()), condition, at, detect)
        tracks[kind] = track
        if flipped:
            changes.append(Change(kind, track.active, track.since or at))  # type: ignore[arg-type]

    after = msgspec.structs.replace(memory, seq=seq, at=at, sha256=sha256, thumb=m.thumb, failure="",
                                    motion=motion_share(memory.thumb, m.thumb) if memory.thumb else 0.0,
                                    people=m.people if m.people is not None else memory.people)
    normal = not any(verdicts.values())
    if normal:
        after = _learn(after, m, reference, change)
    moved = tracks.get("moved", Track()).active
    after = msgspec.structs.replace(after, moved_frames=after.moved_frames + 1 if moved else 0)
    if moved and after.moved_frames >= relearn_after:  # turned for good: learn the new view afresh
        after = msgspec.structs.replace(after, reference=b"", cells=[], learned=0, moved_frames=0)
        after = _learn(after, m, None, change)
    after = _with_state(after, tracks, at)
    metrics = {"mean": m.mean, "std": m.std, "sharpness_ratio": sharp_ratio, "correlation": corr,
               "shift": moved_by, "lost_share": lost, "motion": after.motion}
    if change is not None and usual_change:
        metrics["change_ratio"] = change / usual_change
    after, activity = _activity(after, at)
    return Verdict(after, changes, {k: round(v, 4) for k, v in metrics.items()}, activity)


def _learn(memory: CameraMemory, m: Measurements, reference: np.ndarray | None, change: float | None) -> CameraMemory:
    """Fold a normal frame into the baseline: a running mean over the warm-up, then a slow follow."""
    rate = max(LEARN_RATE, 1.0 / (memory.learned + 1))
    thumb = thumb_array(m.thumb)
    scene = thumb if reference is None else (1 - rate) * reference + rate * thumb
    cells = list(m.cells) if not memory.cells else \
        [round((1 - rate) * a + rate * b, 3) for a, b in zip(memory.cells, m.cells, strict=False)]
    changes = memory.changes if change is None or change == 0 else [*memory.changes, round(change, 4)][-WINDOW:]
    return msgspec.structs.replace(
        memory, learned=memory.learned + 1, reference=scene.astype(np.float16).tobytes(), cells=cells,
        sharpness=[*memory.sharpness, round(m.sharpness, 4)][-WINDOW:], changes=changes)


def _band(memory: CameraMemory) -> str:
    level = "still" if memory.motion < 0.01 else "some" if memory.motion < 0.1 else "busy"
    return f"{level}:{memory.people if memory.people is not None else '-'}"


def _activity(memory: CameraMemory, at: datetime) -> tuple[CameraMemory, bool]:
    """Report activity when its band or the people count changes, at most every ACTIVITY_EVERY_S."""
    band = _band(memory)
    if band == memory.activity:
        return memory, False
    if memory.activity_at is not None and (at - memory.activity_at).total_seconds() < ACTIVITY_EVERY_S:
        return memory, False
    return msgspec.structs.replace(memory, activity=band, activity_at=at), True


def went_offline(memory: CameraMemory, now: datetime, *, newest: datetime | None = None) -> tuple[CameraMemory, list[Change]]:
    """The offline timer fired with no frame captured for the camera's window: raise offline once. `newest` is
    the newest capture time known (the ingest's latest frame, which may still be in a backlog): only a frame
    captured after it clears the offline."""
    track = memory.tracks.get("offline", Track())
    if track.active:
        return memory, []
    since = memory.at or now
    seen = max((t for t in (memory.at, newest) if t is not None), default=None)
    tracks = {**memory.tracks, "offline": Track(active=True, since=since)}
    return msgspec.structs.replace(_with_state(memory, tracks, now), offline_seen=seen), [Change("offline", True, since)]


def failed(memory: CameraMemory, reason: str) -> CameraMemory:
    """A poll failed: remember why, for the offline anomaly's detail and the wall."""
    return msgspec.structs.replace(memory, failure=reason[:300])
