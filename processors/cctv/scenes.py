"""Rendered street scenes for simulated cameras: the demo's cameras, the CCTV tests and the detection benchmark.

A scene is a street seen from a pole: sky, buildings with windows, trees, a road with lane marks, cars and
pedestrians that move, sensor noise, and daylight that fades to a night lit by street lamps. Each camera
fault is rendered as it looks from the camera: black (video lost), blurred (defocus), covered (a hand or a
bag over the lens), moved (the camera turned), frozen (the same JPEG again and again).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

FAULTS = ("frozen", "black", "blurred", "covered", "moved")
MARGIN = 0.25  # the world is this much larger than the view on each side, so the camera can turn


def daylight(t: float, period: float) -> float:
    """Light level from 1 (noon) to 0.25 (night) over a day of `period` seconds, starting at noon."""
    return 0.625 + 0.375 * math.cos(2 * math.pi * t / period)


def encode(image: np.ndarray, quality: int = 80) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the frame could not be encoded")
    return bytes(data.tobytes())


def draw_person(img: np.ndarray, x: float, feet_y: float, height: float, shade: tuple[int, ...]) -> None:
    """A pedestrian silhouette `height` pixels tall standing at (x, feet_y)."""
    u = height / 8
    w = max(2, int(0.5 * u))
    cv2.circle(img, (int(x), int(feet_y - 7.3 * u)), max(2, int(0.55 * u)), shade, -1)
    cv2.ellipse(img, (int(x), int(feet_y - 5.2 * u)), (max(2, int(u)), max(3, int(1.7 * u))), 0, 0, 360, shade, -1)
    for side in (-1, 1):
        cv2.line(img, (int(x + side * 0.35 * u), int(feet_y - 3.6 * u)), (int(x + side * 0.6 * u), int(feet_y)),
                 shade, w)
        cv2.line(img, (int(x + side * 0.9 * u), int(feet_y - 6.2 * u)),
                 (int(x + side * 1.2 * u), int(feet_y - 3.6 * u)), shade, max(2, int(0.35 * u)))


@dataclass
class Scene:
    """One camera's view; render(t) is deterministic for a seed, apart from the sensor noise."""

    seed: int
    width: int = 640
    height: int = 360
    cars: int = 3
    people: int = 2
    noise: float = 2.0
    _world: np.ndarray = field(init=False, repr=False)
    _lamps: np.ndarray = field(init=False, repr=False)
    _rng: np.random.Generator = field(init=False, repr=False)
    _lit_cache: tuple[float, np.ndarray] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self._rng = np.random.default_rng(self.seed + 1)
        self.world_w = int(self.width * (1 + 2 * MARGIN))
        self.world_h = int(self.height * (1 + 2 * MARGIN))
        self.road = (int(self.world_h * 0.62), int(self.world_h * 0.86))
        self._world, self._lamps = self._paint(rng)
        self._cars = [(rng.uniform(0, 1), rng.uniform(0.05, 0.15) * rng.choice([-1, 1]), int(rng.integers(0, 2)),
                       tuple(int(v) for v in rng.integers(30, 230, 3))) for _ in range(self.cars)]
        self._walkers = [(rng.uniform(0, 1), rng.uniform(0.01, 0.03) * rng.choice([-1, 1]),
                          tuple(int(v) for v in rng.integers(10, 70, 3))) for _ in range(self.people)]

    # --- the static world ---------------------------------------------------------------------------

    def _paint(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        w, h = self.world_w, self.world_h
        top, bottom = self.road
        img = np.zeros((h, w, 3), np.float32)
        horizon = int(h * 0.45)
        sky = np.linspace(0, 1, horizon, dtype=np.float32)[:, None, None]
        img[:horizon] = (1 - sky) * np.array([235, 190, 150], np.float32) + sky * np.array([250, 225, 205], np.float32)
        img[horizon:] = (90, 125, 110)
        x = 0
        while x < w:  # buildings along the horizon, each with a grid of windows
            bw = int(rng.integers(w // 16, w // 6))
            bh = int(rng.integers(h // 8, int(h * 0.4)))
            colour = rng.integers(70, 210, 3).astype(np.float32)
            img[horizon - bh:horizon + h // 20, x:x + bw] = colour
            for wy in range(horizon - bh + 6, horizon, max(6, h // 40)):
                for wx in range(x + 4, x + bw - 6, max(7, w // 90)):
                    img[wy:wy + max(2, h // 90), wx:wx + max(3, w // 200)] = colour * rng.uniform(0.3, 0.7)
            x += bw + int(rng.integers(0, w // 40))
        img[top:bottom] = (72, 74, 78)
        img[bottom:bottom + h // 30] = (150, 155, 160)
        img[top - h // 40:top] = (150, 155, 160)
        lane = (top + bottom) // 2
        for dx in range(0, w, w // 16):
            cv2.rectangle(img, (dx, lane - 2), (dx + w // 32, lane + 2), (225, 225, 225), -1)
        for _ in range(max(4, w // 120)):  # trees
            cx, cy = int(rng.integers(0, w)), int(rng.integers(horizon, top - h // 20))
            cv2.circle(img, (cx, cy), int(rng.integers(h // 30, h // 12)), (40, 110 + float(rng.integers(0, 60)), 50), -1)
        for _ in range(max(2, w // 300)):  # signs with lettering
            sx, sy = int(rng.integers(0, w - w // 8)), int(rng.integers(horizon - h // 10, horizon))
            cv2.rectangle(img, (sx, sy), (sx + w // 10, sy + h // 22), (40, 120, 30), -1)
            cv2.putText(img, "JL. KALIURANG", (sx + 3, sy + h // 30), cv2.FONT_HERSHEY_SIMPLEX, h / 1400,
                        (255, 255, 255), max(1, h // 500))
        grain = cv2.GaussianBlur(rng.normal(0, 9, (h, w)).astype(np.float32), (0, 0), 0.8)
        img += grain[:, :, None]
        lamps: np.ndarray = np.zeros((h, w), np.float32)
        for lx in range(w // 10, w, w // 5):  # street lamps: glow at night
            cv2.circle(lamps, (lx, top - h // 12), h // 7, 1.0, -1)
        lamps = cv2.GaussianBlur(lamps, (0, 0), h / 30)
        return np.clip(img, 0, 255), lamps

    # --- one frame ------------------------------------------------------------------------------------

    def render(self, t: float, *, light: float = 1.0, fault: str | None = None, severity: float = 1.0,
               shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """The view at time `t` (seconds), as BGR; `fault` renders one of FAULTS except frozen."""
        if fault == "black":
            return np.clip(self._rng.normal(3, 0.8, (self.height, self.width, 3)), 0, 255).astype(np.uint8)
        frame = self._lit(light).copy()
        self._draw_movers(frame, t, light)
        dx, dy = shift
        if fault == "moved":
            dx, dy = dx + 0.22 * severity, dy + 0.12 * severity
        x0 = int(self.world_w * MARGIN + dx * self.width)
        y0 = int(self.world_h * MARGIN + dy * self.height)
        x0 = min(max(x0, 0), self.world_w - self.width)
        y0 = min(max(y0, 0), self.world_h - self.height)
        view: np.ndarray = frame[y0:y0 + self.height, x0:x0 + self.width].astype(np.float32)
        if fault == "blurred":
            view = cv2.GaussianBlur(view, (0, 0), 0.007 * self.width * severity)
        elif fault == "covered":
            view = self._cover(view, severity)
        view += self._rng.normal(0, self.noise, view.shape[:2]).astype(np.float32)[:, :, None]
        return np.clip(view, 0, 255).astype(np.uint8)

    def _lit(self, light: float) -> np.ndarray:
        """The static world at a light level (cached: the level changes slowly)."""
        level = round(light, 3)
        if self._lit_cache is None or self._lit_cache[0] != level:
            lamps = self._lamps[:, :, None] * (1 - level) * np.array([120, 200, 255], np.float32)
            self._lit_cache = (level, np.clip(self._world * level + lamps, 0, 255).astype(np.uint8))
        return self._lit_cache[1]

    def _draw_movers(self, frame: np.ndarray, t: float, light: float) -> None:
        top, bottom = self.road
        lane_h = (bottom - top) // 2
        for phase, speed, lane, colour in self._cars:
            x = ((phase + speed * t) % 1.2 - 0.1) * self.world_w
            y = top + lane * lane_h + lane_h // 6
            length, high = self.world_w // 9, int(lane_h * 0.7)
            shade = tuple(int(c * light) for c in colour)
            cv2.rectangle(frame, (int(x), y), (int(x) + length, y + high), shade, -1)
            cv2.rectangle(frame, (int(x) + length // 5, y + 2), (int(x) + length * 3 // 5, y + high // 2),
                          (40, 40, 40), -1)
        for phase, speed, colour in self._walkers:
            x = ((phase + speed * t) % 1.0) * self.world_w
            draw_person(frame, x, top - 2, self.world_h * 0.3, tuple(int(c * light) for c in colour))

    def _cover(self, view: np.ndarray, severity: float) -> np.ndarray:
        """A hand or a bag pressed to the lens: smooth, dark, with a sliver of the scene at one edge."""
        h, w = view.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        blob = 55 + 25 * np.exp(-(((xx - w * 0.45) / w) ** 2 + ((yy - h * 0.5) / h) ** 2) * 3)
        covered = np.repeat(blob[:, :, None], 3, axis=2) * np.array([0.8, 0.9, 1.1], np.float32)
        edge = int(w * (1 - min(1.0, 0.92 * severity)))
        if edge:
            covered[:, w - edge:] = view[:, w - edge:]
        return covered


def sequence(scene: Scene, *, frames: int, interval: float, fault: str | None = None, onset: int = 0,
             until: int | None = None, light: tuple[float, float] = (1.0, 1.0), severity: float = 1.0,
             quality: int = 80) -> Iterator[bytes]:
    """JPEG frames of `scene`, every `interval` seconds, with `fault` from frame `onset` to `until`.

    `light` fades linearly from its first to its second value over the sequence (a day turning to night).
    """
    frozen: bytes | None = None
    for i in range(frames):
        t = i * interval
        level = light[0] + (light[1] - light[0]) * i / max(1, frames - 1)
        active = fault is not None and onset <= i < (until if until is not None else frames)
        if active and fault == "frozen":
            if frozen is None:
                frozen = encode(scene.render(t, light=level), quality)
            yield frozen
            continue
        frozen = None
        yield encode(scene.render(t, light=level, fault=fault if active else None, severity=severity), quality)
