"""Citizens' photos: checked to be real images, re-encoded, stored, and served by an unguessable URL.

A photo must be a JPEG or PNG no larger than `max_photo_bytes` whose header declares a sane size (a small
file that claims to be 50,000 pixels square is refused before it is decoded); it must then decode. It is
re-encoded as JPEG no larger than `max_photo_side`, which drops every metadata block (EXIF, with the
phone's GPS position and serial number). Decoding, encoding and writing run in worker threads.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import tempfile
from pathlib import Path

import cv2
import numpy as np

from ingest.complaints.intake import Invalid
from ingest.jpeg import NotJpeg, jpeg_size

MAX_PIXELS = 50_000_000
_NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")
PNG = b"\x89PNG\r\n\x1a\n"


def declared_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's or PNG's header; Invalid when it is neither."""
    if data.startswith(PNG) and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    try:
        return jpeg_size(data)
    except NotJpeg as err:
        raise Invalid([("media", f"not a JPEG or PNG image ({err})")]) from err


def _reencode(data: bytes, max_side: int) -> bytes:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise Invalid([("media", "the image does not decode")])
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1:
        image = cv2.resize(image, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise Invalid([("media", "the image could not be re-encoded")])
    return bytes(encoded.tobytes())


class PhotoStore:
    """Photos under `directory`, served at `<public_url>/media/<name>`."""

    def __init__(self, directory: str, *, public_url: str, max_bytes: int, max_side: int) -> None:
        self.directory = Path(directory) if directory else Path(tempfile.gettempdir()) / "command-center-media"
        self.public_url = public_url.rstrip("/")
        self.max_bytes, self.max_side = max_bytes, max_side

    async def save(self, data: bytes) -> str:
        """Check, re-encode and store a photo; its URL, or Invalid naming what is wrong."""
        if len(data) > self.max_bytes:
            raise Invalid([("media", f"{len(data):,} bytes; at most {self.max_bytes:,}")], status=413)
        width, height = declared_size(data)
        if not width or not height or width * height > MAX_PIXELS:
            raise Invalid([("media", f"an image of {width}x{height} pixels is not accepted")])
        encoded = await asyncio.to_thread(_reencode, data, self.max_side)
        name = f"{secrets.token_hex(16)}.jpg"
        await asyncio.to_thread(self._write, name, encoded)
        return f"{self.public_url}/media/{name}"

    def _write(self, name: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.directory / f".{name}.part"
        partial.write_bytes(data)
        partial.replace(self.directory / name)  # never half a file under the served name

    def discard(self, url: str) -> None:
        """Remove a photo saved for a complaint that was then refused."""
        path = self.path(url.rsplit("/", 1)[-1])
        if path is not None:
            path.unlink(missing_ok=True)

    def path(self, name: str) -> Path | None:
        """The file of a photo name, or None for a name that is not one of ours."""
        if not _NAME.match(name):
            return None
        path = self.directory / name
        return path if path.is_file() else None
