"""Complaints for staff and agencies: SMS and social webhooks (signed, replays refused), tokens, phone entry,
respond/feedback/close with their rules, agency desks held to their own complaints, identities for admins
only, statistics."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from command_center.signing import sign
from tests.complaints.test_open311 import KEY, Api, _api, routed
from tests.helpers import bearer, eventually

SECRET = "test-webhook-secret"
SMS = {"message_id": "gw-1001", "from": "+6281234567", "text": "Sampah menumpuk di TPS, bau sekali #Jl. Damai 12 Depok"}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async for a in _api(tmp_path):
        yield a


def signed(body: dict[str, Any], *, secret: str = SECRET, at: int | None = None) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    return {"data": raw, "headers": {"Content-Type": "application/json", **sign(secret, raw, at)}}




async def test_an_sms_is_filed_once_and_found_by_its_token(api: Api) -> None:
    """A gateway's redelivery answers as the first delivery did; the same message id with other text is 422."""
    status, body = await api.json("POST", "/webhooks/sms", **signed(SMS))
    assert status == 202 and body["token"] in body["reply"]
    record = await routed(api, body["service_request_id"])
    assert (record["service_code"], record["address"], record["agency_responsible"]) == \
        ("sampah", "Jl. Damai 12 Depok", "Dinas Lingkungan Hidup")
    status, again = await api.json("POST", "/webhooks/sms", **signed(SMS))
    assert (status, again) == (202, body)
    status, other = await api.json("POST", "/webhooks/sms", **signed({**SMS, "text": "Lampu jalan mati #Jl. Damai"}))
    assert status == 422 and "message_id: was already used" in other["error"]["message"]
    status, listed = await api.json("GET", f"/open311/v2/requests.json?api_key={KEY}")
    assert [r["service_request_id"] for r in listed] == [body["service_request_id"]]
    status, found = await api.json("GET", f"/open311/v2/tokens/{body['token'].lower()}.json?api_key={KEY}")
    assert status == 200 and found == [{"service_request_id": body["service_request_id"], "token": body["token"]}]


# Each request is signed when the test runs (a signature made at collection would age past the 300 s tolerance
# in a long suite).
@pytest.mark.parametrize(("request_of", "status", "text"), [
    (lambda: signed(SMS, secret="not-the-secret"), 401, "does not match"),
    (lambda: signed(SMS, at=int(time.time()) - 3600), 401, "replay"),
    (lambda: {"json": SMS}, 401, "present a bearer token"),
    (lambda: signed({"message_id": "x", "from": "1"}), 422, "text: required"),
    (lambda: signed({**SMS, "to": "1500-xxx", "received": 1}), 422, "received: unknown field"),
    (lambda: signed({**SMS, "from": 81234567890}), 422, "from: 81234567890 is not a string"),
    (lambda: signed({**SMS, "message_id": "big", "text": "sampah " * 1000}), 422, "text: at most 4,000 characters"),
])
async def test_a_bad_webhook_is_a_clear_4xx(api: Api, request_of: Any, status: int, text: str) -> None:
    got, body = await api.json("POST", "/webhooks/sms", **request_of())
    assert got == status and text in body["error"]["message"]


async def test_a_form_posted_sms_with_an_ingest_token_and_a_social_post_with_coordinates(api: Api) -> None:
    status, sms = await api.json("POST", "/webhooks/sms", data={"message_id": "gw-2", "from": "0811",
                                                                "text": "Jalan berlubang besar"},
                                 headers=bearer("demo-ingest"))
    assert status == 202
    status, post = await api.json("POST", "/webhooks/social", **signed({
        "platform": "x", "post_id": "1789", "author": "@warga", "text": "Sampah di sungai", "lat": -7.766,
        "long": 110.401, "url": "https://x.com/warga/status/1789"}))
    assert status == 202
    record = await routed(api, post["service_request_id"])
    assert (record["lat"], record["media_url"]) == (-7.766, "https://x.com/warga/status/1789")
    _, view = await api.json("GET", f"/api/complaints/{post['service_request_id']}", headers=bearer("demo-operator"))
    assert view["area"] == "depok" and view["channel"] == "social" and "@warga" not in json.dumps(view)
    assert (await routed(api, sms["service_request_id"]))["service_code"] == "jalan-rusak"


async def test_an_operator_enters_a_phone_complaint_and_the_police_may_not(api: Api) -> None:
    body = {"service_code": "jalan-rusak", "description": "Penelepon: jalan amblas", "address": "Jl. Turi km 3",
            "caller_name": "Pak Harjo", "caller_phone": "0274-123"}
    status, filed = await api.json("POST", "/api/complaints", json=body, headers=bearer("demo-operator"))
    assert status == 201 and (await routed(api, filed["service_request_id"]))["agency_responsible"] == "Dinas PUPKP"
    status, _ = await api.json("POST", "/api/complaints", json=body, headers=bearer("demo-police"))
    assert status == 403
    status, contact = await api.json("GET", f"/api/complaints/{filed['service_request_id']}/contact",
                                     headers=bearer("demo-admin"))
    assert status == 200 and (contact["name"], contact["phone"], contact["channel"]) == ("Pak Harjo", "0274-123", "phone")
    status, _ = await api.json("GET", f"/api/complaints/{filed['service_request_id']}/contact",
                               headers=bearer("demo-operator"))
    assert status == 403


async def test_respond_feedback_close_flow_back_to_open311(api: Api) -> None:
    request_id = await api.file(service_code="jalan-rusak", lat="-7.7651", long="110.4001", description="Lubang")
    await routed(api, request_id)
    path = f"/api/complaints/{request_id}"
    status, _ = await api.json("POST", f"{path}/close", json={"status_notes": ""}, headers=bearer("demo-operator"))
    assert status == 422
    status, _ = await api.json("POST", f"{path}/respond", json={"status_notes": "x" * 4001},
                               headers=bearer("demo-operator"))
    assert status == 422
    status, _ = await api.json("POST", f"{path}/respond", json={"status_notes": "Petugas menuju lokasi"},
                               headers=bearer("demo-operator"))
    assert status == 202

    async def responded() -> bool:
        return (await api.json("GET", path, headers=bearer("demo-operator")))[1]["responded_at"] is not None
    await eventually(responded)
    status, body = await api.json("POST", f"{path}/respond", json={}, headers=bearer("demo-operator"))
    assert status == 409 and "already responded" in body["error"]["message"]
    await api.json("POST", f"{path}/close", json={"status_notes": "Sudah ditambal"}, headers=bearer("demo-oncall"))

    async def closed() -> bool:
        record = (await api.json("GET", f"/open311/v2/requests/{request_id}.json?api_key={KEY}"))[1][0]
        return record["status"] == "closed" and record["status_notes"] == "Sudah ditambal"
    await eventually(closed)
    status, view = await api.json("GET", path, headers=bearer("demo-operator"))
    assert [h["action"] for h in view["history"]] == ["received", "routed", "responded", "feedback", "closed"]
    assert view["feedback_at"] == view["closed_at"]  # closing gave the feedback that was owed
    status, _ = await api.json("POST", f"{path}/feedback", json={"status_notes": "lagi"}, headers=bearer("demo-operator"))
    assert status == 409
    status, _ = await api.json("POST", "/api/complaints/nope/respond", json={}, headers=bearer("demo-operator"))
    assert status == 404


async def test_an_agency_desk_sees_and_acts_on_its_own_complaints_only(api: Api) -> None:
    road = await api.file(service_code="jalan-rusak", lat="-7.7651", long="110.4001", description="Lubang")
    rubbish = await api.file(service_code="sampah", lat="-7.7001", long="110.4501", description="Sampah")
    await routed(api, road)
    await routed(api, rubbish)
    status, listed = await api.json("GET", "/api/complaints", headers=bearer("desk-dlh"))
    assert status == 200 and [c["id"] for c in listed["complaints"]] == [rubbish]
    assert (await api.json("GET", f"/api/complaints/{road}", headers=bearer("desk-dlh")))[0] == 403
    assert (await api.json("POST", f"/api/complaints/{road}/respond", json={}, headers=bearer("desk-dlh")))[0] == 403
    assert (await api.json("POST", f"/api/complaints/{rubbish}/respond", json={}, headers=bearer("desk-dlh")))[0] == 202


async def test_statistics_by_agency_and_category(api: Api) -> None:
    first = await api.file(service_code="sampah", lat="-7.7001", long="110.4501", description="Sampah")
    await api.file(service_code="sampah", lat="-7.7201", long="110.4501", description="Sampah lagi")
    await routed(api, first)
    await api.json("POST", f"/api/complaints/{first}/respond", json={}, headers=bearer("demo-operator"))

    async def counted() -> bool:
        body = (await api.json("GET", "/api/complaints/stats?by=month", headers=bearer("demo-operator")))[1]
        dlh = next((a for a in body["agencies"] if a["agency"] == "dlh"), None)
        return dlh is not None and dlh["total"]["responded"] == 1 and dlh["total"]["received"] == 2
    await eventually(counted)
    status, body = await api.json("GET", "/api/complaints/stats?by=month", headers=bearer("demo-operator"))
    dlh = next(a for a in body["agencies"] if a["agency"] == "dlh")
    assert dlh["name"] == "Dinas Lingkungan Hidup" and len(dlh["periods"]) == 1 and len(dlh["periods"][0]["period"]) == 7
    assert dlh["total"]["open"] == 2 and dlh["total"]["responded_within_sla_pct"] == 50.0
    assert dlh["total"]["median_response_minutes"] is not None and dlh["total"]["median_response_minutes"] < 1
    category = next(c for c in body["categories"] if c["service_code"] == "sampah")
    assert category["service_name"] == "Sampah" and category["total"]["received"] == 2
    for query in ("by=week", "from=2026-13-01"):
        assert (await api.json("GET", f"/api/complaints/stats?{query}", headers=bearer("demo-operator")))[0] == 400
    status, empty = await api.json("GET", "/api/complaints/stats?from=2026-02-01&to=2026-01-01",
                                   headers=bearer("demo-operator"))
    assert status == 200 and all(a["total"]["received"] == 0 for a in empty["agencies"])  # an empty window


async def test_staff_notes_with_control_characters_keep_open311_xml_well_formed(api: Api) -> None:
    import xml.etree.ElementTree as ET

    request_id = await api.file(service_code="sampah", address_string="TPS Jl. Damai", description="Menumpuk")
    await routed(api, request_id)
    notes = "Petugas\x0b menuju\x00 lokasi\x1b[0m <segera> & \x7f"
    status, _ = await api.json("POST", f"/api/complaints/{request_id}/respond", json={"status_notes": notes},
                               headers=bearer("demo-operator"))
    assert status == 202

    async def shown() -> bool:
        _, _, body = await api.call("GET", f"/open311/v2/requests.xml?api_key={KEY}")
        notes = ET.fromstring(body).findtext(f"request[service_request_id='{request_id}']/status_notes") or ""
        return "menuju" in notes
    await eventually(shown)
    for path in (f"/open311/v2/requests/{request_id}.xml", "/open311/v2/requests.xml"):
        _, _, body = await api.call("GET", f"{path}?api_key={KEY}")
        assert "Petugas menuju lokasi[0m <segera> &" in (ET.fromstring(body).findtext(".//status_notes") or "")

