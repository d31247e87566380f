"""Reply payloads: each try to tell a citizen of a step, and its topic (no contact in it, only the channel)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from command_center.events.types import Id, Payload, register
from command_center.topics import DAY_MS, TopicSpec, register_topics

ReplyKind = Literal["sms", "whatsapp", "email", "social", "open311"]


class ReplyAttempt(Payload, kw_only=True, frozen=True):
    reply_id: Id
    complaint_id: Id
    step: str
    kind: ReplyKind
    attempt: Annotated[int, msgspec.Meta(ge=1)]
    status: Literal["sent", "retrying", "failed"]
    detail: Annotated[str, msgspec.Meta(max_length=500)] = ""


register({
    "id.go.cc.reply.sent": ReplyAttempt,
    "id.go.cc.reply.retrying": ReplyAttempt,
    "id.go.cc.reply.failed": ReplyAttempt,
})

REPLIES = "cc.complaints.replies"

# kept as long as the complaints: a store rebuilt from cc.complaints finds here what each citizen was already told
register_topics(TopicSpec(name=REPLIES, partitions=3, retention_ms=5 * 365 * DAY_MS,
                          description="each try to tell a citizen of a step of their complaint"))
