"""CCTV ingest against real local HTTP cameras: every way a camera misbehaves is a snapshot failure with its
reason, a hanging camera never stalls the others, digest and basic auth work, and an MJPEG stream read
through OpenCV passes its JPEGs on unchanged."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from command_center.bus import EmbeddedBus
from command_center.config import parse_config
from command_center.events import decode
from command_center.store import MEMORY_URL, Store
from command_center.testing.servers import RtspCamera, free_port, local_app
from ingest.cctv.service import CctvIngest
from ingest.cctv.snapshot import Failure, Frame, fetch_snapshot
from processors.cctv.config import CameraConfig
from processors.cctv.events import CCTV_SNAPSHOTS, CameraSnapshot, SnapshotFailed
from processors.cctv.scenes import Scene, encode
from tests.helpers import bearer, eventually

JPEG = encode(Scene(3, 320, 180).render(0))
USER, PASSWORD, REALM, NONCE = "viewer", "s3cret", "IP Camera", "5f3a9c1e"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - RFC 2617 digest auth is MD5


async def _digest(request: web.Request) -> web.StreamResponse:
    """RFC 7616 digest auth with qop=auth, as IP cameras answer."""
    header = request.headers.get("Authorization", "")
    fields = dict((k, v1 or v2) for k, v1, v2 in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', header))
    if header.startswith("Digest ") and fields.get("username") == USER:
        ha1 = _md5(f"{USER}:{REALM}:{PASSWORD}")
        ha2 = _md5(f"{request.method}:{fields['uri']}")
        expected = _md5(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}")
        if fields.get("response") == expected:
            return web.Response(body=JPEG, content_type="image/jpeg")
    return web.Response(status=401, headers={
        "WWW-Authenticate": f'Digest realm="{REALM}", qop="auth", nonce="{NONCE}", algorithm=MD5, opaque="x"'})


async def _basic(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Authorization") == aiohttp.encode_basic_auth(USER, PASSWORD):
        return web.Response(body=JPEG, content_type="image/jpeg")
    return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="cam"'})


async def _stream_forever(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
    await response.prepare(request)
    chunk = b"\x00" * 65536
    try:
        for _ in range(50 * 16):  # 50 MB, no Content-Length
            await response.write(chunk)
    except ConnectionError:
        pass
    return response


async def _announce_huge(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "image/jpeg", "Content-Length": str(50 * 1024 * 1024)})
    await response.prepare(request)
    await response.write(JPEG[:1000])
    await asyncio.sleep(30)
    return response


async def _hang_mid_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "image/jpeg", "Content-Length": str(len(JPEG))})
    await response.prepare(request)
    await response.write(JPEG[:500])
    await asyncio.sleep(60)
    return response


async def _hang_up_mid_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "image/jpeg", "Content-Length": str(len(JPEG))})
    await response.prepare(request)
    await response.write(JPEG[:500])
    assert request.transport is not None
    request.transport.close()
    return response


async def _loop(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/loop")


def _fixed(body: bytes, content_type: str, status: int = 200) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, headers={"Content-Type": content_type})
    return handler


@pytest.fixture
async def camera_server() -> AsyncIterator[str]:
    app = web.Application()
    for path, handler in {
        "/ok.jpg": _fixed(JPEG, "image/jpeg"),
        "/untyped.jpg": _fixed(JPEG, "application/octet-stream"),
        "/login": _fixed(b"<html><body><form>Login</form></body></html>", "text/html"),
        "/untyped-html": _fixed(b"<html>Login</html>", "application/octet-stream"),
        "/png": _fixed(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),
        "/truncated.jpg": _fixed(JPEG[: len(JPEG) // 2], "image/jpeg"),
        "/error": _fixed(b"internal error", "text/plain", 500),
        "/digest.jpg": _digest, "/basic.jpg": _basic, "/huge.jpg": _stream_forever, "/announced.jpg": _announce_huge,
        "/hang.jpg": _hang_mid_body, "/hangup.jpg": _hang_up_mid_body, "/loop": _loop,
    }.items():
        app.router.add_get(path, handler)
    async with local_app(app) as url:
        yield url


def camera(url: str, **options: Any) -> CameraConfig:
    return CameraConfig.model_validate({"id": options.pop("id", "cam-1"), "name": "Test", "url": url,
                                        "timeout": 2, **options})


async def poll(cam: CameraConfig) -> Frame | Failure:
    digest = aiohttp.DigestAuthMiddleware(cam.username, cam.password) if cam.auth == "digest" else None
    async with aiohttp.ClientSession() as session:
        return await fetch_snapshot(session, cam, digest)


async def test_a_jpeg_is_a_frame_with_its_size(camera_server: str) -> None:
    frame = await poll(camera(f"{camera_server}/ok.jpg"))
    assert isinstance(frame, Frame) and (frame.width, frame.height) == (320, 180) and frame.data == JPEG


async def test_an_untyped_body_is_sniffed(camera_server: str) -> None:
    assert isinstance(await poll(camera(f"{camera_server}/untyped.jpg")), Frame)


async def test_digest_and_basic_auth_get_the_frame(camera_server: str) -> None:
    for path, auth in (("digest.jpg", "digest"), ("basic.jpg", "basic")):
        frame = await poll(camera(f"{camera_server}/{path}", auth=auth, username=USER, password=PASSWORD))
        assert isinstance(frame, Frame), (auth, frame)


async def test_wrong_credentials_are_an_http_status_naming_them(camera_server: str) -> None:
    failure = await poll(camera(f"{camera_server}/digest.jpg", auth="digest", username=USER, password="wrong"))
    assert isinstance(failure, Failure) and failure.reason == "http_status" and failure.http_status == 401
    assert "credentials" in failure.detail


@pytest.mark.parametrize(("path", "reason", "detail"), [
    ("/login", "not_an_image", "content type text/html"),
    ("/png", "not_an_image", "content type image/png"),
    ("/untyped-html", "not_an_image", "not a JPEG"),
    ("/truncated.jpg", "not_an_image", "truncated JPEG"),
    ("/error", "http_status", "HTTP 500"),
    ("/huge.jpg", "too_large", "stopped reading"),
    ("/announced.jpg", "too_large", "announced"),
    ("/hang.jpg", "timeout", "within 2s"),
    ("/hangup.jpg", "stream_error", "hung up"),
    ("/loop", "redirect", "redirects"),
])
async def test_a_misbehaving_camera_is_a_failure_with_its_reason(camera_server: str, path: str, reason: str,
                                                                 detail: str) -> None:
    started = time.monotonic()
    failure = await poll(camera(f"{camera_server}{path}", max_bytes=4 * 1024 * 1024))
    assert isinstance(failure, Failure), failure
    assert failure.reason == reason and detail in failure.detail, failure
    assert time.monotonic() - started < 2.5  # never longer than the camera's timeout


async def test_nothing_listening_is_refused() -> None:
    failure = await poll(camera(f"http://127.0.0.1:{free_port()}/snapshot.jpg"))
    assert isinstance(failure, Failure) and failure.reason == "refused"


async def test_hanging_cameras_do_not_stall_the_others(camera_server: str) -> None:
    """Eight cameras hang until their timeout on every poll; the four healthy ones keep their interval."""
    cameras = [{"id": f"ok-{i}", "name": "ok", "url": f"{camera_server}/ok.jpg", "interval": 0.5} for i in range(4)]
    cameras += [{"id": f"hang-{i}", "name": "hang", "url": f"{camera_server}/hang.jpg", "interval": 0.5,
                 "timeout": 3} for i in range(8)]
    config = parse_config({"cameras": cameras, "ingest": {"concurrency": 16}}, env={})
    bus, store = EmbeddedBus(), Store.open(MEMORY_URL)
    await bus.start()
    consumer = bus.consumer("reader", [CCTV_SNAPSHOTS])
    await consumer.start()
    async with CctvIngest(config, bus, store):
        await asyncio.sleep(4.2)
    events = [decode(r.value) for r in await consumer.poll(max_records=1000, wait=0.5)]
    frames = Counter(e.subject for e in events if isinstance(e.data, CameraSnapshot))
    failures = Counter(e.data.reason for e in events if isinstance(e.data, SnapshotFailed))
    assert all(frames[f"ok-{i}"] >= 7 for i in range(4)), frames  # one every 0.5 s for 4 s
    assert failures["timeout"] >= 8
    snap = next(e.data for e in events if isinstance(e.data, CameraSnapshot))
    assert await store.get_bytes(snap.frame_key) == JPEG  # the claim check holds the bytes
    assert snap.sha256 == hashlib.sha256(JPEG).hexdigest() and (snap.width, snap.height) == (320, 180)


# --- MJPEG through OpenCV -------------------------------------------------------------------------------

class MjpegCamera:
    """multipart/x-mixed-replace, as IP cameras stream it; drops the connection after `frames_per_session`."""

    def __init__(self, frames: list[bytes], frames_per_session: int = 40) -> None:
        self.frames, self.frames_per_session = frames, frames_per_session
        self.sessions = 0
        self.sent: set[str] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.sessions += 1
        response = web.StreamResponse(headers={"Content-Type": "multipart/x-mixed-replace; boundary=myboundary"})
        await response.prepare(request)
        for i in range(self.frames_per_session):
            data = self.frames[i % len(self.frames)]
            self.sent.add(hashlib.sha256(data).hexdigest())
            try:
                await response.write(b"--myboundary\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                     % len(data) + data + b"\r\n")
            except ConnectionError:
                break
            await asyncio.sleep(0.05)
        return response


async def test_an_mjpeg_stream_passes_its_jpegs_through_and_reconnects() -> None:
    scene = Scene(9, 640, 360)
    stream = MjpegCamera([encode(scene.render(t)) for t in range(10)])
    app = web.Application()
    app.router.add_get("/video.mjpg", stream.handle)
    async with local_app(app) as url:
        await _stream_through_ingest(stream, url)


async def _stream_through_ingest(stream: MjpegCamera, url: str) -> None:
    config = parse_config({"cameras": [
        {"id": "mjpeg", "name": "stream", "url": f"{url}/video.mjpg", "kind": "mjpeg",
         "interval": 0.2, "timeout": 3},
        {"id": "gone", "name": "no stream", "url": f"http://127.0.0.1:{free_port()}/video.mjpg", "kind": "mjpeg",
         "interval": 0.2, "timeout": 2}]}, env={})
    bus, store = EmbeddedBus(), Store.open(MEMORY_URL)
    await bus.start()
    consumer = bus.consumer("reader", [CCTV_SNAPSHOTS])
    await consumer.start()
    events: list = []  # type: ignore[type-arg]

    async def enough() -> bool:
        events.extend(decode(r.value) for r in await consumer.poll(max_records=1000, wait=0.1))
        return stream.sessions >= 2 and sum(isinstance(e.data, CameraSnapshot) for e in events) >= 12 and \
            any(isinstance(e.data, SnapshotFailed) for e in events)

    async with CctvIngest(config, bus, store):
        await eventually(enough, within=30)
    snaps = [e.data for e in events if isinstance(e.data, CameraSnapshot)]
    assert {s.camera_id for s in snaps} == {"mjpeg"}
    assert {s.sha256 for s in snaps} <= stream.sent  # the camera's own JPEGs, not re-encoded
    assert all((s.width, s.height) == (640, 360) for s in snaps)
    failures = [e.data for e in events if isinstance(e.data, SnapshotFailed)]
    assert {(f.camera_id, f.reason) for f in failures} == {("gone", "stream_error")}


async def test_an_rtsp_camera_is_read_and_read_again_after_it_drops(rtsp_camera: RtspCamera) -> None:
    """A real RTSP server with an H.264 stream: frames arrive re-encoded as JPEG at the stream's size; the server
    is killed (a failure is reported, once) and comes back on the same port (frames arrive again)."""
    config = parse_config({"cameras": [{"id": "rtsp", "name": "stream", "url": rtsp_camera.url, "kind": "rtsp",
                                        "interval": 0.2, "timeout": 3}]}, env={})
    bus, store = EmbeddedBus(), Store.open(MEMORY_URL)
    await bus.start()
    consumer = bus.consumer("reader", [CCTV_SNAPSHOTS])
    await consumer.start()
    events: list[Any] = []

    def frames() -> list[CameraSnapshot]:
        return [e.data for e in events if isinstance(e.data, CameraSnapshot)]

    def failures() -> list[SnapshotFailed]:
        return [e.data for e in events if isinstance(e.data, SnapshotFailed)]

    async def read(until: Any) -> bool:
        events.extend(decode(r.value) for r in await consumer.poll(max_records=1000, wait=0.1))
        return bool(until())

    async with CctvIngest(config, bus, store):
        await eventually(lambda: read(lambda: len(frames()) >= 5), within=30)
        rtsp_camera.kill()
        await eventually(lambda: read(lambda: failures()), within=30)
        before = len(frames())
        await asyncio.to_thread(rtsp_camera.start)
        await eventually(lambda: read(lambda: len(frames()) >= before + 5), within=60)
    snaps = frames()
    assert all((s.width, s.height, s.content_type) == (640, 360, "image/jpeg") for s in snaps)
    latest = await store.get_bytes(snaps[-1].frame_key)
    assert latest is not None and latest[:2] == b"\xff\xd8"  # a JPEG of the stream's newest frame
    assert [(f.camera_id, f.reason) for f in failures()] == [("rtsp", "stream_error")]  # reported once per outage
    first = snaps[:before]  # a moving picture: no frame handed on twice (a restarted server replays the same ball)
    assert len({s.sha256 for s in first}) == len(first)


async def test_a_live_view_shares_one_camera_connection_between_viewers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Three viewers of an MJPEG camera's live view: each gets the camera's own JPEGs, over one connection."""
    from command_center.api.app import build_app
    from command_center.api.auth import demo_tokens
    from command_center.runtime.host import open_runtime
    from command_center.runtime.http import HttpServer
    from processors.cctv import routes as camera_routes

    scene = Scene(5, 320, 180)
    stream = MjpegCamera([encode(scene.render(t)) for t in range(10)], frames_per_session=10_000)
    app = web.Application()
    app.router.add_get("/video.mjpg", stream.handle)
    async with local_app(app) as url:
        config = parse_config({"cameras": [{"id": "jombor", "name": "Simpang Jombor", "url": f"{url}/video.mjpg",
                                            "kind": "mjpeg", "interval": 1, "timeout": 3}]},
                              env={}).model_copy(update={"tokens": demo_tokens()})
        async with open_runtime(config, bus=EmbeddedBus(), store=Store.open(MEMORY_URL)) as rt, \
                HttpServer(build_app(rt, (camera_routes.routes,)), "127.0.0.1", 0) as server:
            live = f"http://127.0.0.1:{server.port}/api/cameras/jombor/live.mjpg"

            async def view() -> list[bytes]:
                async with aiohttp.ClientSession() as s, s.get(live, headers=bearer("demo-operator")) as r:
                    assert r.status == 200 and r.content_type == "multipart/x-mixed-replace"
                    reader = aiohttp.MultipartReader.from_response(r)
                    frames = []
                    while len(frames) < 4:
                        part = await reader.next()
                        assert part is not None and part.headers["Content-Type"] == "image/jpeg"
                        frames.append(await part.read())  # type: ignore[union-attr]
                    return frames

            seen = await asyncio.gather(view(), view(), view())
            assert stream.sessions == 1, f"{stream.sessions} connections to the camera for three viewers"
            assert all(hashlib.sha256(f).hexdigest() in stream.sent for frames in seen for f in frames)
            async with aiohttp.ClientSession() as s, s.get(live.replace("jombor", "nowhere"), headers=bearer("demo-operator")) as r:
                assert r.status == 404
