"""The route table: each endpoint declares its method, path, roles and OpenAPI description in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from command_center.config import Config

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# How an endpoint answers an error: (request, status, code, message) -> response; None: {"error": {...}}
ErrorStyle = Callable[[web.Request, int, str, str], web.Response]
Schema = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    roles: frozenset[str] = frozenset()
    public: bool = False
    signed: bool = False  # an HMAC signature (signing.py) may stand in for a token, with the ingest role
    api_key: bool = False  # an Open311 api_key (query or form field) may stand in for a token
    error_style: ErrorStyle | None = None
    invalid_status: int = 422  # what a body with a missing, unknown or wrong field answers (Open311: 400)
    params: tuple[Schema, ...] = ()
    body: Schema | Callable[[Config], Schema] | None = None  # a function of the site's configuration where it
    # depends on it (its region's bounds, its sensors): validation and /openapi.json use the same one
    body_required: bool = True
    in_openapi: bool = True  # /ws is a websocket: DESIGN.md describes its protocol, OpenAPI 3.0 cannot
    body_type: str = "application/json"
    response: Schema | None = None
    response_type: str = "application/json"
    # the same answer in other media types (a report as CSV or XLSX), by type: what it is
    alternatives: dict[str, str] = field(default_factory=dict)
    statuses: dict[int, str] = field(default_factory=dict)
    def body_schema(self, config: Config) -> Schema | None:
        return self.body(config) if callable(self.body) else self.body

    # the largest body this route reads (a photo route's is its photo limit); None: the API's default
    max_body: int | Callable[[Config], int] | None = None


class Routes:
    """A module's endpoints, collected by decorators and added to the app by build_app."""

    def __init__(self, tag: str, *, error_style: ErrorStyle | None = None, invalid_status: int = 422) -> None:
        self.tag = tag
        self.error_style = error_style
        self.invalid_status = invalid_status
        self.endpoints: list[Endpoint] = []
        self.setups: list[Callable[[web.Application], None]] = []

    def on_build(self, setup: Callable[[web.Application], None]) -> Callable[[web.Application], None]:
        """Run `setup(app)` when an application with these routes is built (to keep per-app helpers)."""
        self.setups.append(setup)
        return setup

    def route(
        self, method: str, path: str, *, summary: str, roles: Iterable[str] = (), public: bool = False,
        **options: Any,
    ) -> Callable[[Handler], Handler]:
        if not public and not roles:
            raise ValueError(f"{method} {path}: name the roles that may call it, or mark it public")

        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method, path=path, handler=handler, summary=summary, tag=self.tag,
                    roles=frozenset(roles), public=public, error_style=self.error_style,
                    invalid_status=self.invalid_status, **options,
                )
            )
            return handler

        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)


def query_param(name: str, description: str, schema: Schema | None = None, required: bool = False) -> Schema:
    """A query parameter; an array schema is a comma-separated list (`style: form`, `explode: false`)."""
    param: Schema = {"name": name, "in": "query", "required": required, "description": description,
                     "schema": schema or {"type": "string"}}
    if param["schema"].get("type") == "array":
        param["schema"] = {k: v for k, v in param["schema"].items() if k not in ("style", "explode")}
        param.update(style="form", explode=False)
    return param


def coordinates(config: Config) -> dict[str, Schema]:
    """`lat` and `long` as a site takes them: WGS 84 degrees inside its region (when it has one)."""
    region = config.region()
    south, north, west, east = (region.south, region.north, region.west, region.east) if region else (-90, 90, -180, 180)
    where = f" inside {config.site.name}" if region else ""
    return {"lat": {"type": "number", "minimum": south, "maximum": north, "description": f"WGS 84 latitude{where}"},
            "long": {"type": "number", "minimum": west, "maximum": east, "description": f"WGS 84 longitude{where}"}}



def variants(properties: dict[str, Schema], required: list[str],
             alternatives: list[tuple[dict[str, Schema], list[str]]]) -> Schema:
    """An object that is one of several whole shapes: the common `properties` and `required`, each with its own
    extra properties and required fields. Whole shapes (no allOf, no not) are what generators of test data
    and people reading the document both follow."""
    return {"anyOf": [{"type": "object", "required": [*required, *more],
                       "properties": {**properties, **extra}} for extra, more in alternatives]}

# text that says something: at least one character that is neither white space nor a control character
VISIBLE = r"[^\s\x00-\x1f\x7f]"
