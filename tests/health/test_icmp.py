"""ICMP echo checks of network devices: a loopback address, and a device in a network namespace of the test's own
behind a veth pair, whose link the test makes lossy or takes down (an outage, as the switch's uplink failing).
With CI=true a machine that cannot make the namespace fails the test instead of skipping.

Loss is made on the wire by the kernel's traffic control at the device's side of the link. These machines' kernel
has no `netem` (nor nftables): the device's egress queue is an HTB whose u32 filter sends the echo replies whose
sequence number is a multiple of 2 or 4 to a class that queues nothing (pfifo, limit 0), so exactly half or a
quarter of the answers are dropped, which a test can assert where netem's random loss could only be bounded."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from ingest.health.checks import run_check
from processors.health.config import CheckConfig

IN_CI = os.environ.get("CI", "").lower() == "true"


def _ip(*args: str, netns: str = "") -> None:
    command = ["ip", *(["netns", "exec", netns, "ip"] if netns else []), *args]
    subprocess.run(command, check=True, capture_output=True, timeout=10)


class Device:
    """A host at `address` in its own network namespace, reached over a veth pair."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.netns, self.host_if, self.device_if = f"cc-{tag}", f"cch{tag}", f"ccd{tag}"
        octet = int(tag[:2], 16)
        self.address, self.local = f"10.251.{octet}.2", f"10.251.{octet}.1"

    def start(self) -> None:
        _ip("netns", "add", self.netns)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.device_if)
        _ip("link", "set", self.device_if, "netns", self.netns)
        _ip("addr", "add", f"{self.local}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        _ip("addr", "add", f"{self.address}/30", "dev", self.device_if, netns=self.netns)
        _ip("link", "set", self.device_if, "up", netns=self.netns)

    def lose(self, every: int) -> None:
        """Drop the device's echo replies whose sequence number is a multiple of `every` (2 or 4)."""
        tc = ["ip", "netns", "exec", self.netns, "tc"]
        dev = ["dev", self.device_if]
        subprocess.run([*tc, "qdisc", "del", *dev, "root"], capture_output=True, timeout=10)  # none the first time
        for step in (["qdisc", "add", *dev, "root", "handle", "1:", "htb", "default", "10"],
                     ["class", "add", *dev, "parent", "1:", "classid", "1:10", "htb", "rate", "1gbit"],
                     ["class", "add", *dev, "parent", "1:", "classid", "1:20", "htb", "rate", "1gbit"],
                     ["qdisc", "add", *dev, "parent", "1:20", "handle", "20:", "pfifo", "limit", "0"],
                     ["filter", "add", *dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "protocol", "1", "0xff", "match", "u8", "0", "0xff", "at", "20",
                      "match", "u16", "0", hex(every - 1), "at", "26", "flowid", "1:20"]):
            subprocess.run([*tc, *step], check=True, capture_output=True, timeout=10)

    def link(self, up: bool) -> None:
        _ip("link", "set", self.device_if, "up" if up else "down", netns=self.netns)

    def stop(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, timeout=10)


@pytest.fixture
def device() -> Iterator[Device]:
    found = Device()
    try:
        found.start()
    except (OSError, subprocess.CalledProcessError) as err:
        found.stop()
        reason = f"cannot make a network namespace here ({getattr(err, 'stderr', b'') or err!s})"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true)")
        pytest.skip(reason)
    yield found
    found.stop()


def ping(target: str, **kw: object) -> CheckConfig:
    return CheckConfig(id="ping", kind="icmp", target=target, timeout=2, **kw)  # type: ignore[arg-type]


async def test_a_loopback_address_answers_with_its_latency() -> None:
    outcome = await run_check(ping("127.0.0.9", count=4), None)  # type: ignore[arg-type]
    assert outcome.ok and 0 < outcome.latency_ms < 50
    assert outcome.detail.startswith("4 of 4 echoes answered (0% lost)") and "jitter" in outcome.detail


async def test_a_device_whose_link_fails_is_unreachable_and_answers_again_when_it_returns(device: Device) -> None:
    assert (await run_check(ping(device.address), None)).ok  # type: ignore[arg-type]
    device.link(False)
    outcome = await run_check(ping(device.address), None)  # type: ignore[arg-type]
    assert not outcome.ok and outcome.reason == "unreachable"
    assert outcome.detail == f"{device.address}: no answer to 3 echo requests"
    device.link(True)
    assert (await run_check(ping(device.address), None)).ok  # type: ignore[arg-type]


async def test_a_lossy_link_reports_the_share_of_echoes_lost_and_an_unbroken_link_none(device: Device) -> None:
    clean = await run_check(ping(device.address, count=4), None)  # type: ignore[arg-type]
    assert clean.ok and clean.loss_pct == 0
    try:
        device.lose(every=4)
    except subprocess.CalledProcessError as err:
        if IN_CI:
            raise
        pytest.skip(f"no traffic control here: {err.stderr!r}")
    quarter = await run_check(ping(device.address, count=8), None)  # type: ignore[arg-type]
    # it still answers: up, with its loss, which the processor turns into degraded when it lasts
    assert quarter.ok and quarter.loss_pct == 25, quarter
    assert quarter.detail.startswith("6 of 8 echoes answered (25% lost)")
    device.lose(every=2)
    half = await run_check(ping(device.address, count=4), None)  # type: ignore[arg-type]
    assert half.ok and half.loss_pct == 50 and half.detail.startswith("2 of 4 echoes answered (50% lost)")


async def test_a_name_that_does_not_resolve_is_a_dns_failure_not_a_crash() -> None:
    outcome = await run_check(ping("switch-mlati.invalid"), None)  # type: ignore[arg-type]
    assert not outcome.ok and outcome.reason == "dns"


def test_a_bad_target_is_refused_at_load() -> None:
    with pytest.raises(ValueError, match="an icmp check needs a host name or an address"):
        ping("http://10.0.0.1/")
