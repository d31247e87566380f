"""How well the camera checks work, the current detector beside an earlier one on the same frames.

Scenes (--scenes):
photos    1080p views built from real photographs (processors/cctv/photoscenes.py): day, dusk (with the switch to
          infrared on half of them), night under street lamps, infrared night, rain, crowds; a clock burnt in.
          Faults: frozen, frozen with the clock still ticking, black (half with the clock still drawn), strong
          blur (Tenengrad 0.05-0.3 of the view's) and mild defocus (0.3-0.6), full covers (75-100% of the
          view), partial covers (30-60%: a hand, a bag or a sticker; or a textured sign or cloth hung in front)
          and full covers of dark scenes, turned.
night     the same photographs on unlit nights (photoscenes.NIGHT_WEATHERS): a road or a village with a few far
          lamps, a field under the stars, each seen at night (mean grey level about 5-15), reached at dusk, or
          under a weak infrared lamp; every fault kind on them, and healthy nights.
rendered  the rendered street of processors/cctv/scenes.py (640x360), as measured since the first version.

Each fault sequence runs normally past the warm-up, shows its fault for 10-16 frames (10 s apart), then
recovers. Healthy sequences (half an hour each, every weather) are ordinary life only.

detected   the right anomaly raised while the fault lasted
frames     median frames from the fault's onset to the raise
wrong      frames during a fault on which the camera showed another anomaly
cleared    raised and cleared within 4 frames of the recovery
false/24h  anomalies raised in healthy sequences, per 24 camera-hours

    python bench/cctv_detection.py [--scenes photos|night|rendered] [--trials 16] [--hours 24] [--baseline REV]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._baseline import load  # noqa: E402
from bench._common import report  # noqa: E402
from processors.cctv import photoscenes, scenes  # noqa: E402
from processors.cctv.config import CameraDetection  # noqa: E402
from processors.cctv.replay import CURRENT, Detector, Replayed, run  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = 10.0
DETECT = CameraDetection()
BASELINE = "1ce005c"  # the detector as it stood before the real-scene work (issue #19)
HEALTHY_FRAMES = 180  # half an hour at 10 s


@cache  # once per worker process
def baseline(rev: str) -> Detector:
    measure = load(rev, "processors/cctv/measure.py", "baseline_measure")
    decide = load(rev, "processors/cctv/decide.py", "baseline_decide",
                  renames={"processors.cctv.measure": "baseline_measure"})
    return Detector(measure=measure.measure, observe=decide.observe, memory=decide.CameraMemory)


def photo_trial(seed: int, kind: str | None, night: bool = False) -> tuple[list[bytes], int, int, float, int]:
    """Frames of one sequence: (frames, onset, until, severity, width)."""
    rng = np.random.default_rng(seed)
    every = photoscenes.NIGHT_WEATHERS if night else photoscenes.WEATHERS
    if kind is None:
        weather = every[seed % len(every)]
        scene = photoscenes.PhotoScene(seed, weather, frames=HEALTHY_FRAMES, interval=STEP)
        return list(photoscenes.sequence(scene)), 0, 0, 0.0, scene.width
    weathers = ("night", "ir") if kind == "covered_dark" and not night else every
    onset, length = int(rng.integers(12, 21)), int(rng.integers(10, 17))
    severity = {"blurred": rng.uniform(0.05, 0.3), "blurred_mild": rng.uniform(0.3, 0.6),
                "covered": rng.uniform(0.75, 1.0), "covered_partial": rng.uniform(0.3, 0.6),
                "covered_textured": rng.uniform(0.3, 0.6),
                "covered_dark": rng.uniform(0.85, 1.0)}.get(kind, 1.0)
    scene = photoscenes.PhotoScene(seed, weathers[int(rng.integers(len(weathers)))], frames=onset + length + 8,
                                   interval=STEP, day_frames=HEALTHY_FRAMES)  # dusk over half an hour, as in healthy
    frames = list(photoscenes.sequence(scene, kind, onset=onset, until=onset + length, severity=float(severity)))
    return frames, onset, onset + length, float(severity), scene.width


def rendered_trial(seed: int, kind: str | None) -> tuple[list[bytes], int, int, float, int]:
    rng = np.random.default_rng(seed)
    scene = scenes.Scene(seed, 640, 360, cars=int(rng.integers(1, 9)), people=int(rng.integers(0, 7)),
                         noise=float(rng.uniform(1.0, 4.5)))
    if kind is None:
        start = float(rng.uniform(0.3, 1.0))
        end = min(1.0, max(0.25, start + float(rng.choice([-1, 1]) * rng.uniform(0.1, 0.6))))
        return list(scenes.sequence(scene, frames=HEALTHY_FRAMES, interval=STEP, light=(start, end))), 0, 0, 0.0, 640
    onset, length = int(rng.integers(12, 21)), int(rng.integers(10, 17))
    severity = {"blurred": rng.uniform(0.4, 1.0), "moved": rng.uniform(0.3, 1.0),
                "covered": rng.uniform(0.75, 1.0)}.get(kind, 1.0)
    level = float(rng.uniform(0.4, 1.0))
    frames = list(scenes.sequence(scene, frames=onset + length + 8, interval=STEP, fault=kind, onset=onset,
                                  until=onset + length, light=(level, level), severity=float(severity)))
    return frames, onset, onset + length, float(severity), 640


def judge(replayed: Replayed, kind: str | None, onset: int, until: int) -> dict[str, object]:
    raised = [(j.index, j.change.kind) for j in replayed.judged if j.change.active]
    if kind is None:
        return {"false": [k for _, k in raised]}
    want = photoscenes.EXPECTED.get(kind, kind)
    hits = [i for i, k in raised if k == want and onset <= i < until]
    wrong = [s for s in replayed.states[onset:until] if s not in ("ok", want)]
    cleared = any(not j.change.active and j.change.kind == want and until <= j.index < until + 4
                  for j in replayed.judged)
    return {"detected": bool(hits), "frames": hits[0] - onset + 1 if hits else None, "wrong": Counter(wrong),
            "cleared": bool(hits) and cleared}


def trial(args: tuple[str, int, str | None, str]) -> dict[str, object]:
    family, seed, kind, rev = args
    frames, onset, until, severity, width = rendered_trial(seed, kind) if family == "rendered" else \
        photo_trial(seed, kind, night=family == "night")
    out: dict[str, object] = {"kind": kind, "severity": severity}
    for label, detector in (("before", baseline(rev)), ("now", CURRENT)):
        replayed = run(frames, width=width, interval=STEP, start=T0, detect=DETECT, detector=detector)
        out[label] = judge(replayed, kind, onset, until)
    return out


def summarise(results: list[dict[str, object]], label: str, kinds: tuple[str, ...], hours: float) -> dict[str, object]:
    rows: dict[str, object] = {}
    for kind in kinds:
        mine = [r for r in results if r["kind"] == kind]
        verdicts = [r[label] for r in mine]
        detected = [v for v in verdicts if v["detected"]]  # type: ignore[index]
        wrong: Counter[str] = sum((v["wrong"] for v in verdicts), Counter())  # type: ignore[misc]
        rows[kind] = {"trials": len(verdicts), "detected": len(detected),
                      "median_frames": statistics.median(v["frames"] for v in detected) if detected else None,  # type: ignore[index,type-var]
                      "wrong_frames": sum(wrong.values()), "wrong": dict(wrong),
                      "cleared": sum(bool(v["cleared"]) for v in detected),  # type: ignore[index]
                      "missed_severities": sorted(round(float(r["severity"]), 2) for r, v in zip(mine, verdicts, strict=True)  # type: ignore[arg-type]
                                                  if not v["detected"])}  # type: ignore[index]
    false = Counter(k for r in results if r["kind"] is None for k in r[label]["false"])  # type: ignore[index]
    rows["healthy"] = {"camera_hours": round(hours, 1), "false_alarms": sum(false.values()), "by_kind": dict(false),
                       "per_24h": round(sum(false.values()) * 24 / hours, 2) if hours else None}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", choices=("photos", "night", "rendered"), default="photos")
    parser.add_argument("--trials", type=int, default=16, help="fault sequences per kind")
    parser.add_argument("--hours", type=float, default=24, help="camera-hours of healthy sequences")
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the detector to compare with")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    kinds = scenes.FAULTS if args.scenes == "rendered" else photoscenes.FAULT_KINDS
    healthy = max(1, round(args.hours * 3600 / STEP / HEALTHY_FRAMES))
    jobs = [(args.scenes, args.seed * 1000 + 37 * n + k, kind, args.baseline)
            for k, kind in enumerate(kinds) for n in range(args.trials)]
    jobs += [(args.scenes, args.seed * 1000 + 500_000 + n, None, args.baseline) for n in range(healthy)]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(trial, jobs, chunksize=1))
    hours = healthy * HEALTHY_FRAMES * STEP / 3600
    figures = {label: summarise(results, label, kinds, hours) for label in ("before", "now")}
    print(f"{args.scenes}: {args.trials} sequences per kind, {hours:.0f} healthy camera-hours; "
          f"before = {args.baseline}, now = the working tree")
    print(f"{'kind':16s} {'detected':>17s} {'frames':>13s} {'wrong frames':>14s} {'cleared':>11s}  missed (now)")
    for kind in kinds:
        b, n = figures["before"][kind], figures["now"][kind]  # type: ignore[index]
        print(f"{kind:16s} {b['detected']:>5d} -> {n['detected']:2d} of {n['trials']:<2d} "
              f"{b['median_frames']!s:>5s} -> {n['median_frames']!s:<4s} {b['wrong_frames']:>5d} -> {n['wrong_frames']:<5d} "
              f"{b['cleared']:>4d} -> {n['cleared']:<3d}  {n['missed_severities'] or ''} {n['wrong'] or ''}")
    b, n = figures["before"]["healthy"], figures["now"]["healthy"]  # type: ignore[index]
    print(f"{'healthy':16s} false alarms {b['false_alarms']} -> {n['false_alarms']} in {n['camera_hours']} camera-hours "
          f"({b['per_24h']} -> {n['per_24h']} per 24 h) {b['by_kind'] or ''} -> {n['by_kind'] or ''}")
    report("cctv_detection", {"scenes": args.scenes, "trials": args.trials, "baseline": args.baseline,
                              "seed": args.seed, **figures})


if __name__ == "__main__":
    main()
