"""Interface bit rates from two SNMP samples of a device's octet counters. Pure: no bus, store or clock.

Counters only grow, modulo their width: a 64-bit ifHCInOctets wraps at 2**64, a 32-bit ifInOctets at 2**32, and
a later sample that is smaller has wrapped once (at these rates a counter cannot wrap twice between polls unless
the interval is absurd, which is refused). A device that restarted (its sysUpTime went back) counts from zero
again: that pair of samples gives no rate at all, rather than a spike. An interface that appeared, vanished or
was renumbered between the samples gives none either.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

MAX_GAP_S = 3600.0  # samples further apart than this give no rate (a 32-bit counter could have wrapped twice)


class Port(msgspec.Struct, frozen=True, kw_only=True):
    """One interface in one sample."""

    name: str
    up: bool
    in_octets: int
    out_octets: int
    in_errors: int = 0
    out_errors: int = 0
    in_discards: int = 0  # ifInDiscards: good packets dropped (a full queue, a protocol nobody takes)
    out_discards: int = 0
    bits: int = 64  # the counters' width: 64 (ifHC*) or 32 (ifIn/OutOctets where a device has no ifXTable)


class Sample(msgspec.Struct, frozen=True, kw_only=True):
    """What one SNMP poll of a device read: its uptime in hundredths of a second (sysUpTime) and its ports."""

    uptime_ticks: int
    ports: list[Port] = []


class Rate(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    up: bool
    in_bps: float
    out_bps: float
    errors: int  # in and out errors between the samples
    discards: int = 0  # in and out discards between the samples


class Traffic(msgspec.Struct, kw_only=True):
    """What the processor keeps of a device's interfaces: its last sample and the rates up to it."""

    sample: Sample
    rates: list[Rate] = []
    restarted_at: float | None = None  # epoch seconds: the device restarted (a pair of samples gave no rate)
    restart_raised: bool = False  # its `restarted` anomaly is raised (cleared at the next sound pair of samples)
    hot_since: dict[str, float] = {}  # interfaces above their utilisation limit, since (epoch seconds)
    saturated: list[str] = []  # those above it for the whole hold: the device's `saturated` anomaly is raised


def utilisation(rate: Rate, capacity_mbps: float) -> float:
    """The busier direction's share of the interface's capacity, in percent."""
    return max(rate.in_bps, rate.out_bps) / (capacity_mbps * 1e6) * 100


def saturation(traffic: Traffic, found: list[Rate], capacity: Mapping[str, float], limit_pct: float, hold_s: float,
               now: float) -> tuple[dict[str, float], list[str], str]:
    """Which interfaces have been above `limit_pct` of their capacity for `hold_s` (hysteresis: one sample
    below it ends the streak), and why: (hot since, saturated, reason)."""
    hot = dict(traffic.hot_since)
    reasons = []
    for rate in found:
        cap = capacity.get(rate.name)
        if not cap:
            continue
        share = utilisation(rate, cap)
        if share > limit_pct:
            hot.setdefault(rate.name, now)
            if now - hot[rate.name] >= hold_s:
                reasons.append(f"{rate.name} at {share:.0f}% of {cap:g} Mb/s")
        else:
            hot.pop(rate.name, None)
    saturated = sorted(name for name, since in hot.items() if now - since >= hold_s)
    return hot, saturated, "; ".join(reasons)


def delta(before: int, after: int, bits: int) -> int:
    """How far a counter of `bits` moved from `before` to `after`, across one wrap."""
    return after - before if after >= before else after + (1 << bits) - before


def restarted(before: Sample, after: Sample) -> bool:
    """sysUpTime went back: the device (or its agent) restarted and its counters began again."""
    return after.uptime_ticks < before.uptime_ticks


def rates(before: Sample | None, after: Sample) -> list[Rate] | None:
    """Each port's bit rates between two samples, by the device's own clock; None when there is no sound pair:
    no earlier sample, a restart, no time between them, or too much."""
    if before is None or restarted(before, after):
        return None
    seconds = (after.uptime_ticks - before.uptime_ticks) / 100
    if seconds <= 0 or seconds > MAX_GAP_S:
        return None
    earlier: Mapping[str, Port] = {p.name: p for p in before.ports}
    out = []
    for port in after.ports:
        was = earlier.get(port.name)
        if was is None or was.bits != port.bits:
            continue
        out.append(Rate(
            name=port.name, up=port.up,
            in_bps=delta(was.in_octets, port.in_octets, port.bits) * 8 / seconds,
            out_bps=delta(was.out_octets, port.out_octets, port.bits) * 8 / seconds,
            errors=delta(was.in_errors, port.in_errors, 32) + delta(was.out_errors, port.out_errors, 32),
            discards=delta(was.in_discards, port.in_discards, 32) + delta(was.out_discards, port.out_discards, 32)))
    return out
