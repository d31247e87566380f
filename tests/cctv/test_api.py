"""/api/cameras and snapshot.jpg: states for the wall and the police, the latest frame or one named frame, and
the police role held to cameras and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from command_center.api.app import build_app
from command_center.api.auth import demo_tokens
from command_center.bus import EmbeddedBus
from command_center.config import parse_config
from command_center.events import decode
from command_center.runtime.host import open_runtime
from command_center.runtime.http import HttpServer
from command_center.store import MEMORY_URL, Store
from command_center.store.frames import put_frame
from processors.cctv.events import CCTV_SNAPSHOTS, CameraReference
from processors.cctv.scenes import Scene, encode
from processors.cctv.view import CameraStatus, status_key
from processors.composition import API_ROUTES

CAMERAS = [{"id": "cam-001", "name": "Simpang Empat Monjali", "url": "http://10.0.0.1/snap.jpg", "area": "mlati",
            "location": {"lat": -7.75, "long": 110.368}},
           {"id": "cam-002", "name": "Pasar Sleman", "url": "http://10.0.0.2/snap.jpg"}]
FRAME = encode(Scene(5, 320, 180).render(0))
AT = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def bus() -> EmbeddedBus:
    return EmbeddedBus()


@pytest.fixture
async def api(bus: EmbeddedBus) -> AsyncIterator[str]:
    config = parse_config({"cameras": CAMERAS}, env={}).model_copy(update={"tokens": demo_tokens()})
    store = Store.open(MEMORY_URL)
    async with open_runtime(config, bus=bus, store=store) as rt:
        await put_frame(store, "cam-001", 1000, FRAME, ttl_s=60, latest_ttl_s=600)
        batch = store.batch()
        batch.put(status_key("cam-001"), CameraStatus(camera_id="cam-001", state="covered", since=AT,
                                                      anomalies=["covered"], last_frame_at=AT, people=2,
                                                      frame_key="frame:cam-001:1000", width=320))
        await batch.flush()
        async with HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", 0) as server:
            yield f"http://127.0.0.1:{server.port}"


async def _get(url: str, token: str | None = None) -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        return r.status, r.content_type, await r.read()


@pytest.mark.parametrize("token", ["demo-operator", "demo-oncall", "demo-police", "demo-admin"])
async def test_the_camera_list_has_the_contract_shape(api: str, token: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(f"{api}/api/cameras", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200
        body = await r.json()
    first, second = body["cameras"]
    assert first["id"] == "cam-001" and first["state"] == "covered" and first["since"] == AT.isoformat()
    assert first["location"] == {"lat": -7.75, "long": 110.368} and first["area"] == "mlati"
    assert first["anomalies"] == ["covered"] and first["people"] == 2
    assert second["state"] == "offline" and second["reason"] == "no frame received yet" and second["since"] is None


async def test_the_latest_frame_and_a_named_frame_are_served(api: str) -> None:
    assert await _get(f"{api}/api/cameras/cam-001/snapshot.jpg", "demo-police") == (200, "image/jpeg", FRAME)
    assert await _get(f"{api}/api/cameras/cam-001/snapshot.jpg?frame=1000", "demo-operator") == \
        (200, "image/jpeg", FRAME)


@pytest.mark.parametrize(("path", "status"), [
    ("/api/cameras/cam-009", 404), ("/api/cameras/cam-009/snapshot.jpg", 404),
    ("/api/cameras/cam-002/snapshot.jpg", 404), ("/api/cameras/cam-001/snapshot.jpg?frame=999", 404),
    ("/api/cameras/cam-001/snapshot.jpg?frame=abc", 400),
])
async def test_missing_cameras_and_frames_are_clear_errors(api: str, path: str, status: int) -> None:
    got, content_type, _ = await _get(f"{api}{path}", "demo-operator")
    assert (got, content_type) == (status, "application/json")


@pytest.mark.parametrize("path", ["/api/apps", "/api/sensors", "/api/incidents", "/open311/v2/requests.json"])
async def test_the_police_see_cameras_and_nothing_else(api: str, path: str) -> None:
    status, _, _ = await _get(f"{api}{path}", "demo-police")
    assert status == 403


async def test_a_snapshot_needs_a_token(api: str) -> None:
    status, _, _ = await _get(f"{api}/api/cameras/cam-001/snapshot.jpg")
    assert status == 401


async def _post(url: str, token: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as s, s.post(url, headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json()


async def test_an_operator_marks_the_latest_frame_as_the_good_view(api: str, bus: EmbeddedBus) -> None:
    status, body = await _post(f"{api}/api/cameras/cam-001/reference", "demo-operator")
    assert (status, body["camera"], body["frame"]) == (202, "cam-001", 1000)
    reader = bus.consumer("reader", [CCTV_SNAPSHOTS])
    await reader.start()
    events = [decode(r.value) for r in await reader.poll(max_records=100, wait=1.0)]
    await reader.stop()
    marked = [e for e in events if isinstance(e.data, CameraReference) and e.id == body["accepted"]]
    assert len(marked) == 1 and marked[0].key == b"cam-001"  # in order with the camera's own frames
    assert (marked[0].data.frame_key, marked[0].data.width, marked[0].data.by) == ("frame:cam-001:1000", 320, "demo-operator")


@pytest.mark.parametrize(("camera", "token", "status"), [
    ("cam-002", "demo-operator", 409),  # no frame kept to learn from
    ("cam-009", "demo-operator", 404), ("cam-001", "demo-police", 403), ("cam-001", "demo-oncall", 403)])
async def test_a_reference_needs_a_frame_and_an_operator(api: str, camera: str, token: str, status: int) -> None:
    got, body = await _post(f"{api}/api/cameras/{camera}/reference", token)
    assert got == status and "error" in body
