"""The aiohttp application: the route table of every feature, token-and-role auth, and the error shape."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from command_center.accounts.authn import Refused
from command_center.accounts.sessions import COOKIE
from command_center.api.auth import Principal, TokenAuth
from command_center.api.bodies import BODY_TIMEOUT, FORMS, read_bytes, read_form, read_json_object
from command_center.api.errors import STATUS_CODES, ApiError, error_response
from command_center.api.openapi import build_openapi
from command_center.api.routes import Endpoint, Routes
from command_center.api.validate import problems, query_problems
from command_center.errors import Unavailable
from command_center.runtime import metrics
from command_center.runtime.host import Runtime
from command_center.signing import SIGNATURE, TIMESTAMP, verify

logger = logging.getLogger(__name__)

RUNTIME = web.AppKey("runtime", Runtime)
ENDPOINTS = web.AppKey("endpoints", dict)
OPENAPI = web.AppKey("openapi", dict)
PRINCIPAL = web.RequestKey("principal", Principal)
MAX_BODY_KEY = web.AppKey("max_body", int)


def api_errors(request: web.Request, status: int, code: str, message: str) -> web.Response:
    return error_response(status, code, message)

MAX_BODY = 2 * 1024 * 1024


def runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def visible(request: web.Request, views: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The views (the read API's and the wall's shape) of entities in the principal's scope."""
    who = principal(request)
    return [v for v in views if who.sees_view(v)] if who.scoped else list(views)


def _endpoint(request: web.Request) -> Endpoint | None:
    route = request.match_info.route
    resource = route.resource
    if resource is None:
        return None
    return request.app[ENDPOINTS].get((route.method, resource.canonical))  # type: ignore[no-any-return]


def body_limit(request: web.Request, endpoint: Endpoint | None) -> int:
    limit = endpoint.max_body if endpoint is not None else None
    if callable(limit):
        return limit(request.app[RUNTIME].config)
    return limit or request.app[MAX_BODY_KEY]


@web.middleware
async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Authenticate, authorise, and answer every failure in the endpoint's error style; client errors are
    logged at info with the route and the reason, server errors at error with the traceback."""
    endpoint = _endpoint(request)
    style = (endpoint.error_style if endpoint else None) or api_errors

    def render(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
        route = endpoint.path if endpoint is not None else "(no route)"
        if status < 500:
            logger.info("client error", extra={"method": request.method, "route": route, "status": status,
                                               "reason": message})
        response = style(request, status, code, message)
        response.headers.update(headers or {})
        if request.body_exists and not request.content.is_eof():
            response.force_close()  # the rest of the body is not read: the connection cannot carry another request
        return response

    started = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if endpoint is not None and resource is not None else "(no route)"  # a template
    status = 500
    try:
        response = await _guarded(request, handler, endpoint, render)
        status = response.status
        return response
    except web.HTTPException as err:  # a redirect
        status = err.status
        raise
    finally:
        metrics.HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
        metrics.HTTP_SECONDS.labels(request.method, route).observe(time.perf_counter() - started)


async def _guarded(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                   endpoint: Endpoint | None, render: Callable[..., web.Response]) -> web.StreamResponse:
    try:
        limit = body_limit(request, endpoint)
        if request.content_length is not None and request.content_length > limit:
            raise ApiError(413, "too_large", f"the body is {request.content_length} bytes; this route takes at "
                                             f"most {limit}")
        if limit != request.client_max_size:
            request = request.clone(client_max_size=limit)
        if endpoint is not None and endpoint.api_key and not request.headers.get("Authorization") and \
                COOKIE not in request.cookies:  # a person signed in reads Open311 as themselves
            request[PRINCIPAL] = await _open311_client(request)
        elif endpoint is not None and endpoint.signed and SIGNATURE in request.headers:
            reason = verify(request.app[RUNTIME].config.webhook_secret, await read_bytes(request),
                            request.headers[SIGNATURE], request.headers.get(TIMESTAMP, ""))
            if reason:
                raise ApiError(401, "bad_signature", reason)
            request[PRINCIPAL] = Principal("signed-webhook", "ingest")
        elif endpoint is not None and not endpoint.public:
            request[PRINCIPAL] = await authorised(request, endpoint)
        if endpoint is not None and endpoint.params:
            wrong = query_problems(endpoint.params, request.query)
            if wrong:
                raise ApiError(400, "bad_request", "; ".join(wrong))
        return await handler(request)
    except ApiError as err:
        return render(err.status, err.code, err.message, err.headers)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        message = err.text if err.text and not err.text.startswith(str(err.status)) else err.reason
        headers = {"Allow": err.headers["Allow"]} if "Allow" in err.headers else None
        if isinstance(err, web.HTTPRequestEntityTooLarge):
            message = f"the body is larger than this route takes ({request.client_max_size} bytes at most)"
        return render(err.status, STATUS_CODES.get(err.status, "error"), message, headers)
    except Unavailable as err:
        logger.warning("request failed: dependency unavailable", extra={"path": request.path, "error": str(err)})
        return render(503, "unavailable", "a backing service is unavailable; try again shortly")
    except (ConnectionError, asyncio.CancelledError):
        raise
    except Exception:
        logger.exception("request failed", extra={"method": request.method, "path": request.path})
        return render(500, "internal", "the server failed to answer this request; it has been logged")


async def authorised(request: web.Request, endpoint: Endpoint) -> Principal:
    """The request's principal, if its role may call `endpoint` (and, signed in by the cookie, it carries the
    CSRF token where it changes something); ApiError otherwise."""
    auth = request.app[RUNTIME].auth
    try:
        who = await auth.principal(request.headers, request.cookies)
        if not TokenAuth.allows(who, endpoint.roles, request.method):
            raise Refused(403, "forbidden", f"role {who.role!r} may not {request.method} {request.path}")
        auth.check_csrf(who, request.method, request.headers)
    except Refused as err:
        raise ApiError(err.status, err.code, err.message) from None
    return who


async def checked_body(request: web.Request) -> dict[str, Any]:
    """The body as the route declares it (a JSON object, or a form where the route takes one): 422 (or the
    route's own `invalid_status`) naming every unknown, missing or wrong field."""
    endpoint = _endpoint(request)
    form = request.content_type in FORMS
    if form:
        body: dict[str, Any] = {k: str(v) for k, v in (await read_form(request)).items()}
    elif not request.body_exists:
        body = {}
    else:
        body = await read_json_object(request)
    schema = endpoint.body_schema(request.app[RUNTIME].config) if endpoint is not None else None
    if schema is not None:
        found = problems(schema, body, form=form)
        if found:
            status = endpoint.invalid_status if endpoint is not None else 422
            raise ApiError(status, "unprocessable" if status == 422 else "bad_request", "; ".join(found))
    return body


async def _open311_client(request: web.Request) -> Principal:
    """The Open311 client named by the api_key in the query or the form; 403 (as the spec says) otherwise."""
    rt = request.app[RUNTIME]
    key = request.query.get("api_key", "")
    if not key and request.method == "POST" and request.content_type in FORMS:
        key = str((await read_form(request)).get("api_key", ""))
    client = rt.tokens.open311_client(key) if key else None
    if client is not None:
        return client
    if request.method == "GET" and rt.config.api_clients()[1] and not key:
        return Principal("open311:public", "ingest")
    raise ApiError(403, "forbidden", "Invalid api_key received -- can't proceed" if key else
                   "an api_key (or a staff bearer token) is required")


def build_app(rt: Runtime, route_tables: Iterable[Routes], *, max_body: int = MAX_BODY) -> web.Application:
    """An application serving every endpoint of `route_tables`, with /openapi.json describing exactly those."""
    app = web.Application(middlewares=[guard], client_max_size=max_body)
    app[RUNTIME] = rt
    app[MAX_BODY_KEY] = max_body
    app[BODY_TIMEOUT] = rt.config.http.body_timeout_s
    endpoints: dict[tuple[str, str], Endpoint] = {}
    for table in route_tables:
        for setup in table.setups:
            setup(app)
        for ep in table.endpoints:
            route = app.router.add_route(ep.method, ep.path, ep.handler)
            endpoints[(ep.method, route.resource.canonical)] = ep  # type: ignore[union-attr]
    app[ENDPOINTS] = endpoints
    app[OPENAPI] = build_openapi(endpoints.values(), rt.config, title=f"command-center ({rt.config.site.name})",
                                 server_url=rt.config.site.public_url)
    return app
