"""The strict base model every configuration section uses, and shared field types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

EntityId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$", description="lower-case id")
]


class Section(BaseModel):
    """Unknown keys are refused and a loaded configuration never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


class Location(Section):
    lat: float = Field(ge=-90, le=90, description="latitude, WGS 84")
    long: float = Field(ge=-180, le=180, description="longitude, WGS 84")


def unique_ids(items: list, what: str) -> list:  # type: ignore[type-arg]
    """Refuse a list in which two items share an id."""
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f"duplicate {what} id {item.id!r}")
        seen.add(item.id)
    return items


T = TypeVar("T")
_BY_ID: dict[int, tuple[Sequence[Any], dict[str, Any]]] = {}


def by_id(items: Sequence[T]) -> dict[str, T]:
    """`items` indexed by their `id`, computed once per (immutable) configuration list."""
    cached = _BY_ID.get(id(items))
    if cached is None or cached[0] is not items:
        cached = (items, {item.id: item for item in items})  # type: ignore[attr-defined]
        _BY_ID[id(items)] = cached
    return cached[1]


C = TypeVar("C")
R = TypeVar("R")


def per_config(fn: Callable[[C], R]) -> Callable[[C], R]:
    """`fn(config)` computed once per (immutable) configuration: what a request needs of it is built once."""
    cache: dict[int, tuple[C, R]] = {}

    @wraps(fn)
    def cached(config: C) -> R:
        hit = cache.get(id(config))
        if hit is None or hit[0] is not config:
            hit = cache[id(config)] = (config, fn(config))
        return hit[1]

    return cached
