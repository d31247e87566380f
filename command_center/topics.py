"""The one table of topics: name, partitions, retention and compaction (DESIGN.md, the flow)."""

from __future__ import annotations

from dataclasses import dataclass

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, kw_only=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    compacted: bool = False
    description: str = ""

    def configs(self) -> dict[str, str]:
        """Kafka topic configs for creation."""
        cleanup = "compact" if self.compacted else "delete"
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": cleanup}


CCTV_SNAPSHOTS = "cc.cctv.snapshots"
CCTV_EVENTS = "cc.cctv.events"
HEALTH_CHECKS = "cc.health.checks"
HEALTH_EVENTS = "cc.health.events"
COMPLAINTS = "cc.complaints"
COMPLAINT_CONTACTS = "cc.complaints.contacts"
SENSOR_READINGS = "cc.sensors.readings"
SENSOR_EVENTS = "cc.sensors.events"
INCIDENTS = "cc.incidents"
INCIDENT_COMMANDS = "cc.incidents.commands"
NOTIFICATIONS = "cc.notifications"
POLICE_CCTV = "cc.police.cctv"
AUDIT = "cc.audit"
DEADLETTER = "cc.deadletter"
VIEWS = "cc.views"

TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        TopicSpec(name=CCTV_SNAPSHOTS, partitions=12, retention_ms=6 * HOUR_MS, description="frame metadata"),
        TopicSpec(name=CCTV_EVENTS, partitions=6, retention_ms=30 * DAY_MS, description="camera anomalies"),
        TopicSpec(name=HEALTH_CHECKS, partitions=6, retention_ms=7 * DAY_MS, description="check results"),
        TopicSpec(name=HEALTH_EVENTS, partitions=3, retention_ms=90 * DAY_MS, description="app state changes"),
        TopicSpec(name=COMPLAINTS, partitions=6, retention_ms=5 * 365 * DAY_MS, description="complaint record"),
        TopicSpec(name=COMPLAINT_CONTACTS, partitions=3, retention_ms=5 * 365 * DAY_MS, compacted=True,
                  description="who complained (restrict with ACLs)"),
        TopicSpec(name=SENSOR_READINGS, partitions=12, retention_ms=7 * DAY_MS, description="sensor readings"),
        TopicSpec(name=SENSOR_EVENTS, partitions=3, retention_ms=90 * DAY_MS, description="sensor anomalies"),
        TopicSpec(name=INCIDENTS, partitions=6, retention_ms=365 * DAY_MS, compacted=True, description="incidents"),
        TopicSpec(name=INCIDENT_COMMANDS, partitions=6, retention_ms=365 * DAY_MS, description="operator actions"),
        TopicSpec(name=NOTIFICATIONS, partitions=3, retention_ms=90 * DAY_MS, description="on-call pushes"),
        TopicSpec(name=POLICE_CCTV, partitions=3, retention_ms=30 * DAY_MS, description="police feed"),
        TopicSpec(name=AUDIT, partitions=3, retention_ms=5 * 365 * DAY_MS, description="audit trail"),
        TopicSpec(name=DEADLETTER, partitions=1, retention_ms=30 * DAY_MS, description="poison events"),
        TopicSpec(name=VIEWS, partitions=6, retention_ms=365 * DAY_MS, compacted=True,
                  description="each entity's latest view (key: channel/entity), for the hub"),
    )
}
