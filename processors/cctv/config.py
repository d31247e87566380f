"""The cctv feature's configuration: the cameras, how their frames are judged, and where frames are kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from command_center.config import Config, Place
from command_center.config.base import EntityId, Location, Section, unique_ids


class CameraDetection(Section):
    """How a camera's frames are judged. Levels are relative to the camera's own learned baseline."""

    raise_after: int = Field(default=3, ge=1, le=100, description="consecutive frames before an anomaly is raised")
    clear_after: int = Field(default=2, ge=1, le=100, description="consecutive good frames before it is cleared")
    warmup: int = Field(default=8, ge=3, le=1000, description="frames that teach the baseline before tamper checks")
    offline_intervals: float = Field(default=3, gt=1, le=1000, description="no frame for this many intervals: offline")
    offline_min_s: float = Field(default=15, ge=1, le=86_400, description="... and for at least this many seconds")
    black_mean: float = Field(default=24, ge=0, le=255, description="black: mean grey level below this ...")
    black_std: float = Field(default=6, gt=0, le=255, description="... and spread below this")
    blank_std: float = Field(default=2.5, gt=0, le=255, description="blank: any grey level with spread below this")
    blur_ratio: float = Field(default=0.4, gt=0, lt=1, description="blurred: sharpness below this share of its median")
    blur_cells: float = Field(default=0.86, gt=0, lt=1,
                              description="blurred: or the finer detail of most cells fell below this share of theirs")
    black_light: float = Field(default=12, ge=0, le=255,
                               description="a view whose median level is below this has no light: black, not covered")
    frozen_ratio: float = Field(default=0.15, gt=0, lt=1,
                                description="frozen: change between frames below this share of its usual change")
    covered_share: float = Field(default=0.6, gt=0, le=1, description="covered: share of the view that lost its detail")
    partial_share: float = Field(default=0.2, gt=0, le=1,
                                 description="covered: or one contiguous block of at least this share of the view")
    moved_correlation: float = Field(default=0.5, ge=-1, lt=1,
                                     description="moved: the view correlates with the learned scene below this")
    moved_shift: float = Field(default=0.05, gt=0, lt=1, description="moved: or is shifted by this share of its width")
    relearn_after_s: float = Field(default=3600, ge=60, le=30 * 86_400,
                                   description="a view moved for this long is learned as the camera's new scene")


class CameraConfig(Section):
    id: EntityId
    depends_on: list[EntityId] = Field(default_factory=list,
                                       description="the topology's switches, NVRs, links or sites it runs on")
    name: str
    url: str = Field(description="snapshot URL (http/https), MJPEG URL, or rtsp://")
    kind: Literal["snapshot", "mjpeg", "rtsp"] = "snapshot"
    interval: float = Field(default=10, ge=0.2, le=3600, description="seconds between snapshots")
    timeout: float = Field(default=10, gt=0, le=120, description="seconds a poll (or a stream read) may take")
    max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024,
                           description="a snapshot larger than this is refused as too large")
    area: str = ""
    location: Location | None = None
    username: str = ""
    password: str = ""
    auth: Literal["none", "basic", "digest"] = "none"
    count_people: bool = Field(default=False, description="count people with OpenCV's HOG detector")
    people_every: int = Field(default=6, ge=1, le=1000, description="count people on every Nth frame")
    detect: CameraDetection = Field(default_factory=CameraDetection)

    @model_validator(mode="after")
    def _url_fits_kind(self) -> CameraConfig:
        schemes = {"snapshot": ("http://", "https://"), "mjpeg": ("http://", "https://"), "rtsp": ("rtsp://", "rtsps://")}
        if not self.url.startswith(schemes[self.kind]):
            raise ValueError(f"camera {self.id!r}: a {self.kind} camera needs a {' or '.join(schemes[self.kind])} URL")
        if self.auth != "none" and not self.username:
            raise ValueError(f"camera {self.id!r}: {self.auth} auth needs a username")
        return self


class CctvConfig(Section):
    frame_ttl_s: float = Field(default=120, ge=5, le=86_400, description="how long each frame stays in Redis")
    latest_ttl_s: float = Field(default=86_400, ge=60, le=30 * 86_400, description="how long a camera's last frame stays")
    jpeg_quality: int = Field(default=85, ge=30, le=100, description="quality of frames re-encoded from RTSP streams")



class CctvSettings(Config):
    cameras: Annotated[list[CameraConfig], AfterValidator(lambda v: unique_ids(v, "camera"))] = Field(
        default_factory=list)
    cctv: CctvConfig = Field(default_factory=CctvConfig)

    def places(self) -> Iterator[Place]:
        yield from super().places()
        for c in self.cameras:
            yield Place(id=c.id, source="cctv", kind=c.kind, name=c.name, area=c.area, location=c.location,
                        depends_on=tuple(c.depends_on))
