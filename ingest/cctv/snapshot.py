"""One poll of an HTTP(S) snapshot camera: a complete JPEG, or a failure with its reason. Never an exception.

Every way a camera can misbehave ends here as a Failure: it does not answer (timeout, refused,
unreachable), answers with an error status or a redirect loop, sends a login page or another format
(not_an_image), a body past the camera's `max_bytes` (too_large, stopped reading at the limit), or hangs or
hangs up mid-body (timeout, stream_error).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from command_center.clock import utcnow
from ingest.jpeg import NotJpeg, jpeg_size
from processors.cctv.config import CameraConfig
from processors.cctv.events import SnapshotFailure

JPEG_TYPES = frozenset({"image/jpeg", "image/jpg", "image/pjpeg"})
UNTYPED = frozenset({"", "application/octet-stream", "binary/octet-stream"})  # sniffed instead
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Frame:
    """A complete JPEG from a camera."""

    data: bytes
    width: int
    height: int
    captured_at: datetime
    latency_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Failure:
    """A poll that produced no usable frame."""

    reason: SnapshotFailure
    detail: str
    http_status: int | None = None


def check_frame(data: bytes, captured_at: datetime, latency_ms: float = 0.0) -> Frame | Failure:
    """A Frame when `data` is a complete JPEG, otherwise not_an_image with the reason."""
    try:
        width, height = jpeg_size(data)
    except NotJpeg as err:
        return Failure("not_an_image", str(err))
    return Frame(data, width, height, captured_at, latency_ms)


def basic_auth(camera: CameraConfig) -> dict[str, str]:
    """The Authorization header of a camera with basic auth (digest is a per-camera middleware instead)."""
    if camera.auth == "basic":
        return {"Authorization": aiohttp.encode_basic_auth(camera.username, camera.password)}
    return {}


async def fetch_snapshot(session: aiohttp.ClientSession, camera: CameraConfig,
                         digest: aiohttp.DigestAuthMiddleware | None = None) -> Frame | Failure:
    """Poll the camera once within its timeout."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(camera.timeout):
            return await _get(session, camera, digest, started)
    except TimeoutError:
        return Failure("timeout", f"no complete answer within {camera.timeout:g}s")
    except aiohttp.TooManyRedirects as err:
        return Failure("redirect", f"more than {MAX_REDIRECTS} redirects (a loop?): {err.request_info.real_url}")
    except aiohttp.ClientConnectorError as err:
        if isinstance(err.os_error, ConnectionRefusedError):
            return Failure("refused", f"connection refused by {err.host}:{err.port}")
        return Failure("unreachable", f"{err.host}:{err.port}: {err.os_error}")
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as err:
        return Failure("stream_error", f"the camera hung up mid-answer: {err}")
    except aiohttp.InvalidURL as err:
        return Failure("unreachable", f"invalid URL: {err}")
    except (aiohttp.ClientError, OSError) as err:
        return Failure("unreachable", f"{type(err).__name__}: {err}")


async def _get(session: aiohttp.ClientSession, camera: CameraConfig, digest: aiohttp.DigestAuthMiddleware | None,
               started: float) -> Frame | Failure:
    middlewares = (digest,) if camera.auth == "digest" and digest is not None else None
    async with session.get(camera.url, max_redirects=MAX_REDIRECTS, headers=basic_auth(camera),
                           middlewares=middlewares) as response:
        if response.status != 200:
            hint = ": check the camera's credentials" if response.status in (401, 403) else ""
            return Failure("http_status", f"HTTP {response.status} {response.reason or ''}{hint}".strip(),
                           http_status=response.status)
        content_type = response.content_type.lower() if "Content-Type" in response.headers else ""
        if content_type not in JPEG_TYPES and content_type not in UNTYPED:
            return Failure("not_an_image", f"content type {content_type}, not image/jpeg", http_status=200)
        if response.content_length is not None and response.content_length > camera.max_bytes:
            return Failure("too_large", f"{response.content_length} bytes announced, limit {camera.max_bytes}")
        captured_at = utcnow()
        body = bytearray()
        while chunk := await response.content.read(CHUNK):
            body += chunk
            if len(body) > camera.max_bytes:
                return Failure("too_large", f"more than {camera.max_bytes} bytes; stopped reading")
    return check_frame(bytes(body), captured_at, (time.perf_counter() - started) * 1000)
