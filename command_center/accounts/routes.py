"""Signing in and out (a password, single sign-on, the demo's link), and the administration of people and named
API tokens. Every change to a person or a token leaves an audit event naming who made it."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from command_center.accounts.directory import MIN_PASSWORD, AccountError, Directory, User
from command_center.accounts.oidc import OIDC, OidcError
from command_center.accounts.sessions import COOKIE, Sessions
from command_center.api.app import RUNTIME, checked_body, principal, runtime
from command_center.api.auth import PEOPLE, ROLES, STAFF, Principal
from command_center.api.errors import ApiError, not_found
from command_center.api.routes import VISIBLE, Routes, query_param
from command_center.bus import Message
from command_center.config import Config
from command_center.events import encode, new_event
from command_center.events.types import AuditAction
from command_center.topics import AUDIT

routes = Routes("accounts")
DEMO_LOGIN = "operator"

LOGIN = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"}


def _ids(known: list[str]) -> dict[str, Any]:
    """A list of the site's own ids (its agencies, its districts): no other is a scope."""
    if not known:
        return {"type": "array", "maxItems": 0, "items": {"type": "string"}}
    return {"type": "array", "items": {"type": "string", "enum": known}, "maxItems": len(known),
            "uniqueItems": True}


def _with_scopes(schema: dict[str, Any]) -> Callable[[Config], dict[str, Any]]:
    def body(config: Config) -> dict[str, Any]:
        return {**schema, "properties": {**schema["properties"], "agencies": _ids([a.id for a in config.agencies]),
                                         "areas": _ids([a.id for a in config.areas])}}
    return body

PASSWORD = {"type": "string", "minLength": MIN_PASSWORD, "maxLength": 1024}
SIGN_IN = {"type": "object", "required": ["login", "password"], "additionalProperties": False, "properties": {
    "login": {"type": "string", "minLength": 1, "maxLength": 100},
    "password": {"type": "string", "minLength": 1, "maxLength": 1024}}}
NEW_USER = {"type": "object", "required": ["login", "display_name", "role"], "additionalProperties": False,
            "properties": {"login": LOGIN,
                           "display_name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": VISIBLE},
                           "role": {"type": "string", "enum": list(PEOPLE)}, "password": PASSWORD}}
RESET = {"type": "object", "additionalProperties": False, "properties": {"password": PASSWORD}}
NEW_TOKEN = {"type": "object", "required": ["name", "role"], "additionalProperties": False, "properties": {
    "name": LOGIN, "role": {"type": "string", "enum": list(ROLES)},
    "expires_days": {"type": "integer", "minimum": 1, "maximum": 3650,
                     "description": "days until it is refused; none: until revoked"}}}
SESSION = {"type": "object", "properties": {
    "login": {"type": "string"}, "display_name": {"type": "string"}, "role": {"type": "string"},
    "agencies": {"type": "array", "items": {"type": "string"}}, "areas": {"type": "array", "items": {"type": "string"}},
    "csrf_token": {"type": "string", "description": "send it as X-CSRF-Token with every change"}}}
NEEDS_ACCOUNTS = {404: "this site has no accounts (accounts.url is not set)"}


def _directory(request: web.Request) -> Directory:
    rt = runtime(request)
    if rt.directory is None:
        raise not_found("accounts (this site signs in with tokens only: accounts.url is not set), so the page was")
    return rt.directory


def _sessions(request: web.Request) -> Sessions:
    rt = runtime(request)
    _directory(request)
    assert rt.sessions is not None
    return rt.sessions


def _secure(request: web.Request) -> bool:
    flag = runtime(request).config.accounts.secure_cookie
    if flag is not None:
        return flag
    return runtime(request).config.site.public_url.startswith("https://") or \
        request.headers.get("X-Forwarded-Proto", "") == "https"


def _who(user: User, csrf: str) -> dict[str, Any]:
    return {"login": user.login, "display_name": user.display_name, "role": user.role,
            "agencies": list(user.agencies), "areas": list(user.areas), "csrf_token": csrf}


async def signed_in(request: web.Request, user: User, via: str) -> tuple[str, str]:
    """Start a session for `user`: (the cookie's value, the session's CSRF token)."""
    sid, record = await _sessions(request).start(user.login, via)
    await audit(request, Principal(user.login, user.role, display=user.display_name),  # type: ignore[arg-type]
                "signed_in", "user", user.login, via)
    return sid, record.csrf


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def with_cookie(request: web.Request, response: web.Response, sid: str) -> web.Response:
    """HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Secure behind TLS."""
    response.set_cookie(COOKIE, sid, httponly=True, samesite="Strict", secure=_secure(request), path="/")
    return response


async def audit(request: web.Request, who: Principal, action: str, kind: str, target: str, detail: str = "") -> None:
    rt = runtime(request)
    event = new_event("id.go.cc.audit.action", source="/api/accounts", subject=target, time=rt.clock.now(),
                      data=AuditAction(actor=who.name, role=who.role, action=action, target_kind=kind,
                                       target_id=target, detail=detail[:200]))
    await rt.bus.publish([Message(AUDIT, event.key, encode(event))])


def _address(request: web.Request) -> str:
    return request.remote or "unknown"


@routes.post("/api/session", public=True, summary="Sign in with a login and a password: sets the session cookie",
             body=SIGN_IN, response=SESSION, statuses={
                 200: "signed in: the cookie is set; the body has the CSRF token",
                 401: "the login or the password is wrong", 404: NEEDS_ACCOUNTS[404],
                 429: "too many failed sign-ins for this account or address: try again after Retry-After seconds"})
async def sign_in(request: web.Request) -> web.Response:
    directory, sessions = _directory(request), _sessions(request)
    body = await checked_body(request)
    login, address = str(body["login"]).strip(), _address(request)
    locked = await sessions.locked(login, address)
    if locked is not None:
        minutes = max(1, round(locked.retry_after / 60))
        whose = "this account" if locked.reason == "account" else "this address"
        message = f"too many failed sign-ins for {whose}; try again in {minutes} minute{'s' if minutes != 1 else ''}"
        return web.json_response({"error": {"code": "locked", "message": message}}, status=429,
                                 headers={"Retry-After": str(max(1, round(locked.retry_after)))})
    user = await directory.verify(login, str(body["password"]))
    if user is None:
        await sessions.failed(login, address)
        raise ApiError(401, "unauthorized", "the login or the password is wrong")
    await sessions.succeeded(login)
    sid, csrf = await signed_in(request, user, "password")
    return with_cookie(request, web.json_response(_who(user, csrf)), sid)


@routes.get("/api/session", roles=ROLES, response=SESSION,
            summary="Who is signed in (or whose token this is), with the session's CSRF token")
async def session(request: web.Request) -> web.Response:
    who = principal(request)
    return web.json_response({"login": who.name, "display_name": who.display or who.name, "role": who.role,
                              "agencies": sorted(who.agencies), "areas": sorted(who.areas), "csrf_token": who.csrf})


@routes.delete("/api/session", roles=ROLES, summary="Sign out: the session ends on every instance at once",
               statuses={204: "signed out"})
async def sign_out(request: web.Request) -> web.Response:
    who = principal(request)
    response = web.Response(status=204)
    if who.session:
        await _sessions(request).end(who.session)
        await audit(request, who, "signed_out", "user", who.name)
    response.del_cookie(COOKIE, path="/")
    return response


@routes.get("/api/people", roles=(*STAFF, "agency"), summary="The display names of people, by login (for the "
            "names in timelines and the audit trail)", statuses=NEEDS_ACCOUNTS)
async def people(request: web.Request) -> web.Response:
    return web.json_response({u.login: u.display_name for u in await _directory(request).users()})


# --- single sign-on --------------------------------------------------------------------------------------

def _next(request: web.Request) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    target = request.query.get("next", "/")
    parts = urlsplit(target)
    return target if target.startswith("/") and not target.startswith("//") and not parts.netloc and \
        "\\" not in target else "/"


@routes.get("/auth/oidc/login", public=True, summary="Sign in with the site's OpenID provider (a redirect)",
            params=(query_param("next", "a path of this site to return to"),),
            statuses={302: "to the provider", 404: "no single sign-on configured", 503: "the provider is unreachable"})
async def oidc_login(request: web.Request) -> web.Response:
    oidc = _oidc(request)
    location, state = await oidc.begin(_next(request))
    response = redirect(location)
    response.set_cookie("cc_oidc", state, httponly=True, samesite="Lax", secure=_secure(request), path="/auth/oidc",
                        max_age=600)
    return response


@routes.get("/auth/oidc/callback", public=True, summary="Where the OpenID provider returns (a redirect)",
            params=(query_param("code", "the authorization code"), query_param("state", "the sign-in's state"),
                    query_param("error", "the provider's error"),
                    query_param("error_description", "the provider's words")),
            statuses={302: "signed in: to the page it began on", 400: "a state that is not this browser's",
                      401: "the provider's answer is not valid, or the person maps to no role",
                      403: "the account is disabled here", 404: "no single sign-on configured"})
async def oidc_callback(request: web.Request) -> web.Response:
    oidc = _oidc(request)
    q = request.query
    if q.get("error"):
        raise ApiError(401, "sso_refused", f"the provider refused: {q.get('error', '')[:60]} "
                                           f"{q.get('error_description', '')[:200]}".strip())
    state = q.get("state", "")
    if not state or not secrets.compare_digest(state.encode(), request.cookies.get("cc_oidc", "").encode()):
        raise ApiError(400, "bad_state", "this sign-in did not begin in this browser (or took over ten minutes); "
                                         "begin again")
    try:
        person = await oidc.finish(state, q.get("code", ""))
    except OidcError as err:
        raise ApiError(401, "sso_refused", str(err)) from None
    user = await _directory(request).signed_in_by_sso(person.login, person.display_name, person.role,
                                                      person.agencies, person.areas)
    if user is None:
        raise ApiError(403, "disabled", f"the account {person.login!r} is disabled here")
    sid, _ = await signed_in(request, user, "oidc")
    response = redirect(person.next)
    response.del_cookie("cc_oidc", path="/auth/oidc")
    return with_cookie(request, response, sid)


def _oidc(request: web.Request) -> OIDC:
    oidc = request.app.get(OIDC_KEY)
    if oidc is None:
        raise not_found("single sign-on (accounts.oidc.issuer is not set)")
    _directory(request)
    return oidc


OIDC_KEY = web.AppKey("oidc", OIDC)


@routes.on_build
def _setup(app: web.Application) -> None:
    rt = app[RUNTIME]
    if rt.config.accounts.oidc.issuer and rt.directory is not None:
        oidc = OIDC(rt.config.accounts.oidc, rt.store, redirect_url=rt.config.site.public_url.rstrip("/")
                    + "/auth/oidc/callback")
        app[OIDC_KEY] = oidc

        async def close(_: web.Application) -> None:
            await oidc.close()

        app.on_cleanup.append(close)


@routes.get("/auth/demo", public=True, summary="The demo's one-click sign-in (the link it prints); 404 elsewhere",
            params=(query_param("key", "the key the demo printed"),), statuses={302: "signed in", 404: "not the demo"})
async def demo_sign_in(request: web.Request) -> web.Response:
    key = runtime(request).config.accounts.demo_key
    if not key or not secrets.compare_digest(request.query.get("key", "").encode(), key.encode()):
        raise not_found("page")
    user = await _directory(request).user(DEMO_LOGIN, fresh=True)
    if user is None:
        raise not_found("the demo's operator")
    sid, _ = await signed_in(request, user, "demo")
    return with_cookie(request, redirect("/"), sid)


# --- administration ------------------------------------------------------------------------------------------

@routes.get("/api/users", roles=("admin",), summary="Every person who may sign in", statuses=NEEDS_ACCOUNTS)
async def list_users(request: web.Request) -> web.Response:
    return web.json_response([u.public() for u in await _directory(request).users()])


@routes.post("/api/users", roles=("admin",), summary="Add a person (a password is generated when none is given, "
             "and shown once)", body=_with_scopes(NEW_USER), statuses={201: "added", 409: "the login is taken", **NEEDS_ACCOUNTS})
async def add_user(request: web.Request) -> web.Response:
    body = await checked_body(request)
    password = body.get("password") or generated_password()
    try:
        user = await _directory(request).add_user(body["login"], body["display_name"], body["role"],
                                                  password=password, agencies=body.get("agencies", ()),
                                                  areas=body.get("areas", ()))
    except AccountError as err:
        raise ApiError(409, "conflict", str(err)) from None
    await audit(request, principal(request), "user_added", "user", user.login, f"role {user.role}")
    return web.json_response({**user.public(), **({} if "password" in body else {"password": password})}, status=201)


def generated_password() -> str:
    return secrets.token_urlsafe(15)


@routes.post("/api/users/{login}/disable", roles=("admin",), summary="Disable a person: their sessions end",
             statuses={200: "disabled", 404: "no such person"})
async def disable_user(request: web.Request) -> web.Response:
    return web.json_response((await _change(request, "user_disabled", disabled=True)).public())


@routes.post("/api/users/{login}/enable", roles=("admin",), summary="Let a disabled person sign in again",
             statuses={200: "enabled", 404: "no such person"})
async def enable_user(request: web.Request) -> web.Response:
    return web.json_response((await _change(request, "user_enabled", disabled=False)).public())


@routes.post("/api/users/{login}/reset", roles=("admin",), body=RESET, body_required=False,
             summary="Set a new password (generated and shown once when none is given)",
             statuses={200: "the password is set", 404: "no such person"})
async def reset_user(request: web.Request) -> web.Response:
    body = await checked_body(request)
    password = body.get("password") or generated_password()
    user = await _change(request, "password_reset", password=password)
    return web.json_response({**user.public(), **({} if "password" in body else {"password": password})})


async def _change(request: web.Request, action: str, **values: Any) -> User:
    login = request.match_info["login"]
    try:
        user = await _directory(request).change_user(login, **values)
    except AccountError as err:
        raise not_found(f"person {login[:100]!r}") from err
    await audit(request, principal(request), action, "user", login)
    return user


@routes.get("/api/tokens", roles=("admin",), summary="Named API tokens (never the tokens themselves)",
            statuses=NEEDS_ACCOUNTS)
async def list_tokens(request: web.Request) -> web.Response:
    return web.json_response([t.public() for t in await _directory(request).tokens()])


@routes.post("/api/tokens", roles=("admin",), body=_with_scopes(NEW_TOKEN),
             summary="Create a named API token for an integration: the token is shown in this answer only",
             statuses={201: "created", 409: "the name is taken", **NEEDS_ACCOUNTS})
async def create_token(request: web.Request) -> web.Response:
    body = await checked_body(request)
    who = principal(request)
    days = body.get("expires_days")
    try:
        plain, token = await _directory(request).create_token(
            body["name"], body["role"], by=who.name, expires_in=timedelta(days=days) if days else None,
            agencies=body.get("agencies", ()), areas=body.get("areas", ()))
    except AccountError as err:
        raise ApiError(409, "conflict", str(err)) from None
    await audit(request, who, "token_created", "token", token.name, f"role {token.role}")
    return web.json_response({**token.public(), "token": plain}, status=201)


@routes.post("/api/tokens/{name}/revoke", roles=("admin",), summary="Revoke a token: refused everywhere within "
             "a second", statuses={200: "revoked", 404: "no such token", 409: "already revoked"})
async def revoke_token(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    try:
        token = await _directory(request).revoke(name)
    except AccountError as err:
        raise (not_found(f"token {name[:100]!r}") if "no token" in str(err) else ApiError(409, "conflict", str(err))) from None
    await audit(request, principal(request), "token_revoked", "token", name)
    return web.json_response(token.public())
