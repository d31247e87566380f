"""The sensors feature's configuration: the sensors, their alarm rules, and the MQTT broker they publish to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from command_center.config import Config, Place
from command_center.config.base import EntityId, Location, Section, unique_ids


class SensorRule(Section):
    kind: Literal["threshold", "rate", "spike", "stale", "flatline", "range"]
    level: str = Field(default="", description="a name for the level, e.g. siaga 2, shown with the alarm")
    raise_above: float | None = None
    clear_below: float | None = None
    raise_below: float | None = None
    clear_above: float | None = None
    min_duration_s: float = Field(default=0, ge=0)
    delta: float | None = Field(default=None, description="rate rule: change that raises")
    window_s: float = Field(default=600, gt=0)
    z: float = Field(default=6, gt=0, description="spike rule: robust z-score that raises")
    warmup: int = Field(default=20, ge=3)
    intervals: float = Field(default=3, gt=0, description="stale rule: missed intervals before stale")
    duration_s: float = Field(default=3600, gt=0, description="flatline rule: unchanged for this long")
    min: float | None = None
    max: float | None = None
    severity: Literal["critical", "major", "minor", "info"] = "major"

    @model_validator(mode="after")
    def _complete(self) -> SensorRule:
        if self.kind == "threshold":
            high = self.raise_above is not None
            low = self.raise_below is not None
            if high == low:
                raise ValueError("a threshold rule needs raise_above or raise_below (one of them)")
            if high and self.clear_below is not None and self.clear_below > self.raise_above:  # type: ignore[operator]
                raise ValueError("clear_below must not be above raise_above")
            if low and self.clear_above is not None and self.clear_above < self.raise_below:  # type: ignore[operator]
                raise ValueError("clear_above must not be below raise_below")
        if self.kind == "rate" and not self.delta:
            raise ValueError("a rate rule needs delta")
        if self.kind == "range" and self.min is None and self.max is None:
            raise ValueError("a range rule needs min or max")
        return self


# What an instrument of each kind can send, by unit ("" for any other unit): beyond it a reading is not a
# measurement at all (1e308 cm on a river gauge) and is refused at intake. Generous on purpose: a value a
# faulty device sends just outside the sensible range (150 % utilisation) is let through, for the sensor's
# `range` rule to report as a sensor fault.
PHYSICAL: dict[tuple[str, str], tuple[float, float]] = {
    ("water_level", "cm"): (-10_000, 100_000), ("water_level", "m"): (-100, 1_000),
    ("water_level", "mm"): (-100_000, 1_000_000), ("water_level", ""): (-1e6, 1e6),
    ("rainfall", ""): (-1_000, 10_000), ("air_quality", ""): (-1_000, 100_000), ("packet_loss", ""): (-1_000, 1_000),
    ("bandwidth", "%"): (-1_000, 10_000), ("bandwidth", ""): (-1e6, 1e14), ("traffic", ""): (-1e3, 1e8),
    ("temperature", "°c"): (-273.15, 1_000), ("temperature", "c"): (-273.15, 1_000), ("temperature", ""): (-500, 2_000),
}


class SensorConfig(Section):
    id: EntityId
    depends_on: list[EntityId] = Field(default_factory=list,
                                       description="the topology's switches, NVRs, links or sites it runs on")
    name: str
    kind: Literal["water_level", "rainfall", "air_quality", "bandwidth", "packet_loss", "traffic", "temperature", "other"]
    quantity: str = ""
    unit: str
    interval: float = Field(default=60, gt=0, le=86_400, description="expected seconds between readings")
    area: str = ""
    location: Location | None = None
    rules: list[SensorRule] = Field(default_factory=list)
    max_rate: float = Field(default=10, gt=0, le=10_000, description="readings per second accepted (burst 5x)")
    valid_min: float | None = Field(default=None, description="lowest value the instrument can send; default: "
                                                              "by kind and unit (a river gauge in cm: -10,000)")
    valid_max: float | None = Field(default=None, description="highest value it can send (a river gauge in cm: "
                                                              "100,000); beyond it a reading is refused as impossible")

    def physical_range(self) -> tuple[float, float]:
        """The values this sensor can physically report: what is configured, else what its kind allows."""
        low, high = PHYSICAL.get((self.kind, self.unit.lower()), PHYSICAL.get((self.kind, ""), (-1e12, 1e12)))
        return (low if self.valid_min is None else self.valid_min, high if self.valid_max is None else self.valid_max)


class MqttConfig(Section):
    host: str = "localhost"
    port: int = Field(default=1883, ge=1, le=65535)
    topic: str = Field(default="cc/sensors/{sensor_id}", description="the sensor id's place in the topic")
    username: str = ""
    password: str = ""
    client_id: str = Field(default="command-center-sensors", description="MQTT client id (persistent session)")

    @field_validator("topic")
    @classmethod
    def _one_placeholder(cls, topic: str) -> str:
        if topic.count("{sensor_id}") != 1 or "#" in topic or "+" in topic:
            raise ValueError("topic needs exactly one {sensor_id} and no wildcards")
        return topic

    @property
    def subscription(self) -> str:
        return self.topic.replace("{sensor_id}", "+")

    def sensor_of(self, topic: str) -> str | None:
        """The sensor id in a concrete topic, or None when the topic does not fit the pattern."""
        want = self.topic.split("/")
        got = topic.split("/")
        if len(want) != len(got):
            return None
        sensor = None
        for pattern, part in zip(want, got, strict=True):
            if pattern == "{sensor_id}":
                sensor = part
            elif pattern != part:
                return None
        return sensor



class SensorsSettings(Config):
    sensors: Annotated[list[SensorConfig], AfterValidator(lambda v: unique_ids(v, "sensor"))] = Field(
        default_factory=list)
    mqtt: MqttConfig | None = Field(default=None, description="the MQTT broker sensors publish to; none: off")

    def places(self) -> Iterator[Place]:
        yield from super().places()
        for s in self.sensors:
            yield Place(id=s.id, source="sensors", kind=s.kind, name=s.name, area=s.area, location=s.location,
                        depends_on=tuple(s.depends_on))
