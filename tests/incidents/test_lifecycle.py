"""Incident lifecycle as pure functions: dedup, replay, clear and acknowledge independent, generations."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from processors.incidents.events import IncidentCommand
from processors.incidents.lifecycle import DedupRecord, Refused, apply_command, apply_trigger
from processors.incidents.triggers import Trigger

T0 = datetime(2026, 4, 1, 7, 0, tzinfo=UTC)
RAISE = Trigger("health", "e-bansos", "down", True, "critical", "sleman", "e-Bansos down", "HTTP 503", T0)
CLEAR = replace(RAISE, active=False, detail="recovered")


def run(steps: list[tuple[Trigger, str]]):  # type: ignore[no-untyped-def]
    record, incident, changes = DedupRecord(key=RAISE.dedup_key), None, []
    for trigger, event_id in steps:
        record, incident, change = apply_trigger(record, incident, trigger, event_id, False)
        changes.append(change)
    return record, incident, changes


def test_repeats_update_one_incident_and_replays_change_nothing() -> None:
    _, incident, changes = run([(RAISE, "e1"), (RAISE, "e2"), (RAISE, "e1"), (RAISE, "e3"), (RAISE, "e2")])
    assert changes == ["opened", "updated", None, "updated", None]
    assert incident.count == 3 and incident.status == "open"


def test_clear_without_ack_stays_cleared_until_acknowledged() -> None:
    _, incident, changes = run([(RAISE, "e1"), (CLEAR, "e2")])
    assert changes == ["opened", "cleared"] and incident.status == "cleared" and incident.cleared
    acked, change = apply_command(incident, IncidentCommand(incident_id=incident.id, action="ack", actor="budi",
                                                            role="operator"), T0, "c1")
    assert change == "resolved" and acked.status == "resolved" and acked.acknowledged_by == "budi"


def test_ack_then_clear_resolves() -> None:
    record, incident, _ = run([(RAISE, "e1")])
    incident, change = apply_command(incident, IncidentCommand(incident_id=incident.id, action="ack", actor="budi",
                                                               role="oncall"), T0, "c1")
    assert change == "acknowledged" and incident.status == "acknowledged"
    record, incident, change = apply_trigger(record, incident, CLEAR, "e2", False)
    assert change == "resolved" and incident.resolved_at == T0 and record.open_id == ""


def test_raised_again_after_clear_reopens_the_same_incident() -> None:
    _, incident, changes = run([(RAISE, "e1"), (CLEAR, "e2"), (RAISE, "e3")])
    assert changes == ["opened", "cleared", "reopened"] and incident.status == "open" and not incident.cleared


def test_a_new_trigger_after_resolution_opens_a_new_incident() -> None:
    record, first, _ = run([(RAISE, "e1")])
    first, _ = apply_command(first, IncidentCommand(incident_id=first.id, action="resolve", actor="a", role="operator"),
                             T0, "c1")
    record = replace_record(record)
    record, second, change = apply_trigger(record, first, replace(RAISE, at=T0 + timedelta(hours=1)), "e9", False)
    assert change == "opened" and second.id != first.id and record.generation == 2


def replace_record(record: DedupRecord) -> DedupRecord:
    import msgspec

    return msgspec.structs.replace(record, open_id="")


def test_generation_ids_are_deterministic() -> None:
    _, a, _ = run([(RAISE, "e1")])
    _, b, _ = run([(RAISE, "other-event")])
    assert a.id == b.id


@pytest.mark.parametrize(("action", "setup", "message"), [
    ("ack", "resolved", "already resolved"),
    ("resolve", "resolved", "already resolved"),
    ("ack", "acknowledged", "already acknowledged"),
])
def test_commands_that_do_not_apply_are_refused(action: str, setup: str, message: str) -> None:
    _, incident, _ = run([(RAISE, "e1")])
    first = "resolve" if setup == "resolved" else "ack"
    incident, _ = apply_command(incident, IncidentCommand(incident_id=incident.id, action=first, actor="a",  # type: ignore[arg-type]
                                                          role="operator"), T0, "c1")
    with pytest.raises(Refused, match=message):
        apply_command(incident, IncidentCommand(incident_id=incident.id, action=action, actor="b",  # type: ignore[arg-type]
                                                role="operator"), T0, "c2")


def test_comments_go_on_the_timeline_even_after_resolution() -> None:
    _, incident, _ = run([(RAISE, "e1")])
    incident, _ = apply_command(incident, IncidentCommand(incident_id=incident.id, action="resolve", actor="a",
                                                          role="operator"), T0, "c1")
    incident, change = apply_command(incident, IncidentCommand(incident_id=incident.id, action="comment", actor="a",
                                                               role="operator", text="root cause: UPS"), T0, "c2")
    assert change == "commented" and incident.timeline[-1].text == "root cause: UPS"
