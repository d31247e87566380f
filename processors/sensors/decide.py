"""Sensor rules as a pure function of a sensor's memory and one reading.

threshold  raise past `raise_above` (or below `raise_below`) held for `min_duration_s`; clear only past the
           separate clear level, so noise around the line raises nothing twice
rate       the value changed by `delta` or more within `window_s` (a river rising 30 cm in 10 minutes)
spike      robust z-score against the sensor's own recent median and MAD, after `warmup` readings
flatline   the same value for `duration_s` (a stuck sensor)
range      outside `min`/`max` is a sensor fault, not a flood: the value feeds no other rule
stale      no reading for `intervals` intervals: a timer in the processor, cleared by the next reading
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass
from datetime import datetime

import msgspec

from command_center.events.types import Severity
from processors.sensors.config import SensorConfig, SensorRule
from processors.sensors.events import SensorAnomalyKind, SensorReading, SensorState

WINDOW_POINTS = 64
BASELINE_EVERY = 8  # readings between recomputations of the spike baseline
FLAT_EPSILON = 1e-9


class RuleState(msgspec.Struct, kw_only=True):
    active: bool = False
    pending_since: datetime | None = None


class SensorMemory(msgspec.Struct, kw_only=True):
    """What the processor keeps of one sensor (in Redis)."""

    sensor_id: str
    state: SensorState = "unknown"
    since: datetime | None = None
    value: float | None = None
    at: datetime | None = None
    window: list[tuple[float, float]] = []
    rules: dict[str, RuleState] = {}
    unchanged_since: datetime | None = None
    stale: bool = False
    history_bucket: int = 0
    baseline: tuple[float, float] | None = None  # median and scaled MAD of the window, for spikes
    baseline_age: int = 0


@dataclass(frozen=True, slots=True)
class Change:
    kind: SensorAnomalyKind
    active: bool
    detail: str
    level: str = ""
    severity: Severity = "major"


def _key(index: int, rule: SensorRule) -> str:
    return f"{index}:{rule.kind}"


def _threshold(rule: SensorRule, st: RuleState, v: float, at: datetime, unit: str) -> Change | None:
    high = rule.raise_above is not None
    level = rule.raise_above if high else rule.raise_below
    assert level is not None
    beyond = v > level if high else v < level
    clear = (rule.clear_below if rule.clear_below is not None else level) if high else \
        (rule.clear_above if rule.clear_above is not None else level)
    back = v < clear if high else v > clear
    if beyond:
        st.pending_since = st.pending_since or at
        if not st.active and (at - st.pending_since).total_seconds() >= rule.min_duration_s:
            st.active = True
            side = "above" if high else "below"
            return Change("threshold", True, f"{v:g} {unit} {side} {level:g} {unit}", rule.level, rule.severity)
    else:
        st.pending_since = None
    if st.active and back:
        st.active = False
        return Change("threshold", False, f"{v:g} {unit} back past {clear:g} {unit}", rule.level, rule.severity)
    return None


def _rate(rule: SensorRule, st: RuleState, window: list[tuple[float, float]], v: float, t: float,
          unit: str) -> Change | None:
    assert rule.delta is not None
    first = bisect.bisect_left(window, t - rule.window_s, key=lambda point: point[0])
    if first == len(window):
        return None
    change = v - window[first][1]
    rising = rule.delta > 0
    over = change >= rule.delta if rising else change <= rule.delta
    calm = change < rule.delta / 2 if rising else change > rule.delta / 2
    minutes = rule.window_s / 60
    if not st.active and over:
        st.active = True
        return Change("rate", True, f"changed {change:+g} {unit} in {minutes:g} min", rule.level, rule.severity)
    if st.active and calm:
        st.active = False
        return Change("rate", False, f"changed {change:+g} {unit} in {minutes:g} min", rule.level, rule.severity)
    return None


def baseline(window: list[tuple[float, float]]) -> tuple[float, float]:
    """Median and robust scale (1.4826 MAD, floored) of the window's values."""
    values = [value for _, value in window]
    median = statistics.median(values)
    mad = statistics.median([abs(x - median) for x in values])
    return median, max(1.4826 * mad, 0.01 * abs(median), 1e-6)


def _spike(rule: SensorRule, st: RuleState, m: SensorMemory, v: float) -> Change | None:
    if len(m.window) < rule.warmup:
        return None
    if m.baseline is None or m.baseline_age >= BASELINE_EVERY:
        m.baseline, m.baseline_age = baseline(m.window), 0
    median, scale = m.baseline
    z = abs(v - median) / scale
    if z > rule.z and not st.active:
        st.active = True
        return Change("spike", True, f"{v:g} against a median of {median:g} (z {z:.1f})", rule.level, rule.severity)
    if z <= rule.z and st.active:
        st.active = False
        return Change("spike", False, f"{v:g} back near the median of {median:g}", rule.level, rule.severity)
    return None


def _state(memory: SensorMemory, sensor: SensorConfig) -> SensorState:
    active = {sensor.rules[int(k.split(":")[0])].kind for k, st in memory.rules.items() if st.active}
    if "range" in active:
        return "fault"
    if active & {"threshold", "rate", "spike"}:
        return "alarm"
    if memory.stale:
        return "stale"
    if "flatline" in active:
        return "flatline"
    return "ok" if memory.value is not None else "unknown"


def observe(sensor: SensorConfig, memory: SensorMemory, reading: SensorReading) -> tuple[SensorMemory, list[Change]]:
    """The sensor's memory after `reading`, and the anomalies it raises or clears."""
    at, v = reading.measured_at, reading.value
    if memory.at is not None and at <= memory.at:
        return memory, []  # late or replayed: the rules have already seen this moment
    m = msgspec.structs.replace(memory, rules={k: msgspec.structs.replace(s) for k, s in memory.rules.items()},
                                window=list(memory.window))
    changes: list[Change] = []
    if m.stale:
        m.stale = False
        changes.append(Change("stale", False, "readings again"))
    t = at.timestamp()
    rules = list(enumerate(sensor.rules))
    faulty = False
    for i, rule in rules:
        if rule.kind != "range":
            continue
        st = m.rules.setdefault(_key(i, rule), RuleState())
        outside = (rule.min is not None and v < rule.min) or (rule.max is not None and v > rule.max)
        faulty |= outside
        if outside != st.active:
            st.active = outside
            text = f"{v:g} {sensor.unit} outside [{rule.min}, {rule.max}]" if outside else "value in range again"
            changes.append(Change("fault", outside, text, rule.level, rule.severity if outside else "minor"))
    if not faulty:
        for i, rule in rules:
            st = m.rules.setdefault(_key(i, rule), RuleState())
            change = None
            if rule.kind == "threshold":
                change = _threshold(rule, st, v, at, sensor.unit)
            elif rule.kind == "rate":
                change = _rate(rule, st, m.window, v, t, sensor.unit)
            elif rule.kind == "spike":
                change = _spike(rule, st, m, v)
            elif rule.kind == "flatline":
                if m.value is None or abs(v - m.value) > FLAT_EPSILON:
                    m.unchanged_since = at
                    if st.active:
                        st.active = False
                        change = Change("flatline", False, f"moving again at {v:g} {sensor.unit}", rule.level)
                elif not st.active and m.unchanged_since and (at - m.unchanged_since).total_seconds() >= rule.duration_s:
                    st.active = True
                    hours = (at - m.unchanged_since).total_seconds() / 3600
                    change = Change("flatline", True, f"stuck at {v:g} {sensor.unit} for {hours:.1f} h", rule.level,
                                    rule.severity)
            if change:
                changes.append(change)
        horizon = max([r.window_s for r in sensor.rules if r.kind == "rate"] + [3600])
        m.window.append((t, v))
        keep = bisect.bisect_left(m.window, t - horizon, key=lambda point: point[0])
        del m.window[: max(keep, len(m.window) - WINDOW_POINTS)]
        m.baseline_age += 1
        m.value, m.at = v, at
    else:
        m.at = at
    state = _state(m, sensor)
    if state != m.state:
        m.state, m.since = state, at
    return m, changes


def went_stale(sensor: SensorConfig, memory: SensorMemory, now: datetime) -> tuple[SensorMemory, list[Change]]:
    """The stale timer fired: no reading for the configured number of intervals."""
    if memory.stale:
        return memory, []
    m = msgspec.structs.replace(memory, stale=True)
    quiet = (now - memory.at).total_seconds() / 60 if memory.at else 0
    state = _state(m, sensor)
    if state != m.state:
        m.state, m.since = state, now
    rule = next((r for r in sensor.rules if r.kind == "stale"), None)
    return m, [Change("stale", True, f"no reading for {quiet:.0f} min", rule.level if rule else "",
                      rule.severity if rule else "major")]
