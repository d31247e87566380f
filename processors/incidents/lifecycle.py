"""Incident lifecycle as pure functions: a trigger or an operator's command in, the incident after it out.

Acknowledged and cleared are independent (as ThingsBoard's alarms): a cleared incident that nobody has
acknowledged stays on the wall as `cleared` until someone does; acknowledging a cleared incident, or
clearing an acknowledged one, resolves it. A new trigger after resolution opens a new incident: its id
derives from the dedup key and a generation that counts incidents of that key.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from command_center.events import derive_id
from command_center.events.types import Severity
from processors.incidents.events import IncidentCommand, IncidentState, TimelineEntry
from processors.incidents.triggers import Trigger

SEEN = 200
TIMELINE = 200
RANK: dict[str, int] = {"info": 0, "minor": 1, "major": 2, "critical": 3}


class DedupRecord(msgspec.Struct, kw_only=True):
    key: str
    generation: int = 0
    open_id: str = ""
    seen: list[str] = []


class Refused(Exception):
    """A command that does not apply to the incident as it is (HTTP 409)."""


def worst(a: Severity, b: Severity) -> Severity:
    return a if RANK[a] >= RANK[b] else b


def entry(at: datetime, kind: str, text: str = "", actor: str = "", event_id: str = "") -> TimelineEntry:
    return TimelineEntry(at=at, kind=kind, text=text[:1000], actor=actor, event_id=event_id)


def _with(incident: IncidentState, entry: TimelineEntry, **changes: object) -> IncidentState:
    timeline = [*incident.timeline, entry][-TIMELINE:]
    return msgspec.structs.replace(incident, timeline=timeline, updated_at=entry.at, **changes)


def apply_trigger(record: DedupRecord, incident: IncidentState | None, trigger: Trigger, event_id: str,
                  public: bool) -> tuple[DedupRecord, IncidentState | None, str | None]:
    """(record, incident, change type) after a trigger; change type None when nothing changed."""
    if event_id in record.seen:
        return record, incident, None
    record = msgspec.structs.replace(record, seen=[*record.seen, event_id][-SEEN:])
    is_open = incident is not None and incident.status != "resolved"
    at = trigger.at
    if trigger.active:
        if is_open:
            assert incident is not None
            reopened = incident.cleared
            incident = _with(incident, entry(at, "raised again" if reopened else "repeat", trigger.detail,
                                              event_id=event_id),
                             count=incident.count + 1, severity=worst(incident.severity, trigger.severity),
                             cleared=False, status="acknowledged" if incident.acknowledged else "open")
            return record, incident, "reopened" if reopened else "updated"
        generation = record.generation + 1
        new_id = derive_id("incident", trigger.dedup_key, generation)
        incident = IncidentState(
            id=new_id, dedup_key=trigger.dedup_key, title=trigger.title[:300], severity=trigger.severity,
            status="open", source=trigger.source, kind=trigger.kind, area=trigger.area,  # type: ignore[arg-type]
            opened_at=at, updated_at=at, entities=[trigger.entity], links=trigger.links, public=public,
            suppressed=trigger.suppressed, escalate_to=list(trigger.escalate_to), generation=generation,
            timeline=[entry(at, "opened", trigger.detail, event_id=event_id)],
        )
        return msgspec.structs.replace(record, generation=generation, open_id=new_id), incident, "opened"
    if not is_open:
        return record, incident, None
    assert incident is not None
    if incident.acknowledged:
        incident = _with(incident, entry(at, "cleared", trigger.detail, event_id=event_id), cleared=True,
                         status="resolved", resolved_at=at)
        return msgspec.structs.replace(record, open_id=""), incident, "resolved"
    incident = _with(incident, entry(at, "cleared", trigger.detail, event_id=event_id), cleared=True, status="cleared")
    return record, incident, "cleared"


def apply_command(incident: IncidentState, command: IncidentCommand, at: datetime,
                  event_id: str) -> tuple[IncidentState, str | None]:
    """The incident after an operator's command; Refused when it cannot apply."""
    if any(e.event_id == event_id for e in incident.timeline):
        return incident, None
    action, actor = command.action, command.actor
    if action == "comment":
        return _with(incident, entry(at, "comment", command.text, actor, event_id)), "commented"
    if incident.status == "resolved":
        raise Refused(f"incident {incident.id} is already resolved")
    if action == "ack":
        if incident.acknowledged:
            raise Refused(f"incident {incident.id} is already acknowledged by {incident.acknowledged_by}")
        resolved = incident.cleared
        incident = _with(incident, entry(at, "acknowledged", command.text, actor, event_id), acknowledged=True,
                         acknowledged_by=actor, status="resolved" if resolved else "acknowledged",
                         resolved_at=at if resolved else None)
        return incident, "resolved" if resolved else "acknowledged"
    if action == "unack":
        if not incident.acknowledged or incident.cleared:
            return incident, None
        incident = _with(incident, entry(at, "acknowledgement lapsed", command.text, actor, event_id),
                         acknowledged=False, acknowledged_by="", status="open")
        return incident, "reopened"
    incident = _with(incident, entry(at, "resolved", command.text, actor, event_id), status="resolved",
                     resolved_at=at)
    return incident, "resolved"
