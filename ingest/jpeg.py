"""Is this a whole JPEG, and how large is it? Read from its markers, without decoding the image.

The ingest checks every body before it stores it: a login page, a truncated transfer or an error image in
another format is refused here with the reason, so the processors only ever see complete JPEGs.
"""

from __future__ import annotations

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
# Start-of-frame markers carry the dimensions: SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn have no length


class NotJpeg(ValueError):
    """The bytes are not a complete JPEG; the message says why."""


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a complete baseline or progressive JPEG; NotJpeg naming what is wrong otherwise."""
    if len(data) < 4 or not data.startswith(SOI):
        raise NotJpeg(f"not a JPEG: starts with {data[:8].hex() or 'nothing'}")
    if not data.rstrip(b"\x00\r\n ").endswith(EOI):
        raise NotJpeg("truncated JPEG: no end-of-image marker")
    i = 2
    end = len(data)
    while i + 4 <= end:
        if data[i] != 0xFF:
            raise NotJpeg(f"corrupt JPEG: expected a marker at byte {i}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if length < 2:
            raise NotJpeg(f"corrupt JPEG: segment length {length} at byte {i}")
        if marker in _SOF:
            if i + 9 > end:
                break
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            if not width or not height:
                raise NotJpeg(f"corrupt JPEG: frame of {width}x{height}")
            return width, height
        if marker == 0xDA:
            raise NotJpeg("corrupt JPEG: image data before the frame header")
        i += 2 + length
    raise NotJpeg("corrupt JPEG: no frame header")
