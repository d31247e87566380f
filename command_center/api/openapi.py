"""The OpenAPI 3 document, built from the route table so it cannot drift from the routes served."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from command_center import __version__
from command_center.api.routes import Endpoint

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


def _operation(ep: Endpoint) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(ep.path)
    ]
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
    for status, text in ep.statuses.items():
        op["responses"][str(status)] = {"description": text}
    if ep.body is not None:
        op["requestBody"] = {"required": True, "content": {ep.body_type: {"schema": ep.body}}}
    if ep.public:
        op["security"] = []
    else:
        op["security"] = [{"bearer": []}] + ([{"queryToken": []}] if ep.query_token else []) + \
            ([{"signature": []}] if ep.signed else []) + ([{"open311Key": []}] if ep.api_key else [])
        op["x-roles"] = sorted(ep.roles | {"admin"})
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        op["responses"]["401"] = {"description": "no token, or a token that is not known", "content": error}
        op["responses"]["403"] = {"description": "the token's role may not call this", "content": error}
    return op


def build_openapi(endpoints: Iterable[Endpoint], *, title: str, server_url: str = "") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        paths.setdefault(openapi_path(ep.path), {})[ep.method.lower()] = _operation(ep)
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": __version__,
                 "description": "command-center: HTTP API, Open311 GeoReport v2, webhooks and the /ws hub."},
        "servers": [{"url": server_url}] if server_url else [],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a token with a role"},
                "queryToken": {"type": "apiKey", "in": "query", "name": "token"},
                "open311Key": {"type": "apiKey", "in": "query", "name": "api_key",
                               "description": "an Open311 client's api_key (a form field in POST requests)"},
                "signature": {"type": "apiKey", "in": "header", "name": "X-CC-Signature",
                              "description": "sha256=HMAC-SHA256(secret, X-CC-Timestamp + '.' + body), hex"},
            },
            "schemas": {"Error": ERROR_SCHEMA},
        },
    }
