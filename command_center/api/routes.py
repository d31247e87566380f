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
    query_token: bool = False
    signed: bool = False  # an HMAC signature (signing.py) may stand in for a token, with the ingest role
    api_key: bool = False  # an Open311 api_key (query or form field) may stand in for a token
    error_style: ErrorStyle | None = None
    params: tuple[Schema, ...] = ()
    body: Schema | None = None
    body_type: str = "application/json"
    response: Schema | None = None
    response_type: str = "application/json"
    statuses: dict[int, str] = field(default_factory=dict)
    # the largest body this route reads (a photo route's is its photo limit); None: the API's default
    max_body: int | Callable[[Config], int] | None = None


class Routes:
    """A module's endpoints, collected by decorators and added to the app by build_app."""

    def __init__(self, tag: str, *, error_style: ErrorStyle | None = None) -> None:
        self.tag = tag
        self.error_style = error_style
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
                    roles=frozenset(roles), public=public, error_style=self.error_style, **options,
                )
            )
            return handler

        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)


def query_param(name: str, description: str, schema: Schema | None = None, required: bool = False) -> Schema:
    """A query parameter; an array schema is a comma-separated list (`style: form`, `explode: false`)."""
    param: Schema = {"name": name, "in": "query", "required": required, "description": description,
                     "schema": schema or {"type": "string"}}
    if param["schema"].get("type") == "array":
        param["schema"] = {k: v for k, v in param["schema"].items() if k not in ("style", "explode")}
        param.update(style="form", explode=False)
    return param
