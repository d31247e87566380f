"""On-call payloads: each attempt to deliver a page; its topics."""

from __future__ import annotations

from typing import Literal

from command_center.events.types import (
    Id,
    Payload,
    Text,
    anomaly_types,
    register,
)
from command_center.topics import DAY_MS, TopicSpec, register_topics


class NotificationAttempt(Payload, kw_only=True, frozen=True):
    """One push to one on-call contact for one escalation step."""

    notification_id: Id
    incident_id: Id
    step: int
    attempt: int
    channel: Literal["webhook", "telegram", "email"]
    target: str
    status: Literal["sent", "failed", "retrying", "acknowledged", "resolved"]
    detail: Text = ""
    kind: Literal["page", "resolved"] = "page"
    round: int = 0


register(anomaly_types("id.go.cc.notification", ("sent", "failed", "retrying", "acknowledged", "resolved"),
                      NotificationAttempt))


NOTIFICATIONS = "cc.notifications"

register_topics(
    # kept as long as the incidents whose pages it records: a store rebuilt from it pages nobody twice
    TopicSpec(name=NOTIFICATIONS, partitions=3, retention_ms=365 * DAY_MS, description="on-call pushes"),
)
