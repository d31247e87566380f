"""Incident payloads: the incident's state with its timeline, and operators' commands; its topics."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from command_center.events.types import (
    Id,
    Payload,
    Severity,
    Text,
    anomaly_types,
    register,
)
from command_center.topics import DAY_MS, TopicSpec, register_topics

IncidentStatus = Literal["open", "acknowledged", "cleared", "resolved"]


class TimelineEntry(Payload, kw_only=True, frozen=True):
    at: datetime
    kind: str
    text: Text = ""
    actor: str = ""
    event_id: str = ""


class IncidentState(Payload, kw_only=True, frozen=True):
    """The whole incident after a change (the compacted topic keeps the latest per incident)."""

    id: Id
    dedup_key: str
    title: str
    severity: Severity
    status: IncidentStatus
    source: Literal["cctv", "health", "complaints", "sensors", "system", "correlation"]
    kind: str
    area: str
    opened_at: datetime
    updated_at: datetime
    acknowledged: bool = False
    cleared: bool = False
    resolved_at: datetime | None = None
    acknowledged_by: str = ""
    entities: list[str] = []
    parent_id: str = ""
    children: list[str] = []
    links: dict[str, str] = {}
    public: bool = False
    suppressed: bool = False
    count: int = 1
    timeline: list[TimelineEntry] = []
    escalate_to: list[str] = []  # contacts paged at the first step whatever the policy (an agency head)
    affected: list[str] = []  # entities down because this one is, folded under it: no incident, no page of their own
    generation: int = 0  # the how-manyth incident of its dedup key (its id derives from both): kept so that a store
    # rebuilt from this topic opens the next one under a new id


class IncidentCommand(Payload, kw_only=True, frozen=True):
    """An operator's action on an incident, from the API to the incident processor."""

    incident_id: Id
    action: Literal["ack", "resolve", "comment", "unack"]
    actor: str
    role: str
    text: Text = ""


register({
    **anomaly_types("id.go.cc.incident",
                    ("opened", "updated", "acknowledged", "cleared", "resolved", "commented", "reopened"),
                    IncidentState),
    "id.go.cc.incident.command": IncidentCommand,
})


INCIDENTS = "cc.incidents"
INCIDENT_COMMANDS = "cc.incidents.commands"

register_topics(
    TopicSpec(name=INCIDENTS, partitions=6, retention_ms=365 * DAY_MS, compacted=True, description="incidents"),
    TopicSpec(name=INCIDENT_COMMANDS, partitions=6, retention_ms=365 * DAY_MS, description="operator actions"),
)
