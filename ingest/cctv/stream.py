"""MJPEG-over-HTTP and RTSP cameras, read with OpenCV's VideoCapture (FFmpeg) in one thread per camera.

The reader keeps the stream drained (so the frame it hands on is current, not a buffered one from seconds
ago) and hands one frame per interval to the event loop. An MJPEG stream is read in raw mode: each packet
is already a JPEG, passed on without decoding or re-encoding. Other codecs (H.264, H.265) are decoded and
the frame re-encoded as JPEG. A stream that cannot be opened or stops delivering is reopened with
exponential backoff, and each failure is reported once with its reason.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from urllib.parse import quote, urlsplit, urlunsplit

import cv2
import numpy as np

from command_center.clock import utcnow
from ingest.cctv.snapshot import Failure, Frame, check_frame
from processors.cctv.config import CameraConfig

logger = logging.getLogger(__name__)

# RTSP over TCP: cameras behind VPNs and NAT rarely pass RTP over UDP, and TCP does not drop frames.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
MJPEG_FOURCC = int.from_bytes(b"MJPG", "little")
BACKOFF_FIRST_S, BACKOFF_MOST_S = 1.0, 60.0

Deliver = Callable[[CameraConfig, Frame | Failure], None]


def stream_url(camera: CameraConfig) -> str:
    """The camera's URL with its credentials in it (the form FFmpeg takes), unless it already has some."""
    if not camera.username:
        return camera.url
    parts = urlsplit(camera.url)
    if parts.username:
        return camera.url
    netloc = f"{quote(camera.username, safe='')}:{quote(camera.password, safe='')}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


class StreamReader:
    """Reads one stream camera in a daemon thread until stop(); `deliver` is called from that thread."""

    def __init__(self, camera: CameraConfig, deliver: Deliver, *, jpeg_quality: int = 85) -> None:
        self.camera = camera
        self.deliver = deliver
        self.jpeg_quality = jpeg_quality
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream:{camera.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> bool:
        """Wait for the thread; False when it is still blocked in a read (it stops after its read timeout)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        delay = BACKOFF_FIRST_S
        while not self._stop.is_set():
            failure = self._session()
            if self._stop.is_set():
                return
            if failure is not None:
                self.deliver(self.camera, failure)
                logger.info("stream failed; reopening", extra={"camera": self.camera.id, "reason": failure.detail,
                                                               "in_s": delay})
            self._stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MOST_S)
            if failure is None:
                delay = BACKOFF_FIRST_S

    def _open(self) -> cv2.VideoCapture:
        timeout_ms = int(self.camera.timeout * 1000)
        return cv2.VideoCapture(stream_url(self.camera), cv2.CAP_FFMPEG,
                                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms])

    def _session(self) -> Failure | None:
        """Read until the stream fails or stop(); the failure, or None when it ended after delivering frames."""
        capture = self._open()
        try:
            if not capture.isOpened():
                return Failure("stream_error", f"cannot open the {self.camera.kind} stream")
            raw = int(capture.get(cv2.CAP_PROP_FOURCC)) == MJPEG_FOURCC and capture.set(cv2.CAP_PROP_FORMAT, -1)
            logger.info("stream open", extra={"camera": self.camera.id, "passthrough": bool(raw)})
            delivered = False
            next_at = time.monotonic()
            while not self._stop.is_set():
                if not capture.grab():
                    return None if delivered else Failure("stream_error", "the stream delivered no frame")
                if time.monotonic() < next_at:
                    continue
                ok, image = capture.retrieve()
                if not ok or image is None:
                    return Failure("stream_error", "a frame could not be read from the stream")
                result = self._frame(image, raw)
                self.deliver(self.camera, result)
                delivered = delivered or isinstance(result, Frame)
                next_at = time.monotonic() + self.camera.interval
            return None
        finally:
            capture.release()

    def _frame(self, image: np.ndarray, raw: bool) -> Frame | Failure:
        captured_at = utcnow()
        if raw:
            data = image.tobytes()
        else:
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            if not ok:
                return Failure("stream_error", "a decoded frame could not be encoded as JPEG")
            data = encoded.tobytes()
        if len(data) > self.camera.max_bytes:
            return Failure("too_large", f"a {len(data)}-byte frame, limit {self.camera.max_bytes}")
        return check_frame(data, captured_at)
