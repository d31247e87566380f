"""Camera anomalies as a pure function of a camera's memory and rendered frames: each kind is raised after N
frames and cleared after M, at the right frame; a healthy camera whose light changes slowly or whose scene is
busy raises nothing; judgements are relative to the camera's own baseline."""

from __future__ import annotations

import hashlib
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from processors.cctv.config import CameraDetection
from processors.cctv.decide import CameraMemory, failed, observe, went_offline
from processors.cctv.measure import measure
from processors.cctv.replay import replay
from processors.cctv.scenes import FAULTS, Scene, encode, sequence

T0 = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
STEP = 10.0  # seconds between frames
DETECT = CameraDetection()


def judged(frames: list[bytes], width: int = 640, detect: CameraDetection = DETECT) -> list[tuple[int, str, bool]]:
    found, _ = replay(frames, width=width, interval=STEP, start=T0, detect=detect)
    return [(j.index, j.change.kind, j.change.active) for j in found]


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_raised_after_n_frames_and_cleared_after_m(fault: str) -> None:
    frames = list(sequence(Scene(11), frames=36, interval=STEP, fault=fault, onset=14, until=26))
    first_bad = 14 + (1 if fault == "frozen" else 0)  # the first frozen frame still differs from the one before
    raised = first_bad + DETECT.raise_after - 1
    cleared = 26 + DETECT.clear_after - 1
    assert judged(frames) == [(raised, fault, True), (cleared, fault, False)]


def test_a_raised_anomaly_dates_from_the_first_bad_frame() -> None:
    frames = list(sequence(Scene(12), frames=24, interval=STEP, fault="covered", onset=12))
    found, memory = replay(frames, width=640, interval=STEP, start=T0)
    assert [j.change.since for j in found] == [T0 + timedelta(seconds=12 * STEP)]
    assert memory.state == "covered" and memory.since == T0 + timedelta(seconds=12 * STEP)


@pytest.mark.parametrize(("label", "scene", "light"), [
    ("day into night", Scene(21), (1.0, 0.25)),
    ("night into day", Scene(22), (0.25, 1.0)),
    ("rush hour", Scene(23, cars=9, people=7), (1.0, 1.0)),
    ("a noisy sensor", Scene(24, noise=5.0), (0.9, 0.6)),
])
def test_a_healthy_camera_raises_nothing(label: str, scene: Scene, light: tuple[float, float]) -> None:
    assert judged(list(sequence(scene, frames=80, interval=STEP, light=light))) == [], label


def test_one_bad_frame_is_not_an_anomaly() -> None:
    frames = list(sequence(Scene(31), frames=30, interval=STEP, fault="black", onset=15, until=16))
    frames[22] = encode(Scene(31).render(22 * STEP, fault="covered"))
    assert judged(frames) == []


def test_a_black_frame_is_judged_black_only() -> None:
    frames = list(sequence(Scene(32), frames=30, interval=STEP, fault="black", onset=12))
    assert judged(frames) == [(14, "black", True)]


def test_black_needs_no_baseline_but_tamper_checks_wait_for_the_warm_up() -> None:
    black = list(sequence(Scene(33), frames=6, interval=STEP, fault="black"))
    assert judged(black) == [(2, "black", True)]
    covered = list(sequence(Scene(33), frames=DETECT.warmup, interval=STEP, fault="covered"))
    assert judged(covered) == []


def test_blur_is_judged_against_the_cameras_own_sharpness() -> None:
    """A camera with soft optics is not blurred; the same softness on a sharp camera is."""
    soft = list(sequence(Scene(41), frames=40, interval=STEP, fault="blurred", severity=0.7))
    sharp = list(sequence(Scene(41), frames=40, interval=STEP, fault="blurred", severity=0.7, onset=20))
    soft_sharpness = statistics.median(measure(f, 640).sharpness for f in soft)
    sharp_sharpness = statistics.median(measure(f, 640).sharpness for f in sharp[:20])
    assert soft_sharpness < DETECT.blur_ratio * sharp_sharpness  # one fixed level would call the soft one blurred
    assert judged(soft) == []
    assert judged(sharp) == [(22, "blurred", True)]


def test_a_camera_turned_for_good_learns_its_new_view() -> None:
    frames = list(sequence(Scene(51), frames=40, interval=STEP, fault="moved", onset=10))
    found, memory = replay(frames, width=640, interval=STEP, start=T0)
    assert [(j.change.kind, j.change.active) for j in found] == [("moved", True)]
    relearned = []
    memory = CameraMemory(camera_id="cam")
    for i, data in enumerate(frames):
        verdict = observe(DETECT, memory, measure(data, 640), seq=i + 1, at=T0 + timedelta(seconds=i * STEP),
                          sha256=hashlib.sha256(data).hexdigest(), relearn_after=10)
        memory = verdict.memory
        relearned.extend((i, c.kind, c.active) for c in verdict.changes)
    assert relearned[0] == (12, "moved", True)
    assert relearned[1][1:] == ("moved", False) and relearned[1][0] < 40
    assert memory.state == "ok"


def test_an_old_or_repeated_frame_changes_nothing() -> None:
    frames = list(sequence(Scene(61), frames=12, interval=STEP))
    _, memory = replay(frames, width=640, interval=STEP, start=T0)
    again = observe(DETECT, memory, measure(frames[3], 640), seq=4, at=T0, sha256="x")
    assert again.memory is memory and again.changes == []


def test_offline_is_raised_once_and_the_next_frame_clears_it_at_once() -> None:
    frames = list(sequence(Scene(71), frames=10, interval=STEP))
    _, memory = replay(frames, width=640, interval=STEP, start=T0)
    memory = failed(memory, "timeout: no complete answer within 10s")
    later = T0 + timedelta(minutes=5)
    memory, changes = went_offline(memory, later)
    assert [(c.kind, c.active, c.since) for c in changes] == [("offline", True, T0 + timedelta(seconds=9 * STEP))]
    assert memory.state == "offline" and memory.failure.startswith("timeout")
    assert went_offline(memory, later + timedelta(minutes=1))[1] == []
    verdict = observe(DETECT, memory, measure(frames[-1], 640), seq=memory.seq + 1, at=later, sha256="new")
    assert [(c.kind, c.active) for c in verdict.changes] == [("offline", False)]
    assert verdict.memory.state == "ok" and verdict.memory.failure == ""


def test_an_older_frame_from_a_backlog_never_clears_a_newer_offline() -> None:
    """Offline is judged in event time: a frame captured before the newest capture known when offline was raised
    is still in a backlog, not proof of life; only a frame captured after it clears the offline."""
    frames = list(sequence(Scene(72), frames=12, interval=STEP))
    _, memory = replay(frames[:8], width=640, interval=STEP, start=T0)
    newest = T0 + timedelta(seconds=9 * STEP)  # the ingest's last frame, not judged yet (the processor is behind)
    memory, changes = went_offline(memory, T0 + timedelta(minutes=5), newest=newest)
    assert [(c.kind, c.active) for c in changes] == [("offline", True)]
    backlog = observe(DETECT, memory, measure(frames[8], 640), seq=memory.seq + 1, at=newest, sha256="b")
    assert backlog.changes == [] and backlog.memory.state == "offline"
    fresh = observe(DETECT, backlog.memory, measure(frames[9], 640), seq=memory.seq + 2,
                    at=newest + timedelta(seconds=STEP), sha256="f")
    assert [(c.kind, c.active) for c in fresh.changes] == [("offline", False)] and fresh.memory.state == "ok"


# --- real photographs (processors/cctv/photoscenes.py): what the rendered street cannot show ---------------------

PHOTO_CASES = [  # (fault, weather, severity): a camera with a clock overlay burnt in, 10 s between frames
    ("blurred_mild", "day", 0.5),  # defocus to half the view's sharpness; the overlay stays sharp
    ("blurred", "night", 0.2),
    ("covered_partial", "crowd", 0.4),  # a hand, bag or sticker over 40 % of the view
    ("covered_dark", "ir", 0.95),  # a cover over an infrared night scene: dark, but lit, not black
    ("black", "day", 1.0),  # video lost with the clock overlay still drawn
    ("frozen_clock", "rain", 1.0),  # a stuck picture whose clock still ticks
    ("moved", "dusk", 1.0),
]


@pytest.mark.parametrize(("fault", "weather", "severity"), PHOTO_CASES)
def test_faults_on_real_photographs_are_raised_as_what_they_are(fault: str, weather: str, severity: float) -> None:
    from processors.cctv import photoscenes

    scene = photoscenes.PhotoScene(71, weather, frames=30, day_frames=180)  # type: ignore[arg-type]
    frames = list(photoscenes.sequence(scene, fault, onset=12, until=24, severity=severity))
    found = judged(frames, width=scene.width)
    want = photoscenes.EXPECTED.get(fault, fault)
    assert [(kind, active) for _, kind, active in found] == [(want, True), (want, False)]
    raised, cleared = (index for index, _, _ in found)
    assert 12 <= raised <= 15 and 24 <= cleared <= 27


def test_a_normal_photographic_camera_raises_nothing_through_dusk_and_the_infrared_switch() -> None:
    from processors.cctv import photoscenes

    scene = photoscenes.PhotoScene(72, "dusk", frames=90)  # the light falls by 80 % and the camera goes infrared
    assert scene.ir_from is not None
    assert judged(list(photoscenes.sequence(scene)), width=scene.width) == []


# --- unlit nights: dark is not black -----------------------------------------------------------------------------

@pytest.mark.parametrize("weather", ["unlit", "unlit_dusk", "unlit_ir"])
def test_an_unlit_night_is_dark_but_not_black(weather: str) -> None:
    """A road with a few far lamps, a field under the stars, reached at dusk or under a weak infrared lamp: a mean
    grey level of about 5-15, where the detector of before raised `black` (issue #30). A live view of a dark scene
    still carries the sensor's grain and the camera's learned view."""
    from processors.cctv import photoscenes

    scene = photoscenes.PhotoScene(73, weather, frames=60, day_frames=60)  # type: ignore[arg-type]
    frames = list(photoscenes.sequence(scene))
    last = measure(frames[-1], scene.width)
    assert last.mean < 16  # as dark as the held-out night scenes
    assert judged(frames, width=scene.width) == []


@pytest.mark.parametrize("weather", ["unlit", "unlit_ir"])
def test_a_picture_lost_on_an_unlit_night_is_black(weather: str) -> None:
    """The same nights losing their picture (with the clock still drawn on half of them): black, and cleared when
    it comes back."""
    from processors.cctv import photoscenes

    for seed in (74, 75):  # with and without the clock overlay on the lost picture
        scene = photoscenes.PhotoScene(seed, weather, frames=32)  # type: ignore[arg-type]
        found = judged(list(photoscenes.sequence(scene, "black", onset=14, until=24)), width=scene.width)
        assert [(kind, active) for _, kind, active in found] == [("black", True), ("black", False)], (seed, found)
        raised, cleared = (index for index, _, _ in found)
        assert 14 <= raised <= 17 and 24 <= cleared <= 27
