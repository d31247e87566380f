"""The police feed's topic."""

from __future__ import annotations

from command_center.topics import DAY_MS, TopicSpec, register_topics

POLICE_CCTV = "cc.police.cctv"

register_topics(
    TopicSpec(name=POLICE_CCTV, partitions=3, retention_ms=30 * DAY_MS, description="police feed"),
)
