"""The ingest's JPEG check: complete JPEGs pass with their size, everything else fails with the reason."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ingest.jpeg import NotJpeg, jpeg_size
from processors.cctv.scenes import Scene, encode

FRAME = encode(Scene(7, 320, 180).render(0))


def test_a_complete_jpeg_reports_its_size_without_decoding() -> None:
    assert jpeg_size(FRAME) == (320, 180)


def test_a_progressive_jpeg_reports_its_size() -> None:
    image = Scene(7, 320, 180).render(0)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok and jpeg_size(data.tobytes()) == (320, 180)


def test_trailing_padding_after_the_end_marker_is_accepted() -> None:
    assert jpeg_size(FRAME + b"\x00\x00\r\n") == (320, 180)


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "not a JPEG"),
    (b"<html><body>Login</body></html>", "not a JPEG"),
    (cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes(), "not a JPEG"),
    (FRAME[: len(FRAME) // 2], "truncated JPEG"),
    (b"\xff\xd8" + b"\x00" * 100 + b"\xff\xd9", "corrupt JPEG"),
    (b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 10 + b"\xff\xd9", "image data before the frame header"),
])
def test_what_is_not_a_complete_jpeg_is_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(NotJpeg, match=reason):
        jpeg_size(data)
