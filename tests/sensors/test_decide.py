"""Sensor rules as a pure function: each raises and clears once; ordinary noise raises nothing."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from processors.sensors.config import SensorConfig
from processors.sensors.decide import SensorMemory, observe, went_stale
from processors.sensors.events import SensorReading

T0 = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)


def sensor(*rules: dict) -> SensorConfig:  # type: ignore[type-arg]
    return SensorConfig.model_validate({"id": "tma-1", "name": "TMA", "kind": "water_level", "unit": "cm",
                                        "interval": 60, "rules": list(rules)})


def feed(config: SensorConfig, values: list[float], *, step: float = 60) -> tuple[SensorMemory, list[tuple[str, bool]]]:
    memory = SensorMemory(sensor_id="tma-1")
    seen: list[tuple[str, bool]] = []
    for i, v in enumerate(values):
        reading = SensorReading(sensor_id="tma-1", quantity="water_level", unit="cm", value=v,
                                measured_at=T0 + timedelta(seconds=i * step))
        memory, changes = observe(config, memory, reading)
        seen.extend((c.kind, c.active) for c in changes)
    return memory, seen


THRESHOLD = {"kind": "threshold", "raise_above": 250, "clear_below": 230}


def test_noise_around_the_threshold_raises_once_and_clears_once() -> None:
    values = [200, 240, 251, 249, 252, 248, 251, 245, 235, 240, 229, 235, 245]
    memory, seen = feed(sensor(THRESHOLD), values)
    assert seen == [("threshold", True), ("threshold", False)]
    assert memory.state == "ok"


def test_threshold_waits_for_its_minimum_duration() -> None:
    rule = {**THRESHOLD, "min_duration_s": 180}
    _, brief = feed(sensor(rule), [200, 260, 262, 240, 200])  # over the line for 2 minutes only
    assert brief == []
    memory, held = feed(sensor(rule), [200, 260, 262, 265, 266, 240])
    assert held == [("threshold", True)] and memory.state == "alarm"


def test_low_threshold_for_a_link_that_drops() -> None:
    rule = {"kind": "threshold", "raise_below": 10, "clear_above": 50}
    _, seen = feed(sensor(rule), [80, 70, 9, 8, 20, 40, 60])
    assert seen == [("threshold", True), ("threshold", False)]


def test_rate_of_change_a_river_rising_30_cm_in_10_minutes() -> None:
    rule = {"kind": "rate", "delta": 30, "window_s": 600}
    _, seen = feed(sensor(rule), [100, 105, 112, 120, 128, 136, 140, 141, 141, 141, 141, 141, 141, 141, 141])
    assert seen == [("rate", True), ("rate", False)]
    _, slow = feed(sensor(rule), [100 + 2 * i for i in range(40)])  # 20 cm per 10 minutes: no alarm
    assert slow == []


def test_spike_against_the_sensors_own_baseline_after_warm_up() -> None:
    rng = random.Random(7)
    normal = [120 + rng.gauss(0, 2) for _ in range(40)]
    _, quiet = feed(sensor({"kind": "spike", "z": 6, "warmup": 20}), normal)
    assert quiet == []
    _, early = feed(sensor({"kind": "spike", "z": 6, "warmup": 20}), normal[:5] + [400])
    assert early == []  # no judgement during the warm-up
    _, seen = feed(sensor({"kind": "spike", "z": 6, "warmup": 20}), normal[:30] + [180] + normal[30:33])
    assert seen == [("spike", True), ("spike", False)]


def test_flatline_a_stuck_sensor() -> None:
    rule = {"kind": "flatline", "duration_s": 3600}
    memory, seen = feed(sensor(rule), [101.5] * 62 + [102.0])
    assert seen == [("flatline", True), ("flatline", False)]
    _, moving = feed(sensor(rule), [101 + (i % 2) for i in range(120)])
    assert moving == []


def test_out_of_range_is_a_fault_and_not_a_flood() -> None:
    config = sensor({"kind": "range", "min": 0, "max": 800}, THRESHOLD)
    memory, seen = feed(config, [200, 9999, 9999, 210, -5, 205])
    assert seen == [("fault", True), ("fault", False), ("fault", True), ("fault", False)]
    assert ("threshold", True) not in seen and memory.value == 205


def test_stale_raises_once_and_the_next_reading_clears_it() -> None:
    config = sensor({"kind": "stale", "intervals": 3})
    memory, _ = feed(config, [100, 101])
    memory, changes = went_stale(config, memory, T0 + timedelta(minutes=5))
    assert [(c.kind, c.active) for c in changes] == [("stale", True)] and memory.state == "stale"
    memory, again = went_stale(config, memory, T0 + timedelta(minutes=6))
    assert again == []
    memory, changes = observe(config, memory, SensorReading(sensor_id="tma-1", quantity="w", unit="cm", value=102,
                                                            measured_at=T0 + timedelta(minutes=7)))
    assert [(c.kind, c.active) for c in changes] == [("stale", False)] and memory.state == "ok"


def test_a_late_or_replayed_reading_changes_nothing() -> None:
    config = sensor(THRESHOLD)
    memory, _ = feed(config, [200, 260])
    replay = SensorReading(sensor_id="tma-1", quantity="w", unit="cm", value=260, measured_at=T0 + timedelta(minutes=1))
    again, changes = observe(config, memory, replay)
    assert again is memory and changes == []


def test_quiet_sine_day_with_all_rules_raises_nothing() -> None:
    config = sensor({"kind": "range", "min": 0, "max": 800}, THRESHOLD, {"kind": "rate", "delta": 30},
                    {"kind": "spike"}, {"kind": "flatline", "duration_s": 3600})
    rng = random.Random(3)
    values = [150 + 20 * math.sin(i / 100) + rng.gauss(0, 1.5) for i in range(1440)]
    _, seen = feed(config, values)
    assert seen == []
