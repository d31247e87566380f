"""What one frame looks like, in a few numbers: the costly, stateless part of the CCTV analysis.

The JPEG is decoded straight to greyscale at a reduced scale (libjpeg's DCT scaling skips most of the
inverse transform and all the colour work), so a 1080p frame becomes 480x270 for a fraction of a full
decode. From it: brightness and spread (black, blank), sharpness (blur, relative to the camera's own
median), detail in each cell of a grid (covered: most of the view loses its detail at once) and a small
thumbnail that the cheap, stateful comparisons (frozen, motion, moved) use. Runs in a worker thread:
OpenCV releases the GIL.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

THUMB = (64, 36)
GRID = (16, 9)
MIN_DECODED_WIDTH = 320
_REDUCED = ((8, cv2.IMREAD_REDUCED_GRAYSCALE_8), (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
            (2, cv2.IMREAD_REDUCED_GRAYSCALE_2))
PEOPLE_WIDTH = 640


def _none() -> np.ndarray:
    return np.zeros(0, np.float32)


class Undecodable(ValueError):
    """The frame's bytes do not decode as an image."""


@dataclass(frozen=True, slots=True)
class Measurements:
    mean: float
    std: float
    sharpness: float  # fine detail (less the sensor's noise) over coarse detail: light level cancels out
    cells: np.ndarray  # float32 detail per cell of GRID, row by row: RMS Laplacian at half the decoded scale,
    #                    less what the sensor's noise puts there (a cover over a dark, noisy scene has none)
    thumb: bytes  # THUMB greyscale, uint8
    people: int | None = None
    fine: np.ndarray = field(default_factory=_none)  # per cell: detail at the decoded scale over detail at half of it
    coarse: np.ndarray = field(default_factory=_none)  # per cell: detail at half the decoded scale over a quarter
    levels: np.ndarray = field(default_factory=_none)  # per cell: mean grey level
    noise: float = 0.0  # the sensor noise's standard deviation (0 on a generated picture)
    grain: bytes = b""  # every 8th decoded pixel of every 8th row, uint8: the sensor's grain, not averaged away


def decode_flag(width: int) -> int:
    """The coarsest reduced greyscale decode that keeps at least MIN_DECODED_WIDTH columns."""
    for factor, flag in _REDUCED:
        if width // factor >= MIN_DECODED_WIDTH:
            return flag
    return cv2.IMREAD_GRAYSCALE


def decode(data: bytes, width: int) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), decode_flag(width))
    if image is None or image.size == 0:
        raise Undecodable("the frame does not decode as an image")
    return image


_LAPLACIAN_GAIN = 20.0  # the 4-neighbour Laplacian multiplies white noise's variance by 1 + 4 + 4 + ... = 20
_HALF_NOISE_GAIN = _LAPLACIAN_GAIN * (70 / 256) ** 2  # ... after pyrDown, whose 5x5 kernel keeps 0.075 of it


def _cells(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32).ravel()


def measure_image(grey: np.ndarray) -> Measurements:
    """Three bands of detail (the decoded scale, a half and a quarter of it), globally and per cell of GRID.

    Defocus takes the finer bands first, everywhere at once: the ratio of a band to the next coarser one falls
    in every cell that had detail, whatever the light. A cover takes every band from the cells behind it, and
    changes their level; a change of light scales the bands together and leaves the ratios alone.
    """
    image = grey.astype(np.float32)
    mean, std = cv2.meanStdDev(grey)
    half = cv2.pyrDown(image)
    quarter = cv2.pyrDown(half)
    bands = []
    for level in (image, half, quarter):
        lap = cv2.Laplacian(level, cv2.CV_32F, ksize=1)
        bands.append(cv2.resize(cv2.multiply(lap, lap), GRID, interpolation=cv2.INTER_AREA))
    e0, e1, e2 = bands
    # The sensor's noise, from the flattest cell's finest band: where a view has no detail, that band is all noise
    # (a view with none anywhere is overestimated, as every single-frame estimate is)
    noise = float(np.sqrt(float(e0.min()) / _LAPLACIAN_GAIN))
    # Detail energy less what the sensor's noise contributes, so a noisy camera's blur is not hidden by grain.
    fine_energy = max(0.0, float(e0.mean()) - _LAPLACIAN_GAIN * noise * noise)
    levels = cv2.resize(quarter, GRID, interpolation=cv2.INTER_AREA)
    thumb = cv2.resize(quarter, THUMB, interpolation=cv2.INTER_AREA).round().astype(np.uint8)
    return Measurements(mean=float(mean[0][0]), std=float(std[0][0]),
                        sharpness=float(np.sqrt(fine_energy) / (np.sqrt(float(e2.mean())) + 1.0)),
                        cells=_cells(np.sqrt(np.maximum(e1 - _HALF_NOISE_GAIN * noise * noise, 0.0))),
                        thumb=thumb.tobytes(),
                        fine=_cells(np.sqrt(e0 / (e1 + 1.0))), coarse=_cells(np.sqrt(e1 / (e2 + 1.0))),
                        levels=_cells(levels), noise=round(noise, 3), grain=grey[4::8, 4::8].tobytes())


def measure(data: bytes, width: int, *, people: bool = False) -> Measurements:
    """Measure a JPEG of `width` columns; with `people`, count them too (a second, larger decode)."""
    m = measure_image(decode(data, width))
    if not people:
        return m
    return replace(m, people=count_people(data, width))


_hog: cv2.HOGDescriptor | None = None


def _detector() -> cv2.HOGDescriptor:
    global _hog
    if _hog is None:  # built once per process; detectMultiScale is safe to call from several threads
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
        _hog = hog
    return _hog


def count_people(data: bytes, width: int) -> int:
    """People standing in view, by OpenCV's HOG pedestrian detector on a PEOPLE_WIDTH-wide greyscale frame.

    The detector's window is 64x128: a person shorter than about a third of the frame's height at this
    width is not counted. Costs tens of milliseconds, so the processor runs it on every Nth frame only.
    """
    factor = next((f for f, flag in _REDUCED if width // f >= PEOPLE_WIDTH), 1)
    flag = dict(_REDUCED).get(factor, cv2.IMREAD_GRAYSCALE)
    grey = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if grey is None:
        raise Undecodable("the frame does not decode as an image")
    if grey.shape[1] > PEOPLE_WIDTH:
        grey = cv2.resize(grey, (PEOPLE_WIDTH, grey.shape[0] * PEOPLE_WIDTH // grey.shape[1]),
                          interpolation=cv2.INTER_AREA)
    boxes, weights = _detector().detectMultiScale(grey, winStride=(8, 8), padding=(8, 8), scale=1.08)
    if len(boxes) == 0:
        return 0
    kept, _ = cv2.groupRectangles([list(map(int, b)) for b in boxes] * 2, 1, 0.3)  # merge overlapping hits
    return len(kept) if len(kept) else len(boxes)


# --- comparisons with the camera's memory (cheap: thumbnails only) -----------------------------------

def thumb_array(thumb: bytes) -> np.ndarray:
    return np.frombuffer(thumb, np.uint8).reshape(THUMB[1], THUMB[0]).astype(np.float32)


def frame_change(previous: bytes, current: bytes, *, level: float = 12.0) -> tuple[float, float]:
    """Between two thumbnails: the mean absolute difference in grey levels, and the share of the view that
    changed by more than `level` (motion)."""
    diff = cv2.absdiff(np.frombuffer(previous, np.uint8), np.frombuffer(current, np.uint8))
    return float(cv2.mean(diff)[0]), float(np.count_nonzero(diff > level)) / diff.size


def grain_change(previous: bytes, current: bytes) -> float:
    """Mean absolute difference of the grain samples, over the 80 % that changed least (motion and a clock overlay
    left out): a live camera's sensor noise keeps it near 1.1 times the noise; a stuck picture has none."""
    diff = cv2.absdiff(np.frombuffer(previous, np.uint8), np.frombuffer(current, np.uint8)).ravel()
    keep = int(diff.size * 0.8)
    return float(np.partition(diff, keep)[:keep].mean()) if keep else 0.0


def correlation(reference: np.ndarray, current: bytes) -> float:
    """Pearson correlation of the thumbnail with the learned scene: 1 same view, unchanged by light level."""
    view = thumb_array(current)
    (vm,), (vs,) = cv2.meanStdDev(view)
    (rm,), (rs,) = cv2.meanStdDev(reference)
    if vs[0] < 1e-3 or rs[0] < 1e-3:
        return 0.0
    covariance = float(np.dot(view.ravel(), reference.ravel())) / view.size - vm[0] * rm[0]
    return float(covariance / (vs[0] * rs[0]))


_WINDOW = cv2.createHanningWindow(THUMB, cv2.CV_32F)


def shift(reference: np.ndarray, current: bytes) -> tuple[float, float]:
    """How far the view moved from the learned scene, as a share of the width, and the match's strength."""
    (dx, dy), response = cv2.phaseCorrelate(reference.copy(), thumb_array(current), _WINDOW)  # it writes to its input
    return float(np.hypot(dx, dy) / THUMB[0]), float(response)
