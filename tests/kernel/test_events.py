"""The event contract: CloudEvents envelope, typed payloads, and decoding that validates."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from command_center.errors import DecodeError
from command_center.events import EVENT_TYPES, decode, derive_id, encode, new_event
from command_center.events.types import Payload
from processors.cctv.events import CameraAnomaly
from processors.health.events import CheckResult

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def frozen_camera() -> CameraAnomaly:
    return CameraAnomaly(camera_id="cam-017", kind="frozen", active=True, state="frozen", since=NOW)


def test_encoded_event_is_cloudevents_structured_json() -> None:
    event = new_event("id.go.cc.cctv.frozen", source="/processors/cctv", subject="cam-017", time=NOW,
                      data=frozen_camera())
    body = json.loads(encode(event))
    assert body["specversion"] == "1.0"
    assert body["datacontenttype"] == "application/json"
    assert body["type"] == "id.go.cc.cctv.frozen"
    assert body["subject"] == "cam-017"
    assert body["time"] == "2026-05-01T12:00:00Z"
    assert body["data"]["camera_id"] == "cam-017"
    assert event.key == b"cam-017"


def test_round_trip_keeps_the_typed_payload() -> None:
    event = new_event("id.go.cc.cctv.frozen", source="/p", subject="cam-017", time=NOW, data=frozen_camera())
    again = decode(encode(event))
    assert again == event
    assert isinstance(again.data, CameraAnomaly)


def test_every_event_type_names_a_payload_struct() -> None:
    assert len(EVENT_TYPES) > 30
    for name, payload in EVENT_TYPES.items():
        assert name.startswith("id.go.cc."), name
        assert issubclass(payload, Payload)


def test_payload_of_the_wrong_struct_is_refused_when_building() -> None:
    with pytest.raises(TypeError):
        new_event("id.go.cc.cctv.frozen", source="/p", subject="x", time=NOW,
                  data=CheckResult(app_id="a", check_id="c", kind="http", ok=True, started_at=NOW))


def test_naive_time_is_refused_when_building() -> None:
    with pytest.raises(ValueError):
        new_event("id.go.cc.cctv.frozen", source="/p", subject="x", time=datetime(2026, 1, 1), data=frozen_camera())


def _envelope(**overrides: object) -> bytes:
    body = {"specversion": "1.0", "id": "e1", "source": "/s", "type": "id.go.cc.cctv.frozen",
            "time": "2026-05-01T12:00:00Z", "subject": "cam-1",
            "data": {"camera_id": "cam-1", "kind": "frozen", "active": True, "state": "frozen",
                     "since": "2026-05-01T12:00:00Z"}}
    body.update(overrides)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "envelope"),
        (b"[]", "envelope"),
        (_envelope(specversion="0.3"), "specversion"),
        (_envelope(type="id.go.cc.nope"), "unknown type"),
        (_envelope(time="2026-05-01T12:00:00"), "timezone"),
        (_envelope(data={"camera_id": "cam-1"}), "data of id.go.cc.cctv.frozen"),
        (_envelope(data={"camera_id": "cam-1", "kind": "exploded", "active": True, "state": "frozen",
                         "since": "2026-05-01T12:00:00Z"}), "kind"),
    ],
)
def test_invalid_events_fail_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(raw)


def test_a_payload_from_a_newer_producer_decodes_with_its_unknown_fields_ignored() -> None:
    """A producer deployed before its consumers adds a field: the consumers read what they know, and nothing
    is dead-lettered."""
    event = decode(_envelope(data={"camera_id": "cam-1", "kind": "frozen", "active": True, "state": "frozen",
                                   "since": "2026-05-01T12:00:00Z", "confidence": 0.93}))
    assert event.data.camera_id == "cam-1" and not hasattr(event.data, "confidence")


@given(st.binary(max_size=300))
def test_arbitrary_bytes_either_decode_or_raise_decode_error(raw: bytes) -> None:
    try:
        decode(raw)
    except DecodeError:
        pass


def test_derived_ids_are_stable_and_distinct() -> None:
    assert derive_id("incident", "cctv", "cam-1", "frozen") == derive_id("incident", "cctv", "cam-1", "frozen")
    assert derive_id("incident", "cctv", "cam-1", "frozen") != derive_id("incident", "cctv", "cam-2", "frozen")


def test_dead_letter_carries_original_bytes() -> None:
    from command_center.events.types import DeadLetter

    letter = DeadLetter(topic="t", partition=0, offset=9, consumer="g", reason="bad", original=b"\xff\x00junk")
    event = new_event("id.go.cc.deadletter", source="/p", subject="t/0/9", time=NOW, data=letter)
    assert decode(encode(event)).data.original == b"\xff\x00junk"
    assert msgspec.json.decode(encode(event))["data"]["original"] == "/wBqdW5r"
