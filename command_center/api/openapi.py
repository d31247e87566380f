"""The OpenAPI 3 document, built from the route table so it cannot drift from the routes served."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from command_center import __version__
from command_center.api.routes import Endpoint
from command_center.api.validate import strict
from command_center.config import Config

_PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def openapi_path(path: str) -> str:
    """aiohttp's `{name:regex}` becomes OpenAPI's `{name}`."""
    return _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


_ENUM = re.compile(r"\(([\w|]+)\)")


def _path_params(path: str) -> list[dict[str, Any]]:
    """Each {name} of the path; a {name:(a|b)} is an enum of a and b."""
    out = []
    for m in re.finditer(r"\{(\w+)(?::([^}]*))?\}", path):
        choice = _ENUM.fullmatch(m.group(2) or "")
        schema = {"type": "string", "enum": choice.group(1).split("|")} if choice else \
            {"type": "string", "pattern": "^[A-Za-z0-9._~:-]{1,200}$"}  # ids, names and tokens here are all of these
        out.append({"name": m.group(1), "in": "path", "required": True, "schema": schema})
    return out


ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
# What the guard itself may answer, whatever the handler: documented on every operation it applies to
GUARD_STATUSES = {
    "params": {400: "a query parameter is not what it is declared to be (the message names it)"},
    "path": {404: "no such resource"},
    "body": {400: "the body is malformed (not JSON, nested too deep, a broken multipart form)",
             408: "the body did not arrive in time", 413: "the body is larger than this route takes",
             415: "the body's content type is not one this route reads",
             422: "a field is unknown, missing or of the wrong type (each is named)"},
    "all": {400: "the request line (the URL and its query) is too long", 431: "a request header is too long",
            503: "a backing service is unavailable, or the state that answers is being derived again from the log "
                 "(after Retry-After seconds): retry"},
}


def _operation(ep: Endpoint, config: Config | None) -> dict[str, Any]:
    params = _path_params(ep.path)
    params.extend(ep.params)
    op: dict[str, Any] = {
        "summary": ep.summary,
        "tags": [ep.tag],
        "operationId": f"{ep.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', openapi_path(ep.path)).strip('_')}",
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
    }
    if ep.response is not None:
        op["responses"]["200"]["content"] = {ep.response_type: {"schema": ep.response}}
    for media_type, what in ep.alternatives.items():
        content = op["responses"]["200"].setdefault("content", {ep.response_type: {}})
        content[media_type] = {"schema": {"type": "string", "format": "binary", "description": what}}
    if "{format:(json|xml)}" in ep.path:  # Open311: the same answer in XML for .xml
        content = op["responses"]["200"].setdefault("content", {ep.response_type: {}})
        content["text/xml"] = {"schema": {"type": "string", "description": "the same document in Open311's XML"}}
    guard: dict[int, str] = dict(GUARD_STATUSES["all"])
    if ep.params:
        guard.update(GUARD_STATUSES["params"])
    if "{" in ep.path:
        guard.update(GUARD_STATUSES["path"])
    body = ep.body_schema(config) if config is not None else (ep.body if isinstance(ep.body, dict) else None)
    if body is not None:
        guard.update(GUARD_STATUSES["body"])
        if ep.invalid_status != 422:  # Open311: a wrong field is a bad request, as GeoReport v2 answers it
            guard[ep.invalid_status] = f"{guard.pop(422)}; {guard.get(ep.invalid_status, '')}".rstrip("; ")
    for status, text in {**guard, **ep.statuses}.items():
        response: dict[str, Any] = {"description": text}
        if status >= 400 and ep.error_style is None:
            response["content"] = ERROR
        op["responses"][str(status)] = response
    if body is not None:
        op["requestBody"] = {"required": ep.body_required, "content": {ep.body_type: {"schema": strict(body)}}}
    if ep.public:
        op["security"] = []
    else:
        op["security"] = [{"bearer": []}, {"session": []}] + \
            ([{"signature": []}] if ep.signed else []) + ([{"open311Key": []}] if ep.api_key else [])
        op["x-roles"] = sorted(ep.roles | {"admin"} | ({"viewer"} if ep.method == "GET" and "operator" in ep.roles
                                                      else set()))
        error = ERROR if ep.error_style is None else None
        op["responses"]["401"] = {"description": "not signed in, or a token that is not valid (unknown, expired or "
                                                 "revoked)"} | ({"content": error} if error else {})
        op["responses"]["403"] = {"description": "the role may not call this, or (signed in by the session cookie) "
                                                 "the X-CSRF-Token header is missing"} | ({"content": error} if error else {})
    return op


def build_openapi(endpoints: Iterable[Endpoint], config: Config | None = None, *, title: str,
                  server_url: str = "") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        if ep.in_openapi:
            paths.setdefault(openapi_path(ep.path), {})[ep.method.lower()] = _operation(ep, config)
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": __version__,
                 "description": "command-center: HTTP API, Open311 GeoReport v2, webhooks and the /ws hub."},
        "servers": [{"url": server_url}] if server_url else [],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a token with a role"},
                "session": {"type": "apiKey", "in": "cookie", "name": "cc_session",
                            "description": "a person signed in (POST /api/session); changes also need X-CSRF-Token"},
                "open311Key": {"type": "apiKey", "in": "query", "name": "api_key",
                               "description": "an Open311 client's api_key (a form field in POST requests)"},
                "signature": {"type": "apiKey", "in": "header", "name": "X-CC-Signature",
                              "description": "sha256=HMAC-SHA256(secret, X-CC-Timestamp + '.' + body), hex"},
            },
            "schemas": {"Error": ERROR_SCHEMA},
        },
    }
