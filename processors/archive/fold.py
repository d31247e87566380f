"""What each event changes in the archive, as plain rows: no database here (the writer runs these and writes
what they return). A complaint's row follows the same rules as its record in the complaints processor (an
action on a closed complaint is ignored, a close gives the response and the feedback still owed, a rating
counts once, closing a complaint closes its open duplicates), so the archive says what the API says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from command_center.events import Event
from command_center.events.types import AuditAction
from processors.complaints.events import (
    ComplaintAction,
    ComplaintBreach,
    ComplaintForwarded,
    ComplaintLinked,
    ComplaintRated,
    ComplaintReceived,
    ComplaintRouted,
)
from processors.health.events import CheckResult
from processors.incidents.events import IncidentState
from processors.notify.events import NotificationAttempt
from processors.sensors.events import SensorAnomaly, SensorReading

Row = dict[str, Any]
MonthOf = Callable[[datetime], str]


@dataclass
class Complaints:
    """The complaint rows a batch touches (loaded before it, written after it) and the changes it made."""

    rows: dict[str, Row]
    month_of: MonthOf
    changes: list[Row] = field(default_factory=list)
    dirty: set[str] = field(default_factory=set)
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # first complaint -> its duplicates' ids

    def __post_init__(self) -> None:
        for row in self.rows.values():
            if row["duplicate_of"]:
                self.duplicates.setdefault(row["duplicate_of"], []).append(row["id"])

    def _change(self, row: Row, event_id: str, action: str, at: datetime, actor: str = "") -> None:
        self.changes.append({"complaint_id": row["id"], "event_id": event_id, "action": action, "at": at,
                             "actor": actor[:200], "month": self.month_of(at)})
        row["updated_at"] = max(row["updated_at"], at)
        self.dirty.add(row["id"])

    def apply(self, event: Event) -> None:
        data = event.data
        if isinstance(data, ComplaintReceived):
            if data.complaint_id in self.rows:
                return  # a replay, or another receipt under the same id (the complaints processor refuses it)
            row: Row = {
                "id": data.complaint_id, "channel": data.channel, "service_code": data.service_code,
                "agency": "", "area": data.area, "rule": "", "month": self.month_of(data.requested_at),
                "received_at": data.requested_at, "status": "open", "duplicate_of": "", "response_due": None,
                "feedback_due": None, "responded_at": None, "feedback_at": None, "closed_at": None,
                "response_s": None, "responded_in_sla": None, "feedback_in_sla": None, "breached_response": False,
                "breached_feedback": False, "reopened": 0, "rating": None, "rated_at": None, "upstream": "",
                "upstream_id": "", "updated_at": data.requested_at}
            self.rows[row["id"]] = row
            self._change(row, event.id, "received", data.requested_at, data.channel)
            return
        found = self.rows.get(getattr(data, "complaint_id", ""))
        if found is None:
            return
        row = found
        if isinstance(data, ComplaintRouted):
            row.update(agency=data.agency, rule=data.rule, response_due=data.response_due,
                       feedback_due=data.feedback_due, area=data.area or row["area"])
            self._change(row, event.id, "routed", event.time, "")
        elif isinstance(data, ComplaintLinked):
            first = self.rows.get(data.duplicate_of)
            row.update(duplicate_of=data.duplicate_of, rule="duplicate", agency=first["agency"] if first else "")
            self.duplicates.setdefault(data.duplicate_of, []).append(row["id"])
            self._change(row, event.id, "linked", event.time)
        elif isinstance(data, ComplaintAction):
            self._act(row, event.id, data)
        elif isinstance(data, ComplaintRated):
            if row["rating"] is None:
                row.update(rating=data.rating, rated_at=data.at)
                self._change(row, event.id, "rated", data.at, data.channel)
        elif isinstance(data, ComplaintForwarded):
            row.update(upstream=data.upstream, upstream_id=data.remote_id)
            self._change(row, event.id, "forwarded", data.at, data.upstream)
        elif isinstance(data, ComplaintBreach):
            row[f"breached_{data.deadline}"] = True
            self._change(row, event.id, f"breached_{data.deadline}", data.due)

    def _act(self, row: Row, event_id: str, data: ComplaintAction) -> None:
        at, actor = data.at, data.actor
        if data.action == "reopen":
            if row["status"] == "closed":
                row.update(status="open", closed_at=None, feedback_at=None, feedback_in_sla=None,
                           breached_feedback=False, reopened=row["reopened"] + 1)
                self._change(row, event_id, "reopened", at, actor)
            return
        if row["status"] == "closed":
            return
        before = len(self.changes)
        if row["responded_at"] is None:
            due = row["response_due"]
            row.update(responded_at=at, response_s=(at - row["received_at"]).total_seconds(),
                       responded_in_sla=due is None or at <= due)
            self._change(row, event_id, "responded", at, actor)
        if data.action in ("feedback", "close") and row["feedback_at"] is None:
            due = row["feedback_due"]
            row.update(feedback_at=at, feedback_in_sla=due is None or at <= due)
            self._change(row, event_id, "feedback", at, actor)
        if data.action == "close":
            row.update(status="closed", closed_at=at)
            self._change(row, event_id, "closed", at, actor)
            for duplicate in (self.rows[i] for i in self.duplicates.get(row["id"], ())):
                if duplicate["status"] == "open":
                    duplicate.update(status="closed", closed_at=at)
                    self._change(duplicate, event_id, "closed", at, actor)
        if len(self.changes) == before:
            self._change(row, event_id, "notes", at, actor)


def incident_row(state: IncidentState, before: Row | None, month_of: MonthOf) -> Row | None:
    """The incident's row after this state, or None when the row already holds a later one (a replay)."""
    if before is not None and before["updated_at"] > state.updated_at:
        return None
    acked = next((e.at for e in state.timeline if e.kind == "acknowledged"), None)
    acknowledged_at = before["acknowledged_at"] if before and before["acknowledged_at"] else acked
    return {"id": state.id, "source": state.source, "kind": state.kind, "severity": state.severity,
            "area": state.area, "title": state.title[:500], "status": state.status,
            "month": month_of(state.opened_at), "opened_at": state.opened_at, "acknowledged_at": acknowledged_at,
            "acknowledged_by": state.acknowledged_by[:200], "resolved_at": state.resolved_at,
            "parent_id": state.parent_id, "count": state.count, "updated_at": state.updated_at}


def timeline_rows(state: IncidentState) -> list[Row]:
    out = []
    for e in state.timeline:
        digest = hashlib.sha256(f"{e.at.isoformat()}|{e.kind}|{e.actor}|{e.event_id}|{e.text}".encode()).hexdigest()
        out.append({"incident_id": state.id, "entry": digest[:32], "at": e.at, "kind": e.kind[:64],
                    "actor": e.actor[:200], "text": e.text})
    return out


def page_row(event: Event, data: NotificationAttempt) -> Row:
    return {"event_id": event.id, "incident_id": data.incident_id, "step": data.step, "attempt": data.attempt,
            "channel": data.channel, "target": data.target[:200], "status": data.status, "at": event.time}


def audit_row(event: Event, data: AuditAction) -> Row:
    return {"event_id": event.id, "at": event.time, "actor": data.actor[:200], "role": data.role[:200],
            "action": data.action[:100], "target_kind": data.target_kind[:64], "target_id": data.target_id[:200],
            "detail": data.detail}


def alarm_row(event: Event, data: SensorAnomaly, month_of: MonthOf) -> Row:
    return {"event_id": event.id, "sensor_id": data.sensor_id, "kind": data.kind, "active": data.active,
            "at": event.time, "month": month_of(event.time)}


def hour_of(at: datetime) -> datetime:
    return datetime.fromtimestamp(at.timestamp() // 3600 * 3600, UTC)


def app_hours(events: Iterable[tuple[Event, CheckResult]], month_of: MonthOf) -> list[Row]:
    """Checks summed by application and hour (a batch's share; the writer adds it to what the row holds)."""
    rows: dict[tuple[str, datetime], Row] = {}
    for _, data in events:
        hour = hour_of(data.started_at)
        row = rows.setdefault((data.app_id, hour), {"app_id": data.app_id, "hour": hour, "month": month_of(hour),
                                                    "checks": 0, "ok": 0, "latency_ms_sum": 0.0,
                                                    "latency_ms_max": 0.0})
        row["checks"] += 1
        row["ok"] += int(data.ok)
        row["latency_ms_sum"] += data.latency_ms
        row["latency_ms_max"] = max(row["latency_ms_max"], data.latency_ms)
    return list(rows.values())


def sensor_hours(events: Iterable[tuple[Event, SensorReading]], month_of: MonthOf) -> list[Row]:
    """Readings by sensor, quantity and hour: count, min, max and sum (the mean is sum / count)."""
    rows: dict[tuple[str, str, datetime], Row] = {}
    for _, data in events:
        hour = hour_of(data.measured_at)
        key = (data.sensor_id, data.quantity, hour)
        row = rows.get(key)
        if row is None:
            rows[key] = {"sensor_id": data.sensor_id, "quantity": data.quantity[:64], "hour": hour,
                         "month": month_of(hour), "unit": data.unit[:32], "count": 1, "min": data.value,
                         "max": data.value, "sum": data.value}
            continue
        row.update(count=row["count"] + 1, min=min(row["min"], data.value), max=max(row["max"], data.value),
                   sum=row["sum"] + data.value)
    return list(rows.values())
