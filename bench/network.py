"""Network devices polled every 60 s from one process: share of polls started late, and CPU per poll.

Half the devices are read by SNMP v2c (sysUpTime and the interface table: names, status, 64-bit octets, errors,
discards) from a local Debian snmpd, half by ICMP echo (three requests) to loopback addresses. The same polls are first run
by a bare loop (pysnmp's GET and GETBULK walks and icmplib's ping, no scheduler, no events: the baseline), then
by the ingest scheduler publishing every result as an event, each for `--seconds`.

    python bench/network.py [--devices 2000] [--interval 60] [--seconds 120]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import icmplib  # noqa: E402
import pysnmp.hlapi.v3arch.asyncio as snmp  # noqa: E402

from bench._common import on_schedule, report  # noqa: E402
from command_center.bus import EmbeddedBus  # noqa: E402
from command_center.config import parse_config  # noqa: E402
from command_center.testing.servers import SnmpAgent  # noqa: E402
from ingest.health.checks import IF_COLUMNS, SYS_UPTIME  # noqa: E402
from ingest.health.scheduler import FIRST_ROUND_PER_S, HealthIngest  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def loopback(i: int) -> str:
    return f"127.{1 + i // 62500}.{(i // 250) % 250}.{1 + i % 250}"


async def baseline(agent: SnmpAgent, devices: int, interval: float, seconds: float) -> tuple[int, int, float]:
    """Bare pysnmp and icmplib on the same schedule: each device polled every `interval`, late when started more
    than a second after it was due."""
    engine = snmp.SnmpEngine()
    auth = snmp.CommunityData(agent.community, mpModel=1)
    target = await snmp.UdpTransportTarget.create(("127.0.0.1", agent.port), timeout=5, retries=1)
    cpu0 = cpu_seconds()

    async def snmp_poll() -> None:
        await snmp.get_cmd(engine, auth, target, snmp.ContextData(), snmp.ObjectType(snmp.ObjectIdentity(SYS_UPTIME)))
        for oid in IF_COLUMNS.values():
            async for _ in snmp.bulk_walk_cmd(engine, auth, target, snmp.ContextData(), 0, 25,
                                              snmp.ObjectType(snmp.ObjectIdentity(oid)), lexicographicMode=False):
                pass

    async def poll(i: int) -> None:
        if i % 2:
            await icmplib.async_ping(loopback(i), count=3, interval=0.2, timeout=1, privileged=True)
        else:
            await snmp_poll()

    # the same spread of the first round and the same limit in flight as the ingest scheduler's
    started, late = await on_schedule(devices, interval, seconds, poll, spread=max(10.0, devices / FIRST_ROUND_PER_S),
                                      concurrency=200)
    engine.close_dispatcher()
    return started, late, cpu_seconds() - cpu0


async def ours(agent: SnmpAgent, devices: int, interval: float, seconds: float) -> tuple[int, int, float, int]:
    snmp_check = {"kind": "snmp", "target": f"127.0.0.1:{agent.port}", "snmp": {"community": agent.community}}
    config = parse_config({"apps": [
        {"id": f"dev-{i}", "name": f"Device {i}", "kind": "switch",
         "checks": [{"id": "poll", "interval": interval, "timeout": 5,
                     **({"kind": "icmp", "target": loopback(i)} if i % 2 else snmp_check)}]}
        for i in range(devices)]}, env={})
    bus = EmbeddedBus()
    cpu0 = cpu_seconds()
    async with HealthIngest(config, bus) as ingest:
        await asyncio.sleep(seconds)
        started, late = ingest.started, ingest.late
    published = sum(bus.end_offsets("cc.health.checks"))
    return started, late, cpu_seconds() - cpu0, published


async def main(devices: int, interval: float, seconds: float) -> None:
    agent = SnmpAgent()
    await asyncio.to_thread(agent.start)
    try:
        b_started, b_late, b_cpu = await baseline(agent, devices, interval, seconds)
        o_started, o_late, o_cpu, published = await ours(agent, devices, interval, seconds)
    finally:
        agent.stop()
    late_share = o_late / max(1, o_started)
    b_per, o_per = b_cpu / max(1, b_started) * 1000, o_cpu / max(1, o_started) * 1000
    print(f"{devices} devices every {interval:g}s (half SNMP v2c to a local snmpd, half ICMP to loopback), "
          f"{seconds:g}s per run")
    print(f"baseline (bare pysnmp, icmplib)  polls {b_started:,}  late {b_late}  CPU {b_per:.2f} ms a poll")
    print(f"ingest scheduler                 polls {o_started:,}  late {o_late} ({100 * late_share:.2f}%)  "
          f"CPU {o_per:.2f} ms a poll  events published {published:,}")
    print(f"CPU a poll relative to the bare loop {o_per / max(b_per, 1e-9):.2f}x")
    report("network", {"devices": devices, "interval_s": interval, "seconds": seconds, "polls": o_started,
                       "late": o_late, "late_share": round(late_share, 5), "cpu_ms_per_poll": round(o_per, 3),
                       "baseline_polls": b_started, "baseline_late": b_late,
                       "baseline_cpu_ms_per_poll": round(b_per, 3), "published": published})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=60)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    asyncio.run(main(args.devices, args.interval, args.seconds))
