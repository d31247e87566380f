"""Complaint intake checks, areas and routing, and surges, as pure functions."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from command_center.config import parse_config
from command_center.events.types import Location
from command_center.testing.estates import complaint_estate
from ingest.complaints.channels import classify, sms_submission
from ingest.complaints.intake import Invalid, Submission, check, fingerprint
from processors.complaints.events import ComplaintContact, ComplaintReceived
from processors.complaints.route import area_of, route
from processors.complaints.surge import SurgeMemory, counted, hour_ended, poisson_tail

CONFIG = parse_config(complaint_estate(), env={})
AT = datetime(2026, 6, 1, 2, 30, tzinfo=UTC)


def submit(**fields: object) -> Submission:
    base: dict[str, object] = {"channel": "open311", "service_code": "jalan-rusak", "description": "Jalan berlubang",
                               "lat": "-7.765", "long": "110.4"}
    return Submission(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "status", "problem"), [
    ({"service_code": ""}, 400, "service_code: is required"),
    ({"service_code": "pothole"}, 404, "not a service here"),
    ({"lat": "-97.1"}, 400, "lat: -97.1 is outside -90..90"),
    ({"long": "181"}, 400, "long: 181.0 is outside -180..180"),
    ({"long": ""}, 400, "lat and long must be sent together"),
    ({"lat": "x", "long": "y"}, 400, "decimal degrees"),
    ({"lat": "", "long": ""}, 400, "a location is required"),
    ({"description": "x" * 4001}, 400, "at most 4,000"),
    ({"description": "", "media_urls": []}, 400, "a description or a photo is required"),
    ({"media_urls": ["javascript:alert(1)"]}, 400, "media_url: must be an http(s) URL"),
    ({"service_code": "layanan-ktp"}, 400, "attribute[jenis]: is required"),
    ({"service_code": "layanan-ktp", "attributes": {"jenis": ["paspor"]}}, 400, "must be one of kk, ktp"),
    ({"service_code": "layanan-ktp", "attributes": {"jenis": ["ktp"], "antrean": ["sebelas"]}}, 400,
     "must be a number"),
    ({"attributes": {"warna": ["merah"]}}, 400, "not an attribute of this service"),
])
def test_a_bad_submission_names_the_field_and_the_reason(fields: dict, status: int, problem: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(Invalid) as caught:
        check(CONFIG, submit(**fields), AT)
    assert caught.value.status == status and problem in str(caught.value)


def test_the_identity_goes_to_its_own_event_and_html_stays_text() -> None:
    received, contact = check(CONFIG, submit(description="<b>Lubang</b>\x00 besar\n di <script>x</script>",
                                             name="Budi Santoso", phone="0812", email="budi@example.id"),
                              AT).events()
    data = received.data
    assert isinstance(data, ComplaintReceived) and data.description == "<b>Lubang</b> besar\n di <script>x</script>"
    assert "Budi" not in str(data) and "0812" not in str(data)
    assert contact is not None and isinstance(contact.data, ComplaintContact)
    assert (contact.data.name, contact.data.phone, contact.data.contact_ref) == ("Budi Santoso", "0812", data.contact_ref)
    assert contact.subject == data.contact_ref and received.subject == data.complaint_id


def test_the_same_sms_makes_the_same_complaint() -> None:
    body = {"message_id": "gw-77", "from": "+62812", "text": "Sampah menumpuk di TPS #Jl. Damai 12"}
    first, _ = check(CONFIG, sms_submission(CONFIG, body), AT).events()
    again, _ = check(CONFIG, sms_submission(CONFIG, body), AT + timedelta(minutes=5)).events()
    assert first.subject == again.subject and first.id == again.id
    other, _ = check(CONFIG, sms_submission(CONFIG, {**body, "text": "Lampu jalan mati"}), AT).events()
    assert other.subject == first.subject and other.id != first.id  # the same id, another receipt: refused later
    assert (first.data.service_code, first.data.address, first.data.description) == \
        ("sampah", "Jl. Damai 12", "Sampah menumpuk di TPS")


@pytest.mark.parametrize(("text", "service"), [("Jalan berlubang dekat pasar", "jalan-rusak"),
                                               ("KTP saya belum jadi", "layanan-ktp"),
                                               ("Tolong, ada masalah", "lainnya")])
def test_messages_are_placed_by_keywords_else_the_default(text: str, service: str) -> None:
    assert classify(CONFIG, text) == service


@pytest.mark.parametrize(("location", "address", "area"), [
    (Location(lat=-7.766, long=110.401), "", "depok"),  # near the centre
    (Location(lat=-7.73, long=110.35), "", "mlati"),  # inside the polygon
    (Location(lat=-7.9, long=110.6), "", ""),  # nowhere near
    (None, "Jl. Kaliurang km 7, Depok, Sleman", "depok"),  # named in the address
])
def test_a_complaint_finds_its_district(location: Location | None, address: str, area: str) -> None:
    assert area_of(CONFIG, location, address) == area


def test_routing_takes_the_first_fitting_rule_else_the_default_agency() -> None:
    assert route(CONFIG, "sampah", "bau", "depok") == ("dlh", "routing.1")
    assert route(CONFIG, "lainnya", "apa saja", "depok") == ("diskominfo", "default")


def _hour_of_day_rate(hour: int) -> float:
    """A regency's ordinary rhythm: quiet at night, a morning peak of 3 an hour."""
    local = (hour + 7) % 24
    return 0.1 + 2.9 * max(0.0, math.sin(math.pi * (local - 6) / 14)) if 6 <= local <= 20 else 0.1


def _poisson(rng: random.Random, mean: float) -> int:
    k, p, limit = 0, 1.0, math.exp(-mean)
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


def test_ordinary_daily_variation_is_not_a_surge_and_a_burst_is() -> None:
    config = CONFIG.complaints
    rng = random.Random(5)
    memory = SurgeMemory(service_code="banjir", area="depok")
    start = 490_000  # an hour number
    raised = []
    for hour in range(start, start + 14 * 24):
        for _ in range(_poisson(rng, _hour_of_day_rate(hour))):
            memory, change = counted(memory, hour, config)
            if change:
                raised.append(hour)
        memory, cleared = hour_ended(memory, hour + 1, config)
    assert raised == []
    burst_hour = start + 14 * 24 + 3  # 10:00 in Jakarta, near the usual peak
    changes = []
    for _ in range(12):
        memory, change = counted(memory, burst_hour, config)
        changes.append(change)
    raised_at = [i for i, c in enumerate(changes) if c]
    assert len(raised_at) == 1 and changes[raised_at[0]].active  # type: ignore[union-attr]
    assert 5 <= raised_at[0] + 1 <= 12  # raised once, as the count passed the usual peak several times over
    memory, cleared = hour_ended(memory, burst_hour + 1, config)
    assert cleared is not None and not cleared.active and not memory.active


def test_poisson_tail() -> None:
    assert poisson_tail(0, 2.0) == pytest.approx(1.0)
    assert poisson_tail(1, 2.0) == pytest.approx(1 - math.exp(-2))
    assert poisson_tail(10, 1.0) < 1e-6


def test_complaint_ids_are_uuid7_unless_named_and_never_repeat() -> None:
    ids = [check(CONFIG, submit(), AT).complaint_id for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert {uuid.UUID(i).version for i in ids} == {7} and ids == sorted(ids)  # time-ordered
    named = [check(CONFIG, submit(), AT, name="open311:kota|key-1").complaint_id for _ in range(2)]
    assert named[0] == named[1] and uuid.UUID(named[0]).version == 5
    assert check(CONFIG, submit(), AT, name="open311:kota|key-2").complaint_id != named[0]


def test_the_fingerprint_covers_what_was_sent_but_not_where_photos_were_stored() -> None:
    base = submit(photo_urls=["http://x/media/a.jpg"], photo_digests=["d1"])
    assert fingerprint(base) == fingerprint(submit(photo_urls=["http://x/media/b.jpg"], photo_digests=["d1"]))
    assert fingerprint(base) != fingerprint(submit(photo_urls=["http://x/media/a.jpg"], photo_digests=["d2"]))
    assert fingerprint(base) != fingerprint(submit(photo_urls=["http://x/media/a.jpg"], photo_digests=["d1"],
                                                   phone="0812"))
