"""ICMP echo checks of network devices: a loopback address, and a device in a network namespace of the test's own
behind a veth pair (tests/health/netns.py), whose link the test makes lossy or takes down (an outage, as the
switch's uplink failing)."""

from __future__ import annotations

import subprocess

import pytest

from ingest.health.checks import run_check
from processors.health.config import CheckConfig
from tests.health.netns import IN_CI, Device


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
