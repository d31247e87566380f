"""Camera sequences built from real photographs, for the detection benchmark and the CCTV tests.

The rendered street of `scenes` is clean geometry the detector could learn to like; these views are mosaics of
the photographs scikit-image ships in its wheel (a garage with a motorcycle, people, a cat, coffee, a rocket
launch, brick, grass, gravel, coins, a printed page, a moon, deep space), each tile near its own scale, seen
through a camera: auto-exposure that lifts a dark scene and its sensor noise with it, a clock burnt into the
corner, JPEG at the camera's quality, things moving across (a few, or a crowd), dusk, street lamps at night,
infrared night (grey, flat, noisy), rain; and unlit nights (`NIGHT_WEATHERS`): a road, a village or a field with
no light but a few lamps or stars, the camera's gain at its limit (a mean grey level of about 5-15), reached at
dusk or seen under a weak infrared lamp that lights only the near ground. Faults as they look from the camera:

frozen        the same JPEG again and again
frozen_clock  the picture stuck while the camera's clock overlay still ticks (a hung encoder)
black         video lost: a near-black picture, with the clock overlay still drawn on half of them
blurred       defocus (a disc, as a lens does) of 0.3-0.6 of the view's sharpness, or stronger
covered       something pressed to the lens: a hand, a bag or a sticker over `severity` of the view, from an
              edge or (stickers) anywhere; smooth, out of focus, lit by what light leaks round it
covered_textured  a block with a texture of its own over 30-60% of the view: a patterned cloth or a printed sign
              hung in front of the camera (another photograph, in focus), from an edge or anywhere
moved         the camera turned: the view panned and tilted by 7% to 22% of its width

Sharpness for the blur's severity is measured independently of the detector: the Tenengrad (root mean square
Sobel gradient) of the clean full-resolution picture, blurred against sharp.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from processors.cctv.scenes import encode

PHOTOS = ("motorcycle_left", "motorcycle_right", "astronaut", "coffee", "chelsea", "rocket", "camera", "brick",
          "grass", "gravel", "coins", "horse", "page", "ihc", "retina", "hubble_deep_field", "moon", "text")
DARK_PHOTOS = ("hubble_deep_field", "moon", "retina", "horse", "coins")
Weather = Literal["day", "dusk", "night", "ir", "rain", "crowd", "unlit", "unlit_dusk", "unlit_ir"]
WEATHERS: tuple[Weather, ...] = ("day", "dusk", "night", "ir", "rain", "crowd")
NIGHT_WEATHERS: tuple[Weather, ...] = ("unlit", "unlit_dusk", "unlit_ir")
UNLIT = (0.012, 0.035)  # the light of an unlit night, against the day's 0.5-1
FAULT_KINDS = ("frozen", "frozen_clock", "black", "blurred", "blurred_mild", "covered", "covered_partial",
               "covered_dark", "moved", "covered_textured")
EXPECTED = {"frozen_clock": "frozen", "blurred_mild": "blurred", "covered_partial": "covered",
            "covered_dark": "covered", "covered_textured": "covered"}
MARGIN = 0.25


@cache
def photo(name: str) -> np.ndarray:
    """A scikit-image sample photograph as BGR uint8, read from the files its wheel ships (never downloaded)."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    path = next(folder.glob(f"{name}.*"))
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return image


def mosaic(rng: np.random.Generator, width: int, height: int, names: tuple[str, ...], row_scale: float) -> np.ndarray:
    """Rows of photographs, each tile scaled to the row's height (near its own scale), cut to the canvas."""
    canvas = np.zeros((height, width, 3), np.uint8)
    y = 0
    while y < height:
        row = int(height * row_scale * rng.uniform(0.8, 1.2))
        x = 0
        while x < width:
            picture = photo(str(rng.choice(names)))
            scale = row / picture.shape[0] * rng.uniform(0.9, 1.1)
            tile = cv2.resize(picture, None, fx=scale, fy=scale,
                              interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
            if rng.random() < 0.5:
                tile = tile[:, ::-1]
            w, h = min(tile.shape[1], width - x), min(tile.shape[0], height - y)
            canvas[y:y + h, x:x + w] = tile[:h, :w]
            x += w
        y += row
    return canvas


def tenengrad(image: np.ndarray) -> float:
    """Root mean square Sobel gradient of a picture's grey levels: the sharpness measure for blur's severity."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) if image.ndim == 3 else image.astype(np.float32)
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    return float(np.sqrt(np.mean(gx * gx + gy * gy)))


def defocus(image: np.ndarray, radius: float) -> np.ndarray:
    """A lens out of focus: the picture convolved with a disc of `radius` pixels (anti-aliased edge)."""
    if radius <= 0.05:
        return image
    size = int(np.ceil(radius)) * 2 + 3
    yy, xx = np.mgrid[:size, :size].astype(np.float32) - size // 2
    disc = np.clip(radius + 0.5 - np.hypot(xx, yy), 0, 1)
    return cv2.filter2D(image, -1, disc / disc.sum(), borderType=cv2.BORDER_REFLECT)


def radius_for(image: np.ndarray, target: float) -> float:
    """The defocus radius that brings the picture's Tenengrad to `target` of its own (bisection)."""
    sharp = tenengrad(image)
    low, high = 0.0, 40.0
    for _ in range(10):
        mid = (low + high) / 2
        if tenengrad(defocus(image, mid)) / sharp > target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


@cache
def unit_noise(width: int, height: int, k: int) -> np.ndarray:
    return np.random.default_rng(k).normal(0, 1, (height, width)).astype(np.float32)


@dataclass
class Mover:
    sprite: np.ndarray
    mask: np.ndarray
    x: float
    y: float
    vx: float
    vy: float


@dataclass
class PhotoScene:
    """One camera's view of a photographic world: `clean(i)` is frame i before the sensor, `sensor` what it sends."""

    seed: int
    weather: Weather = "day"
    width: int = 1920
    height: int = 1080
    frames: int = 90
    interval: float = 10.0
    clock: bool = True
    day_frames: int = 0  # frames over which the light changes (dusk); 0: the whole sequence
    quality: int = field(init=False, default=80)  # the camera's JPEG quality, drawn from the seed

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        names = DARK_PHOTOS if self.weather in ("night", "ir") and rng.random() < 0.5 else PHOTOS
        self.world_w, self.world_h = int(self.width * (1 + 2 * MARGIN)), int(self.height * (1 + 2 * MARGIN))
        self.world = mosaic(rng, self.world_w, self.world_h, names, row_scale=float(rng.uniform(0.3, 0.5)))
        self.noise0 = float(rng.uniform(1.0, 3.0))
        self.quality = int(rng.integers(70, 92))
        count = int(rng.integers(40, 70)) if self.weather == "crowd" else int(rng.integers(1, 8))
        self.movers = [self._mover(rng, crowd=self.weather == "crowd") for _ in range(count)]
        if self.weather == "dusk":
            self.light = (float(rng.uniform(0.8, 1.0)), float(rng.uniform(0.12, 0.25)))
        elif self.weather == "unlit_dusk":
            self.light = (float(rng.uniform(0.6, 0.9)), float(rng.uniform(*UNLIT)))
        elif self.weather in ("unlit", "unlit_ir"):
            level = float(rng.uniform(*UNLIT))
            self.light = (level, level)
        elif self.weather in ("night", "ir"):
            level = float(rng.uniform(0.12, 0.3))
            self.light = (level, level)
        else:
            level = float(rng.uniform(0.5, 1.0))
            self.light = (level, min(1.0, level + float(rng.uniform(-0.2, 0.2))))
        self.ir_from = int(rng.integers(self.frames // 3, 2 * self.frames // 3)) if self.weather == "dusk" and \
            rng.random() < 0.5 else (0 if self.weather in ("ir", "unlit_ir") else None)
        self.lamps = self._unlit_lamps(rng) if self.weather in NIGHT_WEATHERS else self._street_lamps(rng)
        self.rain = [(int(rng.integers(0, self.width)), int(rng.integers(0, self.height)), int(rng.integers(20, 70)))
                     for _ in range(600)] if self.weather == "rain" else []
        self._noise_cache: dict[tuple[float, int], np.ndarray] = {}

    def _street_lamps(self, rng: np.random.Generator) -> np.ndarray:
        lamps = np.zeros((self.world_h, self.world_w), np.float32)
        for _ in range(int(rng.integers(2, 7))):
            cv2.circle(lamps, (int(rng.integers(0, self.world_w)), int(rng.integers(0, self.world_h))),
                       int(self.height * 0.08), 1.0, -1)
        glow = cv2.GaussianBlur(lamps, (0, 0), self.height / 20)[:, :, None] * np.array([90, 170, 230], np.float32)
        return np.clip(glow, 0, 255).astype(np.uint8)

    def _unlit_lamps(self, rng: np.random.Generator) -> np.ndarray:
        """A few far lamps (a road, a village's windows: small, bright, a little glow) or a starlit sky (many
        points, no glow), on the world as the camera sees it."""
        lamps = np.zeros((self.world_h, self.world_w), np.float32)
        if rng.random() < 0.3:  # a field under the stars, perhaps one window far away
            for _ in range(int(rng.integers(150, 400))):
                x, y = int(rng.integers(0, self.world_w)), int(rng.integers(0, self.world_h // 2))
                lamps[y, x] = float(rng.uniform(0.4, 1.0))
            lamps[:] = cv2.dilate(lamps, np.ones((2, 2), np.uint8))
            glow_sigma = 0.0
        else:
            for _ in range(int(rng.integers(3, 12))):
                cv2.circle(lamps, (int(rng.integers(0, self.world_w)), int(rng.integers(0, self.world_h))),
                           int(self.height * rng.uniform(0.004, 0.012)), 1.0, -1)
            glow_sigma = self.height / 120
        glow = lamps + (cv2.GaussianBlur(lamps, (0, 0), glow_sigma) * 2.5 if glow_sigma else 0)
        return np.clip(glow[:, :, None] * np.array([150, 210, 245], np.float32), 0, 255).astype(np.uint8)

    def _mover(self, rng: np.random.Generator, *, crowd: bool) -> Mover:
        size = int(self.height * (rng.uniform(0.05, 0.12) if crowd else rng.uniform(0.1, 0.3)))
        source = photo(str(rng.choice(PHOTOS)))
        scale = size / min(source.shape[:2]) * rng.uniform(1.0, 1.5)
        sprite = cv2.resize(source, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)[:size, :int(size * 0.6)]
        mask = np.zeros(sprite.shape[:2], np.float32)
        cv2.ellipse(mask, (sprite.shape[1] // 2, sprite.shape[0] // 2), (sprite.shape[1] // 2, sprite.shape[0] // 2),
                    0, 0, 360, 1.0, -1)
        speed = self.width * (rng.uniform(0.002, 0.01) if crowd else rng.uniform(0.005, 0.05))
        return Mover(sprite, cv2.GaussianBlur(mask, (0, 0), 1.5)[:, :, None], float(rng.uniform(0, self.world_w)),
                     float(rng.uniform(0.3, 0.9) * self.world_h), speed * float(rng.choice([-1, 1])),
                     float(rng.uniform(-0.2, 0.2)) * speed)

    def level(self, i: int) -> float:
        span = self.day_frames or self.frames
        return self.light[0] + (self.light[1] - self.light[0]) * min(1.0, i / max(1, span - 1))

    def gain(self, i: int) -> float:
        """Auto-exposure: a dark scene is lifted (not all the way), and its noise with it."""
        return float(min(3.0, (0.55 / max(0.05, self.level(i))) ** 0.6)) if self.level(i) < 0.55 else 1.0

    def lamp_weight(self, i: int) -> float:
        """How much of the lamps the camera sees: street lamps as the light falls; unlit nights' far lamps and
        stars as the sky darkens (they do not light the scene)."""
        light = self.level(i)
        if self.weather in NIGHT_WEATHERS:
            return float(np.clip((0.3 - light) / 0.25, 0.0, 1.0))
        return (1 - light) ** 2

    def infrared(self, i: int) -> bool:
        return self.ir_from is not None and i >= self.ir_from

    def _exposed(self, image: np.ndarray, lamps: np.ndarray, i: int) -> np.ndarray:
        """The camera's exposure of `image` under frame i's light: street lamps, infrared, rain haze, gain."""
        light, gain = self.level(i), self.gain(i)
        contrast, lift = (0.85, 30.0) if self.rain else (1.0, 0.0)
        if self.weather == "unlit_ir":  # a weak infrared lamp: the near ground (the bottom) grey, the far dark
            lit = cv2.transform(image, np.array([[0.07, 0.21, 0.42]] * 3, np.float32)).astype(np.float32)
            return np.clip(lit * self._falloff * (light * 12) + lamps * self.lamp_weight(i), 0, 255).astype(np.uint8)
        view = cv2.addWeighted(image, light * gain * contrast, lamps, self.lamp_weight(i) * gain, lift * gain)
        if self.infrared(i):  # infrared: grey and flat, red-heavy (foliage and skin bright)
            grey = cv2.transform(view, np.array([[0.07, 0.21, 0.42]] * 3, np.float32))
            view = cv2.add(grey, np.full_like(grey, 70))
        return view

    @functools.cached_property
    def _falloff(self) -> np.ndarray:
        yy = np.linspace(0.0, 1.0, self.height, dtype=np.float32)[:, None, None]
        return np.clip((yy - 0.35) / 0.65, 0.0, 1.0) ** 2


    def clean(self, i: int, *, pan: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Frame i before the sensor: the world, its movers, the light and the camera's exposure, as uint8 BGR."""
        x0 = int(self.world_w * MARGIN + pan[0] * self.width)
        y0 = int(self.world_h * MARGIN + pan[1] * self.height)
        x0, y0 = min(max(x0, 0), self.world_w - self.width), min(max(y0, 0), self.world_h - self.height)
        view = self.world[y0:y0 + self.height, x0:x0 + self.width].copy()
        t = i * self.interval
        for m in self.movers:  # placed in world coordinates, so a turned camera sees them where they are
            sh, sw = m.sprite.shape[:2]
            x = int((m.x + m.vx * t) % (self.world_w + sw)) - sw - x0
            y = int(min(max(m.y + m.vy * t, 0), self.world_h - sh)) - y0
            vx0, vx1, vy0, vy1 = max(0, x), min(self.width, x + sw), max(0, y), min(self.height, y + sh)
            if vx1 <= vx0 or vy1 <= vy0:
                continue
            sprite = m.sprite[vy0 - y:vy1 - y, vx0 - x:vx1 - x]
            mask = m.mask[vy0 - y:vy1 - y, vx0 - x:vx1 - x]
            region = view[vy0:vy1, vx0:vx1]
            view[vy0:vy1, vx0:vx1] = (region * (1 - mask) + sprite * mask).astype(np.uint8)
        view = self._exposed(view, self.lamps[y0:y0 + self.height, x0:x0 + self.width], i)
        if self.rain:
            streaks = np.zeros_like(view)
            for x, y, length in self.rain:
                yy = (y + i * 97) % self.height
                cv2.line(streaks, (x, yy), (x + length // 8, yy + length), (40, 40, 40), 1)
            view = cv2.add(view, streaks)
        return view

    def _noise_field(self, i: int) -> np.ndarray:
        """Frame i's sensor noise as int16 BGR (three fields reused; their strength follows the gain)."""
        std = round(4 * self.noise0 * self.gain(i) * (2.0 if self.infrared(i) else 1.0)) / 4
        key = (std, i % 3)
        if key not in self._noise_cache:
            if len(self._noise_cache) > 6:
                self._noise_cache.clear()
            unit = unit_noise(self.width, self.height, i % 3)
            self._noise_cache[key] = cv2.merge([(unit * std).astype(np.int16)] * 3)
        return self._noise_cache[key]

    def noisy(self, view: np.ndarray, i: int) -> np.ndarray:
        """The view with frame i's sensor noise on it."""
        return cv2.add(view, self._noise_field(i), dtype=cv2.CV_8U)

    def sensor(self, view: np.ndarray, i: int) -> bytes:
        """Noise, the clock overlay and JPEG: what the camera sends."""
        image = self.noisy(view, i)
        if self.clock:
            self.overlay(image, i)
        return encode(image, self.quality)

    def overlay(self, image: np.ndarray, i: int) -> None:
        seconds = int(i * self.interval)
        text = f"2026-01-01 {12 + seconds // 3600 % 12:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}  CAM-{self.seed % 100:02d}"
        scale = self.height / 1080
        cv2.putText(image, text, (int(20 * scale), int(50 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale,
                    (0, 0, 0), int(6 * scale), cv2.LINE_AA)
        cv2.putText(image, text, (int(20 * scale), int(50 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale,
                    (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)


@dataclass
class Cover:
    """Something pressed to the lens over `share` of the view: from an edge (hand, bag) or a sticker anywhere;
    smooth and out of focus, lit by what light gets round it."""

    mask: np.ndarray
    surface: np.ndarray

    @classmethod
    def make(cls, width: int, height: int, share: float, rng: np.random.Generator, *, textured: bool = False) -> Cover:
        w, h = width, height
        what = str(rng.choice(["hand", "bag", "sticker"]))
        colour = {"hand": (95, 125, 170), "bag": (50, 55, 60), "sticker": (200, 205, 210)}[what]
        if textured:
            return cls._textured(w, h, share, rng)
        mask = np.zeros((h, w), np.float32)
        if share >= 0.97:
            mask[:] = 1
        elif what == "sticker":  # a rectangle of the right area anywhere in the view
            aspect = float(rng.uniform(0.7, 1.4))
            cw = min(w, int(np.sqrt(share * w * h * aspect * w / h)))
            ch = min(h, int(share * w * h / cw))
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            mask[y:y + ch, x:x + cw] = 1
        else:  # from one edge, with a rounded front
            edge = str(rng.choice(["left", "right", "bottom", "top"]))
            depth = share * (w if edge in ("left", "right") else h)
            yy, xx = np.mgrid[:h, :w].astype(np.float32)
            along = {"left": xx, "right": w - 1 - xx, "top": yy, "bottom": h - 1 - yy}[edge]
            across = (yy / h if edge in ("left", "right") else xx / w) - 0.5
            mask = (along < depth * (1 + 0.25 * (0.25 - across * across))).astype(np.float32)
        soft = cv2.GaussianBlur(mask, (0, 0), max(2.0, w * 0.01))
        xx = np.arange(w, dtype=np.float32)[None, :]
        yy = np.arange(h, dtype=np.float32)[:, None]
        fall = 0.8 + 0.2 * np.exp(-(((xx - w * rng.uniform(0.2, 0.8)) / w) ** 2 + ((yy - h * 0.5) / h) ** 2) * 4)
        return cls(soft[:, :, None], fall[:, :, None] * np.array(colour, np.float32))

    @classmethod
    def _textured(cls, w: int, h: int, share: float, rng: np.random.Generator) -> Cover:
        """A sign or a cloth with a texture of its own, hung in front of the camera: in focus, its edge sharp."""
        mask = np.zeros((h, w), np.float32)
        if rng.random() < 0.5:  # hung from the top or propped from the bottom, the whole width
            depth = int(share * h)
            if rng.random() < 0.5:
                mask[:depth] = 1
            else:
                mask[h - depth:] = 1
        else:  # a board anywhere
            aspect = float(rng.uniform(0.8, 1.6))
            cw = min(w, int(np.sqrt(share * w * h * aspect * w / h)))
            ch = min(h, int(share * w * h / cw))
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            mask[y:y + ch, x:x + cw] = 1
        pattern = mosaic(rng, w, h, ("brick", "grass", "gravel", "page", "text", "coffee"),
                         row_scale=float(rng.uniform(0.3, 0.6))).astype(np.float32)
        return cls(cv2.GaussianBlur(mask, (0, 0), 1.0)[:, :, None], pattern)

    def over(self, view: np.ndarray) -> np.ndarray:
        lit = min(1.0, 0.2 + 1.2 * float(cv2.mean(view)[1]) / 255)  # light leaking round it, lifted by exposure
        return np.clip(view * (1 - self.mask) + self.surface * (lit * self.mask), 0, 255).astype(np.uint8)


def sequence(scene: PhotoScene, fault: str | None = None, *, onset: int = 0, until: int | None = None,
             severity: float = 1.0) -> Iterator[bytes]:
    """The scene's JPEG frames with `fault` (one of FAULT_KINDS) from frame `onset` to `until`."""
    until = scene.frames if until is None else until
    rng = np.random.default_rng(scene.seed + 99)
    frozen: tuple[bytes, np.ndarray] | None = None
    radius: float | None = None
    covering: Cover | None = None
    turn = (float(rng.uniform(0.07, 0.22)) * float(rng.choice([-1, 1])), float(rng.uniform(-0.08, 0.08)))
    for i in range(scene.frames):
        active = fault is not None and onset <= i < until
        if not active:
            frozen = None
            yield scene.sensor(scene.clean(i), i)
            continue
        if fault in ("frozen", "frozen_clock"):
            if frozen is None:
                still = scene.noisy(scene.clean(i), i)
                frozen = (encode(still, scene.quality), still)
            if fault == "frozen":
                yield frozen[0]
            else:
                image = frozen[1].copy()
                scene.overlay(image, i)
                yield encode(image, scene.quality)
        elif fault == "black":
            image = cv2.add(np.full((scene.height, scene.width, 3), 2, np.uint8),
                            cv2.merge([unit_noise(scene.width, scene.height, i % 3).astype(np.int16)] * 3),
                            dtype=cv2.CV_8U)
            if scene.seed % 2:
                scene.overlay(image, i)
            yield encode(image, scene.quality)
        elif fault in ("blurred", "blurred_mild"):
            view = scene.clean(i)
            if radius is None:
                radius = radius_for(np.clip(view, 0, 255).astype(np.uint8), severity)
            yield scene.sensor(defocus(view, radius), i)
        elif fault in ("covered", "covered_partial", "covered_dark", "covered_textured"):
            if covering is None:
                covering = Cover.make(scene.width, scene.height, severity, np.random.default_rng(scene.seed + 5),
                                      textured=fault == "covered_textured")
            yield scene.sensor(covering.over(scene.clean(i)), i)
        elif fault == "moved":
            yield scene.sensor(scene.clean(i, pan=turn), i)
        else:
            raise ValueError(f"unknown fault {fault!r}")
