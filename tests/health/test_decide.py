"""Health decisions as a pure function: each anomaly raised and cleared exactly once, noise ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from processors.health.config import AppConfig
from processors.health.decide import AppHealth, decide
from processors.health.events import CheckResult

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
APP = AppConfig.model_validate({
    "id": "e-bansos", "name": "e-Bansos",
    "checks": [
        {"id": "web", "kind": "http", "target": "https://ebansos.example/", "interval": 30, "latency_budget_ms": 1000},
        {"id": "cert", "kind": "tls", "target": "ebansos.example:443", "cert_warning_days": 14},
    ],
    "maintenance": [{"start": "2026-06-02T00:00:00Z", "end": "2026-06-02T02:00:00Z"}],
})


def web(ok: bool, minute: float, latency: float = 100.0) -> CheckResult:
    return CheckResult(app_id="e-bansos", check_id="web", kind="http", ok=ok, latency_ms=latency,
                       started_at=T0 + timedelta(minutes=minute), reason="" if ok else "status")


def cert(days: float, minute: float) -> CheckResult:
    return CheckResult(app_id="e-bansos", check_id="cert", kind="tls", ok=True, cert_days_left=days,
                       started_at=T0 + timedelta(minutes=minute))


def run(results: list[CheckResult]) -> tuple[AppHealth, list[tuple[str, bool]], list]:  # type: ignore[type-arg]
    health = AppHealth(app_id="e-bansos")
    seen: list[tuple[str, bool]] = []
    changes_all = []
    for result in results:
        health, changes = decide(APP, health, result)
        seen.extend((c.kind, c.active) for c in changes)
        changes_all.extend(changes)
    return health, seen, changes_all


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("++", []),                                   # unknown -> up raises nothing
        ("++-+-+-+", []),                             # single failures are noise
        ("++--+", []),                                # two failures stay under the threshold of three
        ("++---", [("down", True)]),                  # three failures: down
        ("++-------", [("down", True)]),              # once, however long it stays down
        ("++---+", [("down", True)]),                 # one success is not yet recovery
        ("++---++", [("down", True), ("down", False)]),
        ("---", [("down", True)]),                    # down from the very start
    ],
)
def test_down_and_recovered_with_hysteresis(pattern: str, expected: list[tuple[str, bool]]) -> None:
    _, seen, _ = run([web(c == "+", i) for i, c in enumerate(pattern)])
    assert seen == expected


def test_recovery_carries_the_downtime() -> None:
    _, _, changes = run([web(True, 0), web(True, 1), web(False, 2), web(False, 3), web(False, 4),
                         web(True, 10), web(True, 11)])
    recovered = changes[-1]
    assert (recovered.kind, recovered.active) == ("down", False)
    # from the first failure of the streak (minute 2) to the first success of the recovery (minute 10)
    assert recovered.downtime_s == 8 * 60


def test_slow_after_three_checks_over_budget_and_clear_after_two_in_budget() -> None:
    results = [web(True, i, latency) for i, latency in enumerate([100, 1500, 1600, 900, 1500, 1500, 1700, 1800,
                                                                   200, 1200, 300, 250, 240])]
    health, seen, _ = run(results)
    assert seen == [("slow", True), ("slow", False)]
    assert health.state == "up"


def test_certificate_expiring_raised_once_and_cleared_on_renewal() -> None:
    health, seen, changes = run([web(True, 0), web(True, 1), cert(30, 2), cert(13.5, 3), cert(12.5, 4),
                                 cert(11, 5), cert(365, 6)])
    assert seen == [("cert_expiring", True), ("cert_expiring", False)]
    assert "13.5 days" in changes[0].reason


LINK = AppConfig.model_validate({
    "id": "vpn-cangkringan", "name": "VPN Cangkringan", "kind": "link",
    "checks": [{"id": "ping", "kind": "icmp", "target": "10.20.0.1", "count": 4, "max_loss_pct": 25,
                "latency_budget_ms": 80}],
})


def echo(minute: float, lost: float, rtt: float = 12.0) -> CheckResult:
    return CheckResult(app_id="vpn-cangkringan", check_id="ping", kind="icmp", ok=True, latency_ms=rtt,
                       loss_pct=lost, started_at=T0 + timedelta(minutes=minute))


def test_a_link_that_keeps_losing_echoes_is_degraded_not_down_and_clears_when_they_come_back() -> None:
    health, seen = AppHealth(app_id="vpn-cangkringan"), []
    states = []
    # one bad round is noise; three running over 25% is lossy; two clean ones clear it
    for minute, lost in enumerate([0, 0, 50, 0, 50, 75, 50, 50, 0, 25, 0]):
        health, changes = decide(LINK, health, echo(minute, lost))
        seen.extend((c.kind, c.active, c.reason) for c in changes)
        states.append(health.state)
    assert seen == [("lossy", True, "50% of echoes lost"), ("lossy", False, "echoes answered again")]
    assert states[5:8] == ["up", "degraded", "degraded"] and states[-1] == "up"
    assert "down" not in states


def test_a_link_over_its_latency_budget_is_slow() -> None:
    health, seen = AppHealth(app_id="vpn-cangkringan"), []
    for minute, rtt in enumerate([10, 10, 150, 160, 170, 10, 10]):
        health, changes = decide(LINK, health, echo(minute, 0, rtt))
        seen.extend((c.kind, c.active) for c in changes)
    assert seen == [("slow", True), ("slow", False)]


def test_degraded_while_slow_or_expiring() -> None:
    health, _, _ = run([web(True, 0), web(True, 1), cert(5, 2)])
    assert health.state == "degraded"


def test_flapping_is_reported_once_and_holds_back_down_and_recovered() -> None:
    pattern = "++" + "---++" * 6
    health, seen, _ = run([web(c == "+", i) for i, c in enumerate(pattern)])
    assert seen.count(("flapping", True)) == 1
    # the fifth change within 30 minutes (more than 4) is reported as flapping instead of another "down"
    assert seen == [("down", True), ("down", False), ("down", True), ("down", False), ("flapping", True)]
    # quiet for longer than the window: flapping clears once; it settled up, as last reported, so nothing else
    for minute in (len(pattern) + 40, len(pattern) + 41):
        health, changes = decide(APP, health, web(True, minute))
        seen.extend((c.kind, c.active) for c in changes)
    assert seen[5:] == [("flapping", False)]


def test_flapping_that_settles_down_reports_the_held_back_down() -> None:
    pattern = "++" + "---++" * 3 + "---"
    health, seen, _ = run([web(c == "+", i) for i, c in enumerate(pattern)])
    assert seen[-1] == ("flapping", True) and health.down
    for minute in (len(pattern) + 40, len(pattern) + 41):
        health, changes = decide(APP, health, web(False, minute))
        seen.extend((c.kind, c.active) for c in changes)
    assert seen[-2:] == [("flapping", False), ("down", True)]


def test_maintenance_window_shows_as_maintenance() -> None:
    start = datetime(2026, 6, 2, 0, 30, tzinfo=UTC)
    health = AppHealth(app_id="e-bansos")
    for i in range(3):
        health, _ = decide(APP, health, CheckResult(app_id="e-bansos", check_id="web", kind="http", ok=True,
                                                    started_at=start + timedelta(minutes=i)))
    assert health.state == "maintenance"


def test_a_result_for_an_unknown_check_changes_nothing() -> None:
    health = AppHealth(app_id="e-bansos")
    after, changes = decide(APP, health, CheckResult(app_id="e-bansos", check_id="nope", kind="http", ok=False,
                                                     started_at=T0))
    assert after == health and changes == []
