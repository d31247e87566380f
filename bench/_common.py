"""Shared by the benchmarks: peak memory, and one JSON line per run appended to bench/results.jsonl."""

from __future__ import annotations

import json
import platform
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import processors.composition  # noqa: E402, F401  (every feature registers its event types and topics)

RESULTS = Path(__file__).resolve().parent / "results.jsonl"


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(name: str, figures: dict[str, object]) -> None:
    """Print the figures and append them as one JSON line."""
    line = {"bench": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": sys.version.split()[0],
            "machine": platform.machine(), **figures, "peak_rss_mb": round(peak_rss_mb(), 1)}
    text = json.dumps(line)
    print(text)
    with RESULTS.open("a") as f:
        f.write(text + "\n")
