"""One YAML file validated into typed, frozen configuration; a bad file names the key and the reason."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import Field, ValidationError, create_model, field_validator, model_validator

from command_center.config.base import Location, Section, unique_ids
from command_center.config.sections import (
    AccountsConfig,
    AgencyConfig,
    ApiKeyConfig,
    AreaConfig,
    Bounds,
    DependencyConfig,
    HubConfig,
    IngestConfig,
    KafkaConfig,
    ListenerConfig,
    RedisConfig,
    Role,
    SiteConfig,
    TokenConfig,
    WallConfig,
    WatchConfig,
)

__all__ = ["Config", "ConfigError", "Location", "Place", "Role", "compose", "load_config", "parse_config"]


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the reason."""


@dataclass(frozen=True)
class Place:
    """Something of the estate that has a place: a camera, a sensor, an application. Features list theirs
    (`Config.places`), so another feature (incidents, for the map and CAP) can find an entity without
    importing the feature that owns it."""

    id: str
    source: str  # the feature that owns it: cctv, sensors, health, ...
    kind: str  # the owner's kind of it: water_level, snapshot, ...
    name: str
    area: str = ""
    location: Location | None = None
    depends_on: tuple[str, ...] = ()  # what it runs on (a switch, a link, a site): names of other places


class Config(Section):
    """The kernel's sections. A feature's settings subclass this with its own sections; the configuration a
    process reads is the composition of every feature's settings (`compose`)."""

    site: SiteConfig = Field(default_factory=SiteConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    http: ListenerConfig = Field(default_factory=ListenerConfig, description="the API and the wall page")
    hub: HubConfig = Field(default_factory=HubConfig)
    wall: WallConfig = Field(default_factory=WallConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    ops: ListenerConfig = Field(
        default_factory=lambda: ListenerConfig(port=9400), description="/healthz, /readyz and /metrics"
    )
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    tokens: list[TokenConfig] = Field(default_factory=list, description=(
        "machine tokens fixed in the file; people sign in with accounts, integrations use named API tokens"))
    accounts: AccountsConfig = Field(default_factory=AccountsConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    webhook_secret: str = Field(default="", description="HMAC-SHA256 key for signed webhooks in and out")
    agencies: list[AgencyConfig] = Field(default_factory=list, description="the government's agencies (OPD)")
    areas: list[AreaConfig] = Field(default_factory=list, description="districts, for complaints' areas and routing")
    topology: list[DependencyConfig] = Field(default_factory=list, description=(
        "switches, NVRs, links, sites and power feeds that cameras, apps and sensors depend on"))

    @field_validator("agencies", "areas", "topology")
    @classmethod
    def _unique(cls, items: list[Any], info: Any) -> list[Any]:
        return unique_ids(items, info.field_name.rstrip("s"))

    @model_validator(mode="after")
    def _references(self) -> Config:
        agencies = {a.id for a in self.agencies}
        areas = {a.id for a in self.areas}
        for t in self.tokens:
            if t.agency and t.agency not in agencies:
                raise ValueError(f"tokens[{t.name}].agency: unknown agency {t.agency!r}")
        for i, m in enumerate(self.accounts.oidc.mappings):
            for name, known, given in (("agencies", agencies, m.agencies), ("areas", areas, m.areas)):
                unknown = sorted(set(given) - known)
                if unknown:
                    raise ValueError(f"accounts.oidc.mappings[{i}].{name}: unknown {', '.join(unknown)}")
        return self

    @model_validator(mode="after")
    def _dependencies(self) -> Config:
        """Every `depends_on` names a known place, and nothing depends on itself however far round."""
        places = {p.id: p for p in self.places()}
        for place in places.values():
            for name in place.depends_on:
                if name not in places:
                    raise ValueError(f"{place.source} {place.id}: depends_on {name!r} is not in the topology or "
                                     f"the estate")
        done: set[str] = set()
        for start in places:
            path: list[str] = []
            on_path: set[str] = set()
            stack: list[tuple[str, int]] = [(start, 0)]
            while stack:  # depth first, iteratively: a long chain of sites is no recursion limit
                node, index = stack.pop()
                if index == 0:
                    if node in done:
                        continue
                    path.append(node)
                    on_path.add(node)
                parents = places[node].depends_on
                if index < len(parents):
                    stack.append((node, index + 1))
                    parent = parents[index]
                    if parent in on_path:
                        cycle = path[path.index(parent):] + [parent]
                        raise ValueError(f"topology: a dependency cycle: {' -> '.join(cycle)}")
                    stack.append((parent, 0))
                else:
                    path.pop()
                    on_path.discard(node)
                    done.add(node)
        return self

    def dependencies(self, entity: str) -> list[str]:
        """What `entity` runs on, transitively, nearest first (each once)."""
        out: list[str] = []
        own = self.place(entity)
        frontier = list(own.depends_on) if own else []
        while frontier:
            name = frontier.pop(0)
            if name not in out:
                out.append(name)
                found = self.place(name)
                frontier.extend(found.depends_on if found else ())
        return out

    @classmethod
    def of(cls, config: Config) -> Self:
        """`config` seen as this feature's settings; TypeError when the feature is not in the composition."""
        if not isinstance(config, cls):
            raise TypeError(f"the configuration has no {cls.__name__}: is the feature in the composition root?")
        return config

    # Hooks a feature's settings extend cooperatively (call super() and add its own).
    def places(self) -> Iterator[Place]:
        """Every entity of the estate that has a place (the topology's switches, links and sites too)."""
        for d in self.topology:
            yield Place(id=d.id, source="topology", kind=d.kind, name=d.name, area=d.area, location=d.location,
                        depends_on=tuple(d.depends_on))

    def api_clients(self) -> tuple[Sequence[ApiKeyConfig], bool]:
        """Outside clients admitted by an api_key (Open311), and whether keyless reads are allowed."""
        return (), False

    def region(self) -> Bounds | None:
        """Where points of this site may be: `site.bounds`, else a box around the districts' polygons and
        centres (with their radius) and a margin of a quarter of a degree (about 28 km, for the districts a file
        leaves out); None when neither is set."""
        if self.site.bounds is not None:
            return self.site.bounds
        lats: list[float] = []
        longs: list[float] = []
        for area in self.areas:
            for p in area.polygon:
                lats.append(p.lat)
                longs.append(p.long)
            if area.center is not None:
                reach = area.radius_km / 111.0
                lats += [area.center.lat - reach, area.center.lat + reach]
                longs += [area.center.long - reach, area.center.long + reach]
        if not lats:
            return None
        margin = 0.25
        return Bounds(south=max(-90, min(lats) - margin), north=min(90, max(lats) + margin),
                      west=max(-180, min(longs) - margin), east=min(180, max(longs) + margin))

    def place(self, entity: str) -> Place | None:
        """The entity's place, if a feature lists it (computed once per configuration)."""
        cached = _PLACES.get(id(self))
        if cached is None or cached[0] is not self:
            cached = _PLACES[id(self)] = (self, {p.id: p for p in self.places()})
        return cached[1].get(entity)


_PLACES: dict[int, tuple[Config, dict[str, Place]]] = {}


_COMPOSED: type[Config] = Config


def compose(*settings: type[Config]) -> type[Config]:
    """The configuration class of a process: the kernel's sections and every feature's. `parse_config` and
    `load_config` validate against it from then on."""
    global _COMPOSED
    if not settings:
        _COMPOSED = Config
    else:
        _COMPOSED = create_model("Config", __base__=tuple(settings), __module__=__name__)
    return _COMPOSED


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{where}: {e['msg']}")
    return "; ".join(lines)


def parse_config(data: Any, *, origin: str = "config", env: Mapping[str, str] | None = None) -> Config:
    """Validate a mapping into Config, applying CC_KAFKA_BOOTSTRAP and CC_REDIS_URL from `env`."""
    if env is None:
        env = os.environ
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping, not {type(data).__name__}")
    data = dict(data)
    if env.get("CC_KAFKA_BOOTSTRAP"):
        data["kafka"] = {**(data.get("kafka") or {}), "bootstrap": env["CC_KAFKA_BOOTSTRAP"]}
    if env.get("CC_REDIS_URL"):
        data["redis"] = {**(data.get("redis") or {}), "url": env["CC_REDIS_URL"]}
    try:
        return _COMPOSED.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{origin}: {_describe(err)}") from err


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML configuration file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    return parse_config(data, origin=str(path), env=env)
