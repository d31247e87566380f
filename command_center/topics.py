"""The topics' common ground: what a topic is, the registry of every topic, and the kernel's own topics.

Each feature declares its topics beside its payloads (`processors/<feature>/events.py`) and registers them
here when imported; `command-center topics create` creates every registered one.
"""

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


AUDIT = "cc.audit"
DEADLETTER = "cc.deadletter"
VIEWS = "cc.views"
WALL_SCREENS = "cc.wall.screens"
SYSTEM_EVENTS = "cc.system.events"
WATCH = "cc.watch"

TOPICS: dict[str, TopicSpec] = {}


def register_topics(*specs: TopicSpec) -> None:
    """Add a feature's topics; a name is declared once."""
    for spec in specs:
        if TOPICS.setdefault(spec.name, spec) is not spec:
            raise ValueError(f"topic {spec.name} is declared twice")


register_topics(
    TopicSpec(name=AUDIT, partitions=3, retention_ms=5 * 365 * DAY_MS, description="audit trail"),
    TopicSpec(name=DEADLETTER, partitions=1, retention_ms=30 * DAY_MS, description="poison events"),
    TopicSpec(name=VIEWS, partitions=6, retention_ms=365 * DAY_MS, compacted=True,
                  description="each entity's latest view (key: channel/entity), for the hub"),
    TopicSpec(name=WALL_SCREENS, partitions=1, retention_ms=DAY_MS,
              description="each wall screen's report of itself, through the hub (watching the watchers)"),
    TopicSpec(name=SYSTEM_EVENTS, partitions=1, retention_ms=30 * DAY_MS,
              description="the centre's own anomalies: a processor falling behind"),
    TopicSpec(name=WATCH, partitions=1, retention_ms=DAY_MS, description="the watch's round trips through the bus"),
)
