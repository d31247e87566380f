"""CloudEvents' Kafka protocol binding, checked with the official `cloudevents` SDK on both buses: the records
we write are structured mode by their `content-type` header, and a binary-mode event from another producer
(attributes in `ce_` headers) is read as the same typed event."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka, to_binary_event
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from command_center.bus import Message
from command_center.events import decode, encode
from processors.health.events import HEALTH_CHECKS, CheckResult
from tests.conftest import Backend
from tests.helpers import check_event


async def _records(backend: Backend, topic: str, count: int) -> list:  # type: ignore[type-arg]
    consumer = backend.bus.consumer("ce-reader", [topic])
    await consumer.start()
    got: list = []  # type: ignore[type-arg]
    try:
        for _ in range(60):
            got.extend(await consumer.poll(max_records=100, wait=0.5))
            if len(got) >= count:
                break
    finally:
        await consumer.stop()
    return got


async def test_our_records_are_structured_mode_and_binary_mode_is_read(backend: Backend) -> None:
    ours = check_event("e-bansos", 1)
    theirs = CloudEvent(attributes={"id": "gw-7781", "source": "/gateway/probe-3", "type": ours.type,
                                    "subject": "e-perizinan", "time": datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
                                    "datacontenttype": "application/json"},
                        data={"app_id": "e-perizinan", "check_id": "home", "kind": "http", "ok": False,
                              "started_at": "2026-12-01T09:30:00+07:00", "http_status": 503, "reason": "http_status",
                              "an_unknown_field": "ignored by consumers"})
    binary = to_binary_event(theirs)
    await backend.bus.publish([Message(HEALTH_CHECKS, ours.key, encode(ours)),
                               Message(HEALTH_CHECKS, b"e-perizinan", binary.value, tuple(binary.headers.items()))])
    records = await _records(backend, HEALTH_CHECKS, 2)  # two keys: two partitions, in either order
    first, second = sorted(records, key=lambda r: any(name.startswith("ce_") for name, _ in r.headers))

    read = from_kafka(KafkaMessage(headers=dict(first.headers), key=first.key, value=first.value), JSONFormat())
    assert dict(first.headers)["content-type"] == b"application/cloudevents+json"
    assert (read.get_id(), read.get_type(), read.get_source(), read.get_subject()) == \
        (ours.id, ours.type, ours.source, ours.subject)
    data = read.get_data()
    assert (json.loads(data) if isinstance(data, (bytes, str)) else data)["app_id"] == "e-bansos"

    event = decode(second.value, second.headers)
    assert (event.id, event.source, event.subject, event.time) == \
        ("gw-7781", "/gateway/probe-3", "e-perizinan", datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    assert isinstance(event.data, CheckResult) and event.data.http_status == 503 and not event.data.ok
