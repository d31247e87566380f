"""Camera anomalies as a pure function of a camera's memory and one frame's measurements.

Each frame is judged against the camera's own learned baseline (the scene, its usual sharpness, how much
it usually changes between frames, the detail in each part of the view), never against one constant for
every camera. The baseline is learned over a warm-up and then follows slow changes (day into night) from
frames that look normal, so a blurred or covered view never teaches it that blur is normal.

black     the picture is gone: no spread at all (a blank screen; a dark one with hardly any), or nearly all of
          the view dark (a clock overlay may still be drawn on it) unless it is a live view of a dark scene: a
          sensor's grain in it, and, once the camera has a learned view, the learned view still in it (an unlit
          road at night keeps its lamps where they were; a lost picture keeps nothing but the overlay). The
          learned view follows dusk into the night, so the night is judged against the night
covered   most of the detailed part of the view lost its detail at once, the scene no longer matches and some
          light is kept (a cover is lit by what leaks round it, a lost video is not); or a partial cover: one
          contiguous block of cells (not scattered ones) lost its detail at once while the detail elsewhere held
          and the rest of the view still matches the scene (the covered share is reported); a turn, which also
          empties a block, is told apart by the whole view's shift
frozen    the same JPEG again, or a change from the last frame far below the camera's usual change with the
          sensor's grain gone too (where there is noise to see: a still street at night is not a stuck picture)
blurred   the finer bands of detail fell against the coarser ones in most of the cells that used to be sharp
          (defocus takes fine detail everywhere at once, whatever the light), or the global sharpness far
          below the camera's own median; while the scene still matches
moved     the view no longer matches the learned scene (low correlation, or shifted) over its uncovered part
offline   no frame for `offline_intervals` intervals: a timer in the processor, cleared by the next frame
          captured after the newest frame known when offline was raised (a backlog's older frames clear nothing)

The baseline learns only from frames that look normal and whose detail held in most cells, or that follow the
last learned frame closely (slow change): a mild defocus that stays below the alarm is a step and is never
learned as the camera's sharpness (it is relearned only after `relearn_after` frames of it, or when an
operator marks a reference view). A first baseline with almost no
detail is reported as suspect.

Hysteresis: an anomaly is raised after `raise_after` frames in a row and cleared after `clear_after`.
A frame that is black is not judged for anything else, and a covered one not for blur, frozen or moved:
their verdicts are masked (counters left as they are), not taken as evidence either way. No check sits
behind a motion gate: a covered lens is one huge "motion".
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

import cv2
import msgspec
import numpy as np

from processors.cctv.config import CameraDetection
from processors.cctv.events import CameraAnomalyKind, CameraState
from processors.cctv.measure import (
    GRID,
    THUMB,
    Measurements,
    correlation,
    frame_change,
    grain_change,
    shift,
    thumb_array,
)

WINDOW = 32  # recent values of normal frames kept for the sharpness and change medians
LEARN_RATE = 0.05  # how fast the learned scene and detail follow slow change, per normal frame
TEXTURED = 0.3  # cells with less learned detail than this share of the median cell (sky, walls) are not judged
MIN_SHARPNESS = 0.05  # a camera whose view has hardly any fine detail (fog, a blank wall) is not judged for blur
LOST = 0.3  # a cell lost its detail below this share of what it learned
BLURRED_CELL = 0.92  # a cell's detail ratio (fine to coarse bands, against what it learned) counts as blurred below this
BLURRED_CELLS = 0.6  # ... and blur needs this share of the textured cells to be blurred
LEARN_ABOVE = 0.93  # a frame teaches the baseline when its median cell detail ratio is at least this ...
DRIFT = 0.02  # ... or within this of the last frame's, which taught it too (slow change, not a step)
LEVEL_CHANGE = 0.25  # a covered cell's mean level moved by this share of what it learned (and at least 10 levels)
GRAIN_NOISE = 0.3  # with less sensor noise than this the grain cannot tell a stuck picture from a still scene
GRAIN_STILL = 0.3  # a stuck picture's grain changes by less than this share of the noise (a live one's by ~1.1)
NOISE_FREE = 0.3  # a picture with less sensor noise than this (grey levels) was generated, not seen
SUSPECT_DETAIL = 0.5  # a first baseline whose median cell has less detail than this is suspect
MIN_RESPONSE = 0.1  # a phase-correlation shift counts only with at least this peak ...
SHIFTED_BELOW = 0.8  # ... and when the view also correlates less than this (not a crowd walking across)
STRUCTURE = 4.0  # a learned cell's thumbnail spread (grey levels) below which its shape is not compared
STILL_LEVELS = 4.0  # a cell whose thumbnail moved less than this (mean grey levels) since the last frame held still
OTHER_CELL = 0.5  # a cell whose thumbnail correlates with the learned one's below this may show another picture ...
OTHER_PICTURE = 0.15  # ... and a block of them does when its cells' median correlation is below this
ACTIVITY_EVERY_S = 30.0
PRIORITY: tuple[CameraAnomalyKind, ...] = ("offline", "black", "covered", "moved", "frozen", "blurred")


class Track(msgspec.Struct, kw_only=True):
    active: bool = False
    run: int = 0  # frames in a row that disagree with `active`
    since: datetime | None = None  # raised at (active), or when the current run began


class AnomalyMark(msgspec.Struct, kw_only=True):
    """An anomaly raised on a frame: what, when, and the frame it was seen on (while the store keeps it)."""

    kind: str
    at: datetime
    frame_key: str = ""


class CameraMemory(msgspec.Struct, kw_only=True):
    """What the processor keeps of one camera (in Redis, so any instance can take the camera over)."""

    camera_id: str
    learned: int = 0  # frames that taught the baseline
    seq: int = 0
    at: datetime | None = None
    sha256: str = ""
    thumb: bytes = b""
    reference: bytes = b""  # the learned scene: THUMB as float16
    # per cell of GRID, as float32 bytes: learned detail, fine-to-mid and mid-to-coarse detail ratios, mean level
    detail: bytes = b""
    fine: bytes = b""
    coarse: bytes = b""
    levels: bytes = b""
    unlearned: int = 0  # normal-looking frames in a row whose detail was too far from the baseline to learn from
    grain: bytes = b""  # the last frame's grain samples (measure.Measurements.grain)
    detail_ratio: float = 1.0  # the last frame's median cell detail ratio against the baseline
    followed: bool = True  # the last frame taught the baseline
    suspect: bool = False  # the first baseline had almost no detail (blurred, fogged or covered from the start)
    reference_at: datetime | None = None  # when an operator last marked the view as the good one
    width: int = 0  # the latest frame's width
    sharpness: list[float] = []
    changes: list[float] = []
    tracks: dict[str, Track] = {}
    state: CameraState = "ok"
    since: datetime | None = None
    moved_frames: int = 0
    motion: float = 0.0
    people: int | None = None
    activity_at: datetime | None = None
    marks: list[AnomalyMark] = []  # the last anomalies raised, newest last (the wall's detail view shows them)
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


@dataclass(frozen=True, slots=True)
class Cells:
    """One frame's cells against the camera's learned cells."""

    lost: float = 0.0  # share of the textured cells that lost their detail
    blur: float = 1.0  # median detail ratio over the textured cells (1: as sharp as learned)
    blurred: float = 0.0  # share of the textured cells whose detail ratio fell below BLURRED_CELL
    covered: float = 0.0  # share of the view in the largest contiguous block of lost (or newly levelled, flat) cells
    block: np.ndarray | None = None  # that block's cells (GRID[1] x GRID[0], bool), when there is one
    kept: float = 1.0  # median detail kept (have over want) by the textured cells outside the block


def _middle(values: np.ndarray) -> float:
    """The median (the upper one of an even count): a partition, a fraction of np.median's cost on 144 cells."""
    k = values.size // 2
    return float(np.partition(values, k)[k])


def cell_array(data: bytes) -> np.ndarray:
    return np.frombuffer(data, np.float32)


def cell_match(reference: np.ndarray, thumb: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of GRID: the correlation of the thumbnail's pixels with the learned scene's (light cancels out),
    and whether the learned cell has structure enough for it to mean anything."""
    h, w = THUMB[1] // GRID[1], THUMB[0] // GRID[0]
    ref = reference.reshape(GRID[1], h, GRID[0], w).transpose(0, 2, 1, 3).reshape(GRID[1] * GRID[0], h * w)
    now = thumb_array(thumb).reshape(GRID[1], h, GRID[0], w).transpose(0, 2, 1, 3).reshape(GRID[1] * GRID[0], h * w)
    ref = ref - ref.mean(axis=1, keepdims=True)
    now = now - now.mean(axis=1, keepdims=True)
    spread = np.sqrt((ref * ref).sum(axis=1) * (now * now).sum(axis=1))
    structured = ref.std(axis=1) >= STRUCTURE
    return np.where(spread > 1e-6, (ref * now).sum(axis=1) / np.maximum(spread, 1e-6), 0.0), structured


def cell_still(previous: bytes, thumb: bytes) -> np.ndarray:
    """Per cell of GRID: whether the thumbnail held still since the last frame (a sign hung in front does; the
    traffic passing does not)."""
    h, w = THUMB[1] // GRID[1], THUMB[0] // GRID[0]
    diff = np.abs(thumb_array(thumb) - thumb_array(previous))
    return diff.reshape(GRID[1], h, GRID[0], w).mean(axis=(1, 3)).ravel() < STILL_LEVELS


def _cells_against(memory: CameraMemory, m: Measurements, reference: np.ndarray | None = None) -> Cells:
    want, have = cell_array(memory.detail), m.cells
    if want.size != have.size or not want.size:
        return Cells()
    textured = want >= max(0.1, TEXTURED * _middle(want))
    count = int(textured.sum())
    if count < 4:
        return Cells()
    lost_cells = textured & (have < LOST * want)
    out = {"lost": float(lost_cells.sum()) / count}
    fine, coarse = cell_array(memory.fine), cell_array(memory.coarse)
    if fine.size == m.fine.size == want.size and coarse.size == want.size:
        by_fine = (m.fine / np.maximum(fine, 1e-3))[textured]
        by_coarse = (m.coarse / np.maximum(coarse, 1e-3))[textured]
        # the lower of the two bands' medians (a median over the cells each: the minimum of two noisy ratios would
        # sit below 1 on every normal frame), and the share of cells where either band fell
        out |= {"blur": min(_middle(by_fine), _middle(by_coarse)),
                "blurred": float(np.count_nonzero(np.minimum(by_fine, by_coarse) < BLURRED_CELL)) / count}
    was, now = cell_array(memory.levels), m.levels
    # cells whose picture is another one: a cover with a texture of its own keeps detail, not the scene's shape
    other = np.zeros_like(lost_cells)
    match, structured = np.ones(want.size, np.float32), np.zeros_like(lost_cells)
    if reference is not None and len(memory.thumb) == len(m.thumb):
        match, structured = cell_match(reference, m.thumb)
        other = textured & structured & (match < OTHER_CELL) & cell_still(memory.thumb, m.thumb)
        # a texture matches the scene's by chance in a cell here and there: the block is what is left once closed
        other = cv2.morphologyEx(other.reshape(GRID[1], GRID[0]).astype(np.uint8), cv2.MORPH_CLOSE,
                                 np.ones((3, 3), np.uint8)).astype(bool).ravel() & textured
    evidence = lost_cells | other
    if was.size == now.size == want.size and evidence.sum() >= 4:
        changed = np.abs(now - was) > np.maximum(10.0, LEVEL_CHANGE * was)
        candidate = (evidence | (~textured & changed)).astype(np.uint8)
        blocks, labels = cv2.connectedComponents(candidate.reshape(GRID[1], GRID[0]), connectivity=4)
        best, size = None, 0
        for label in range(1, blocks):
            block = labels == label
            # lost detail, or another picture where the scene was: over the block's cells, the scene's shape is
            # gone (traffic passing leaves most of it; a sign or a cloth hung in front leaves none)
            inside = block.ravel()
            compared = inside & structured
            strong = int((inside & lost_cells).sum()) >= 4 or (
                int((inside & other).sum()) >= 4 and int(compared.sum()) >= 4 and
                _middle(match[compared]) < OTHER_PICTURE)
            if strong and int(block.sum()) > size:
                best, size = block, int(block.sum())
        if best is not None:  # the rest of the view, less the cells along the block's edge (partly covered)
            edge = cv2.dilate(best.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool).ravel()
            outside = textured & ~edge
            kept = _middle(have[outside] / want[outside]) if outside.sum() >= 4 else 0.0
            out |= {"covered": size / len(want), "block": best, "kept": kept}
    return Cells(**out)  # type: ignore[arg-type]


def _uncovered(reference: np.ndarray, thumb: bytes, block: np.ndarray | None) -> bytes:
    """The thumbnail with a covered block filled from the learned scene, so only the rest of the view is compared."""
    if block is None:
        return thumb
    mask = cv2.resize(block.astype(np.uint8), THUMB, interpolation=cv2.INTER_NEAREST).astype(bool)
    view = thumb_array(thumb)
    view[mask] = reference[mask]
    return view.round().clip(0, 255).astype(np.uint8).tobytes()


def _median_level(m: Measurements) -> float:
    return _middle(m.levels) if m.levels.size else m.mean


def _dark(detect: CameraDetection, m: Measurements) -> bool:
    """Nearly all of the view dark, with next to no light in it (a clock overlay may still be drawn), or dark
    with hardly any spread."""
    most = bool(m.levels.size) and np.count_nonzero(m.levels < detect.black_mean) >= 0.85 * m.levels.size and \
        _median_level(m) < detect.black_light
    return most or (m.mean < detect.black_mean and m.std < detect.black_std)


def _black(detect: CameraDetection, m: Measurements, *, matches: bool) -> bool:
    """The picture is gone: blank, or dark and not a live view of the scene (a sensor's grain, and `matches`:
    the learned view is still in it, or there is none yet to compare with)."""
    if m.std < detect.blank_std:
        return True
    return _dark(detect, m) and not (m.noise >= NOISE_FREE and matches)


def observe(detect: CameraDetection, memory: CameraMemory, m: Measurements, *, seq: int, at: datetime,
            sha256: str, relearn_after: int = 360) -> Verdict:
    """Judge one frame; an old or repeated frame (seq not newer) changes nothing."""
    if seq <= memory.seq:
        return Verdict(memory, [], {})
    warm = memory.learned >= detect.warmup
    reference = _reference(memory)
    identical = sha256 == memory.sha256
    change, motion = frame_change(memory.thumb, m.thumb) if memory.thumb else (None, 0.0)
    usual_change = _median(memory.changes)
    usual_sharpness = _median(memory.sharpness)
    # the sensor's grain between this frame and the last: gone on a stuck picture, where there is noise to see
    grain = grain_change(memory.grain, m.grain) if len(memory.grain) == len(m.grain) and m.grain else None
    grainless = grain is None or m.noise < GRAIN_NOISE or grain < GRAIN_STILL * m.noise
    # another picture over a block is looked for only in a live one (a frozen frame holds still everywhere)
    cells = _cells_against(memory, m, reference if warm and not identical and not grainless else None)
    whole = 1.0 if reference is None else correlation(reference, m.thumb)
    # the whole view shifted (phase correlation; only where it correlates less than SHIFTED_BELOW): a turn, which
    # also empties a block of cells, and is not a partial cover
    moved_by, response = shift(reference, m.thumb) if reference is not None and whole < SHIFTED_BELOW else (0.0, 0.0)
    shifted = moved_by >= detect.moved_shift and response >= MIN_RESPONSE and whole < SHIFTED_BELOW
    partial = warm and reference is not None and not shifted and detect.partial_share <= cells.covered and \
        cells.kept >= 0.5
    # a partial cover leaves the rest of the view to be compared: moved needs the uncovered part to have changed
    corr = correlation(reference, _uncovered(reference, m.thumb, cells.block)) if partial and reference is not None \
        else whole
    sharp_ratio = m.sharpness / usual_sharpness if usual_sharpness else 1.0

    lit = _median_level(m) >= detect.black_light and not (m.std < detect.blank_std and m.noise < NOISE_FREE)
    full_cover = warm and lit and cells.lost >= detect.covered_share and whole < detect.moved_correlation
    # a dark view is the scene where the learned view is still in it (or none is learned yet: it is being learned)
    known = not warm or reference is None or whole >= detect.moved_correlation
    verdicts: dict[str, bool] = {"black": not full_cover and _black(detect, m, matches=known)}
    if not verdicts["black"]:
        if warm:
            verdicts["covered"] = full_cover or (partial and corr >= detect.moved_correlation)
        if not verdicts.get("covered"):
            # still: far less change than usual, and (where the sensor's noise is there to see) none of its grain
            still = change is not None and warm and usual_change is not None and \
                change < detect.frozen_ratio * usual_change and grainless
            verdicts["frozen"] = identical or still
            if warm:
                matches = corr >= detect.moved_correlation
                if usual_sharpness is not None and usual_sharpness >= MIN_SHARPNESS:
                    verdicts["blurred"] = sharp_ratio < detect.blur_ratio or \
                        (matches and cells.blur < detect.blur_cells and cells.blurred >= BLURRED_CELLS)
                verdicts["moved"] = not matches or shifted

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

    after = msgspec.structs.replace(memory, seq=seq, at=at, sha256=sha256, thumb=m.thumb, failure="", grain=m.grain,
                                    detail_ratio=round(cells.blur, 4),
                                    motion=motion,
                                    people=m.people if m.people is not None else memory.people)
    if any(verdicts.values()):
        after = msgspec.structs.replace(after, followed=False)
    else:
        # only a frame whose detail held teaches the baseline: a mild defocus below the alarm is a step, and is never
        # learned; slow change (haze, dusk, lamps coming on) is followed frame by frame, each close to the last
        held = cells.blur >= LEARN_ABOVE or (memory.followed and abs(cells.blur - memory.detail_ratio) <= DRIFT)
        if not warm or (held and cells.lost < 0.15 and cells.covered < detect.partial_share / 2 and sharp_ratio >= 0.7):
            after = _learn(after, m, reference, change, detect)
        else:
            after = msgspec.structs.replace(after, unlearned=after.unlearned + 1, followed=False)
    moved = tracks.get("moved", Track()).active
    after = msgspec.structs.replace(after, moved_frames=after.moved_frames + 1 if moved else 0)
    if (moved and after.moved_frames >= relearn_after) or after.unlearned >= relearn_after:
        after = _learn(relearned(after), m, None, change, detect)  # turned or changed for good: learn the new view
    after = _with_state(after, tracks, at)
    metrics = {"mean": m.mean, "std": m.std, "sharpness_ratio": sharp_ratio, "correlation": corr,
               "shift": moved_by, "lost_share": cells.lost, "detail_ratio": cells.blur,
               "covered_share": max(cells.covered if partial else 0.0, cells.lost if full_cover else 0.0),
               "motion": after.motion}
    if change is not None and usual_change:
        metrics["change_ratio"] = change / usual_change
    after, activity = _activity(after, at)
    return Verdict(after, changes, {k: round(v, 4) for k, v in metrics.items()}, activity)


def relearned(memory: CameraMemory) -> CameraMemory:
    """The baseline forgotten, to be learned afresh from the next frames."""
    return msgspec.structs.replace(memory, reference=b"", detail=b"", fine=b"", coarse=b"", levels=b"", sharpness=[],
                                   learned=0, moved_frames=0, unlearned=0, suspect=False)


def _follow(old: bytes, new: np.ndarray, rate: float) -> bytes:
    was = cell_array(old)
    return (new if was.size != new.size else (1 - rate) * was + rate * new).astype(np.float32).tobytes()


def _learn(memory: CameraMemory, m: Measurements, reference: np.ndarray | None, change: float | None,
           detect: CameraDetection | None = None) -> CameraMemory:
    """Fold a normal frame into the baseline: a running mean over the warm-up, then a slow follow."""
    rate = max(LEARN_RATE, 1.0 / (memory.learned + 1))
    thumb = thumb_array(m.thumb)
    scene = thumb if reference is None else (1 - rate) * reference + rate * thumb
    changes = memory.changes if change is None or change == 0 else [*memory.changes, round(change, 4)][-WINDOW:]
    after = msgspec.structs.replace(
        memory, learned=memory.learned + 1, reference=scene.astype(np.float16).tobytes(),
        detail=_follow(memory.detail, m.cells, rate), fine=_follow(memory.fine, m.fine, rate),
        coarse=_follow(memory.coarse, m.coarse, rate), levels=_follow(memory.levels, m.levels, rate),
        sharpness=[*memory.sharpness, round(m.sharpness, 4)][-WINDOW:], changes=changes, unlearned=0, followed=True)
    if detect is not None and after.learned == detect.warmup:  # the first baseline is complete: is it believable?
        detail = _middle(cell_array(after.detail)) if after.detail else 0.0
        after = msgspec.structs.replace(after, suspect=detail < SUSPECT_DETAIL or
                                        (_median(after.sharpness) or 0.0) < MIN_SHARPNESS)
    return after


def mark_reference(memory: CameraMemory, m: Measurements, at: datetime, detect: CameraDetection) -> tuple[CameraMemory, list[Change]]:
    """An operator marked this frame as the camera's good view: it becomes the whole baseline at once, and the
    tamper anomalies judged against the old one (blurred, covered, moved) are cleared."""
    memory = msgspec.structs.replace(_learn(relearned(memory), m, None, None), learned=detect.warmup)
    tracks = dict(memory.tracks)
    changes = [Change(kind, False, at) for kind in ("covered", "moved", "blurred")  # type: ignore[arg-type]
               if tracks.get(kind, Track()).active]
    for change in changes:
        tracks[change.kind] = Track()
    memory = msgspec.structs.replace(_with_state(memory, tracks, at), reference_at=at, suspect=False)
    return memory, changes


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
    seen = max((t for t in (memory.at, newest) if t is not None), default=None)
    since = seen or now  # silent since the newest frame anyone captured, not since the processor last looked
    tracks = {**memory.tracks, "offline": Track(active=True, since=since)}
    return msgspec.structs.replace(_with_state(memory, tracks, now), offline_seen=seen), [Change("offline", True, since)]


def failed(memory: CameraMemory, reason: str) -> CameraMemory:
    """A poll failed: remember why, for the offline anomaly's detail and the wall."""
    return msgspec.structs.replace(memory, failure=reason[:300])
