"""SNMP polling of a real agent (Debian's snmpd on a free port, v2c and v3) and the bit rates made of it: within 2%
of the kernel's own counters (/proc/net/dev) over a minute of generated traffic, discards as the kernel counts
them, and no spike from a counter wrap or an agent restart. With CI=true a missing snmpd fails the test instead of
skipping."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from command_center.clock import ManualClock
from command_center.config import parse_config
from command_center.events import Event, new_event
from command_center.runtime import ProcessorRunner
from command_center.testing.servers import SnmpAgent
from ingest.health.checks import run_check
from processors.health.config import CheckConfig, HealthSettings
from processors.health.decide import AppHealth
from processors.health.events import HEALTH_CHECKS, HEALTH_EVENTS, CheckResult
from processors.health.keys import app_key
from processors.health.processor import HEALTH
from processors.health.traffic import Port, Sample, delta, rates
from processors.health.view import app_view
from tests.conftest import Backend, _start
from tests.health.netns import Device
from tests.helpers import T0, drain, eventually, publish

TRAFFIC_S = 60.0


@pytest.fixture
def agent() -> Iterator[SnmpAgent]:
    server = _start(SnmpAgent)
    yield server
    server.stop()


def check(agent: SnmpAgent, version: str = "v2c", **snmp: object) -> CheckConfig:
    credentials = {"community": agent.community} if version == "v2c" else \
        {"user": agent.user, "auth_key": agent.auth_key, "priv_key": agent.priv_key}
    return CheckConfig(id="snmp", kind="snmp", target=f"127.0.0.1:{agent.port}", timeout=5,  # type: ignore[arg-type]
                       snmp={"version": version, **credentials, **snmp})  # type: ignore[arg-type]


def kernel_counters(name: str) -> list[int]:
    """An interface's counters as the kernel keeps them: received bytes, packets, errs, drop, ..., then sent."""
    with open("/proc/net/dev") as f:
        for line in f:
            if line.strip().startswith(f"{name}:"):
                return [int(v) for v in line.split(":", 1)[1].split()]
    raise LookupError(name)


def kernel_octets(name: str) -> tuple[int, int]:
    """(received, sent) bytes of an interface."""
    fields = kernel_counters(name)
    return fields[0], fields[8]


@pytest.mark.parametrize("version", ["v2c", "v3"])
async def test_the_agent_is_read_with_a_community_or_a_v3_user(agent: SnmpAgent, version: str) -> None:
    outcome = await run_check(check(agent, version, interfaces=["lo"]), None)  # type: ignore[arg-type]
    assert outcome.ok, outcome.detail
    assert outcome.sample is not None and [p.name for p in outcome.sample.ports] == ["lo"]
    assert outcome.sample.ports[0].up and outcome.sample.uptime_ticks > 0


async def test_wrong_credentials_and_a_missing_interface_are_clear_failures(agent: SnmpAgent) -> None:
    wrong = check(agent).model_copy(update={"snmp": check(agent).snmp.model_copy(update={"community": "x"})})  # type: ignore[union-attr]
    outcome = await run_check(wrong.model_copy(update={"timeout": 2}), None)  # type: ignore[arg-type]
    assert not outcome.ok and outcome.reason in ("snmp", "timeout")
    outcome = await run_check(check(agent, interfaces=["lo", "uplink-9"]), None)  # type: ignore[arg-type]
    assert not outcome.ok and outcome.reason == "link_down" and outcome.detail == "uplink-9 not found"


async def test_bit_rates_are_within_two_percent_of_the_kernels_counters(agent: SnmpAgent) -> None:
    """A first poll and the kernel's counters; datagrams over loopback for TRAFFIC_S seconds; a second poll and
    the kernel's again. The rate from the agent's samples (by its sysUpTime) against the kernel's bytes over
    the same moments (by this machine's clock)."""
    config = check(agent, interfaces=["lo"])
    first = (await run_check(config, None)).sample  # type: ignore[arg-type]
    k_in0, _ = kernel_octets("lo")
    t0 = time.monotonic()
    # to a bound socket nobody reads: a closed port would answer each datagram with an ICMP port unreachable,
    # and that storm spends the kernel's ICMP rate limit (shared by every namespace), which drops the echo
    # replies of a device that a test beside this one pings
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"\x00" * 1400
    while time.monotonic() - t0 < TRAFFIC_S:  # about 30 Mbit/s, yielding to the loop now and then
        for _ in range(200):
            sender.sendto(payload, sink.getsockname())
        await asyncio.sleep(0.005)
    sender.close()
    sink.close()
    second = (await run_check(config, None)).sample  # type: ignore[arg-type]
    k_in1, _ = kernel_octets("lo")
    t1 = time.monotonic()
    found = rates(first, second)
    assert found is not None and [r.name for r in found] == ["lo"]
    kernel_bps = (k_in1 - k_in0) * 8 / (t1 - t0)
    assert kernel_bps > 5_000_000  # the traffic was made
    assert abs(found[0].in_bps - kernel_bps) / kernel_bps < 0.02, (found[0].in_bps, kernel_bps)


async def test_discards_are_read_as_the_kernel_counts_them(agent: SnmpAgent, device: Device) -> None:
    """Frames of a protocol nobody runs, sent by the device to the host, are discarded by the host's kernel:
    the agent's ifInDiscards for that interface moves as the kernel's rx drop counter does, by that many."""
    config = check(agent, interfaces=[device.host_if])
    first = await run_check(config, None)  # type: ignore[arg-type]
    assert first.ok, first.detail
    kernel_before = kernel_counters(device.host_if)[3]
    device.send_unclaimed(137)
    kernel_after = kernel_counters(device.host_if)[3]
    second = (await run_check(config, None)).sample  # type: ignore[arg-type]
    assert kernel_after - kernel_before == 137
    assert first.sample is not None and second is not None
    assert second.ports[0].in_discards - first.sample.ports[0].in_discards == 137
    found = rates(first.sample, second)
    assert found is not None and found[0].discards == 137 and found[0].errors == 0


async def test_an_agent_restart_gives_no_rate_rather_than_a_spike(agent: SnmpAgent) -> None:
    config = check(agent, interfaces=["lo"])
    before = None

    async def up_a_while() -> bool:  # a restart is told by uptime going back: let the agent's first second pass
        nonlocal before
        before = (await run_check(config, None)).sample  # type: ignore[arg-type]
        return before is not None and before.uptime_ticks >= 100

    await eventually(up_a_while, within=10, every=0.2)
    await asyncio.to_thread(agent.restart)
    after = (await run_check(config, None)).sample  # type: ignore[arg-type]
    assert before is not None and after is not None and after.uptime_ticks < before.uptime_ticks
    assert rates(before, after) is None
    later = (await run_check(config, None)).sample  # type: ignore[arg-type]
    assert rates(after, later) is not None


def test_a_counter_that_wraps_counts_across_the_wrap() -> None:
    assert delta(2**64 - 1000, 500, 64) == 1500
    assert delta(2**32 - 10, 5, 32) == 15
    before = Sample(uptime_ticks=100_000, ports=[Port(name="ge-0/0/1", up=True, in_octets=2**64 - 1_250_000,
                                                      out_octets=4_000_000_000, bits=64)])
    after = Sample(uptime_ticks=106_000, ports=[Port(name="ge-0/0/1", up=True, in_octets=1_250_000,
                                                     out_octets=4_000_750_000, bits=64)])
    (rate,) = rates(before, after)  # type: ignore[misc]
    assert rate.in_bps == pytest.approx(2_500_000 * 8 / 60) and rate.out_bps == pytest.approx(750_000 * 8 / 60)


def test_samples_that_cannot_give_a_rate_give_none() -> None:
    port = Port(name="lo", up=True, in_octets=10, out_octets=10)
    sample = Sample(uptime_ticks=500, ports=[port])
    assert rates(None, sample) is None  # no earlier sample
    assert rates(sample, sample) is None  # no time between them
    assert rates(sample, Sample(uptime_ticks=500 + 2 * 360_000, ports=[port])) is None  # two hours apart
    renumbered = Sample(uptime_ticks=600, ports=[Port(name="lo", up=True, in_octets=5, out_octets=5, bits=32)])
    assert rates(sample, renumbered) == []


UPLINK = {"apps": [{"id": "rtr-mlati", "name": "Router Mlati", "kind": "router", "area": "mlati", "checks": [
    {"id": "snmp", "kind": "snmp", "target": "10.20.0.1", "interval": 60,
     "snmp": {"community": "baca", "interfaces": ["wan0"], "capacity_mbps": {"wan0": 100},
              "max_utilisation_pct": 80, "utilisation_minutes": 3}}]}],
    "areas": [{"id": "mlati", "name": "Mlati", "center": {"lat": -7.72, "long": 110.35}, "radius_km": 5}]}


def polled(minute: int, octets: int, uptime_s: int) -> Event:
    at = T0 + timedelta(minutes=minute)
    sample = Sample(uptime_ticks=uptime_s * 100, ports=[Port(name="wan0", up=True, in_octets=octets, out_octets=0)])
    return new_event("id.go.cc.health.check", source="/tests", subject="rtr-mlati", time=at, id=f"poll-{minute}",
                     data=CheckResult(app_id="rtr-mlati", check_id="snmp", kind="snmp", ok=True, started_at=at,
                                      sample=sample))


async def test_a_link_above_its_capacity_for_minutes_is_saturated_and_a_restart_is_said_once(backend: Backend) -> None:
    """95 Mbit/s on a 100 Mbit/s link (limit 80%) for three minutes raises `saturated` (the router degraded);
    back to 10 Mbit/s clears it; the router's restart (uptime back to 30 s) raises `restarted` once and the next poll clears it."""
    per_minute = {95: 95_000_000 * 60 // 8, 10: 10_000_000 * 60 // 8}
    octets, uptime, events = 0, 1000, []
    for minute, mbps in enumerate([10, 95, 95, 95, 95, 10, 10]):
        octets += per_minute[mbps]
        uptime += 60
        events.append(polled(minute, octets, uptime))
    events += [polled(7, 5_000, 30), polled(8, 5_000 + per_minute[10], 90), polled(9, 5_000 + 2 * per_minute[10], 150)]
    await publish(backend.bus, HEALTH_CHECKS, events)
    config = parse_config(UPLINK, env={})
    async with ProcessorRunner(HEALTH, bus=backend.bus, store=backend.store, config=config, clock=ManualClock(T0),
                               poll_timeout=0.2, run_ticks=False):
        out = await drain(backend.bus, HEALTH_EVENTS, group="reader", expect=4)
        view = await app_view(backend.store, HealthSettings.of(config).apps[0],
                              await backend.store.get(app_key("rtr-mlati"), AppHealth))
    found = [(e.data.kind, e.data.active, e.time - T0) for e in out]
    assert found == [("saturated", True, timedelta(minutes=4)), ("saturated", False, timedelta(minutes=5)),
                     ("restarted", True, timedelta(minutes=7)), ("restarted", False, timedelta(minutes=8))]
    # the router is degraded while saturated, and no longer once under its limit again
    assert (out[0].data.state, out[1].data.state) == ("degraded", "up")
    assert "wan0 at 95% of 100 Mb/s" in out[0].data.reason
    (rate,) = view["interfaces"]
    assert rate["name"] == "wan0" and rate["in_bps"] == pytest.approx(10_000_000, rel=1e-6)
