"""How well the camera checks work: detection rate and false alarms per anomaly kind over generated sequences.

Each sequence is a rendered street scene (random layout, traffic, pedestrians, sensor noise and light level)
seen every 10 s. A fault sequence runs normally, then shows one fault at a random severity for 10 to 16
frames, then recovers (blur: Gaussian sigma 0.3% to 0.7% of the width; moved: a turn of 7% to 22% of the
width; covered: 69% to 92% of the view). A healthy sequence has only ordinary life in it: traffic, people, light fading
slowly into night or back, a noisy sensor. The frames go through the processor's own measure and decide
functions with the default settings.

detected   the right anomaly raised while the fault lasted
missed     not raised (mostly the mildest severities)
confused   another anomaly raised during a fault (the table names which)
cleared    the anomaly cleared within 4 frames of the recovery
false      any anomaly raised in a healthy sequence

    python bench/cctv_detection.py [--sequences 40] [--healthy 60]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import report  # noqa: E402
from processors.cctv.config import CameraDetection  # noqa: E402
from processors.cctv.replay import replay  # noqa: E402
from processors.cctv.scenes import FAULTS, Scene, sequence  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = 10.0
DETECT = CameraDetection()


def random_scene(rng: random.Random) -> Scene:
    return Scene(rng.randrange(1_000_000), 640, 360, cars=rng.randint(1, 8), people=rng.randint(0, 6),
                 noise=rng.uniform(1.0, 4.5))


def fault_trial(rng: random.Random, fault: str) -> dict[str, object]:
    onset, length = rng.randint(12, 20), rng.randint(10, 16)
    # covered means most of the view: severity 0.75 leaves a third of it clear; below that it is not covered
    severity = {"blurred": rng.uniform(0.4, 1.0), "moved": rng.uniform(0.3, 1.0),
                "covered": rng.uniform(0.75, 1.0)}.get(fault, 1.0)
    level = rng.uniform(0.4, 1.0)
    frames = list(sequence(random_scene(rng), frames=onset + length + 8, interval=STEP, fault=fault, onset=onset,
                           until=onset + length, light=(level, level), severity=severity))
    judged, _ = replay(frames, width=640, interval=STEP, start=T0, detect=DETECT)
    raised = [j for j in judged if j.change.active and j.change.kind == fault and onset <= j.index < onset + length]
    others = [j.change.kind for j in judged if j.change.active and j.change.kind != fault]
    cleared = any(not j.change.active and j.change.kind == fault and onset + length <= j.index < onset + length + 4
                  for j in judged)
    return {"detected": bool(raised), "frames": raised[0].index - onset + 1 if raised else None, "others": others,
            "cleared": cleared, "severity": severity}


def healthy_trial(rng: random.Random, frames: int) -> list[str]:
    start = rng.uniform(0.3, 1.0)
    end = min(1.0, max(0.25, start + rng.choice([-1, 1]) * rng.uniform(0.1, 0.6)))
    raised = replay(sequence(random_scene(rng), frames=frames, interval=STEP, light=(start, end)),
                    width=640, interval=STEP, start=T0, detect=DETECT)[0]
    return [j.change.kind for j in raised if j.change.active]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=40, help="fault sequences per kind")
    parser.add_argument("--healthy", type=int, default=60, help="healthy sequences")
    parser.add_argument("--frames", type=int, default=90, help="frames per healthy sequence")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows: dict[str, dict[str, object]] = {}
    print(f"{'kind':9s} {'sequences':>9s} {'detected':>9s} {'rate':>6s} {'frames to raise':>15s} "
          f"{'cleared':>8s} {'confused':>9s}  mildest missed")
    for fault in FAULTS:
        trials = [fault_trial(rng, fault) for _ in range(args.sequences)]
        detected = [t for t in trials if t["detected"]]
        confused = Counter(k for t in trials for k in t["others"])  # type: ignore[attr-defined]
        missed = [t["severity"] for t in trials if not t["detected"]]
        rows[fault] = {"sequences": len(trials), "detected": len(detected),
                       "rate": round(len(detected) / len(trials), 3),
                       "median_frames": statistics.median(t["frames"] for t in detected) if detected else None,  # type: ignore[type-var]
                       "cleared": sum(bool(t["cleared"]) for t in detected), "confused": dict(confused),
                       "missed_severities": [round(s, 2) for s in missed]}  # type: ignore[arg-type]
        r = rows[fault]
        print(f"{fault:9s} {len(trials):9d} {len(detected):9d} {r['rate']:6.1%} {r['median_frames']!s:>15s} "
              f"{r['cleared']!s:>8s} {sum(confused.values()):9d}  {round(max(missed), 2) if missed else '-'}"
              f"{'  ' + str(dict(confused)) if confused else ''}")
    false = [healthy_trial(rng, args.frames) for _ in range(args.healthy)]
    alarms = Counter(k for f in false for k in f)
    hours = args.healthy * args.frames * STEP / 3600
    print(f"healthy   {args.healthy:9d} sequences of {args.frames} frames ({hours:.1f} camera-hours): "
          f"{sum(alarms.values())} false alarms {dict(alarms) or ''} in {sum(bool(f) for f in false)} sequences")
    report("cctv_detection", {"faults": rows, "healthy_sequences": args.healthy, "camera_hours": round(hours, 2),
                              "false_alarms": dict(alarms), "seed": args.seed})


if __name__ == "__main__":
    main()
