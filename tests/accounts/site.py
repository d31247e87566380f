"""An API instance with accounts, against the tests' own Redis and PostgreSQL: as many as a test wants, sharing
both (as a deployment's instances do), and a browser-like client that keeps cookies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from command_center.api import ws
from command_center.api.app import build_app
from command_center.api.auth import demo_tokens
from command_center.bus import Bus, EmbeddedBus
from command_center.clock import Clock
from command_center.config import Config, parse_config
from command_center.config.sections import AccountsConfig, TokenConfig
from command_center.hub.core import Hub
from command_center.runtime.host import Runtime, open_runtime
from command_center.runtime.http import HttpServer
from command_center.store import Store
from command_center.testing.estates import complaint_estate
from command_center.testing.servers import free_port
from processors.composition import API_ROUTES, APP

ADMIN = {"Authorization": "Bearer demo-admin"}


@dataclass
class Site:
    url: str
    rt: Runtime
    hub: Hub | None = None

    def client(self, **headers: str) -> aiohttp.ClientSession:
        """A client that keeps cookies (for 127.0.0.1 too) and sends no redirect on by itself."""
        return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers)

    async def call(self, method: str, path: str, *, session: aiohttp.ClientSession | None = None,
                   **kw: Any) -> tuple[int, Any]:
        own = session is None
        session = session or self.client()
        try:
            async with session.request(method, self.url + path, allow_redirects=False, **kw) as r:
                body = await r.json(content_type=None) if r.status != 204 and r.content_type.endswith("json") else None
                return r.status, body
        finally:
            if own:
                await session.close()

    async def add_person(self, login: str, role: str, password: str = "kata-sandi-rahasia", **scopes: list[str]) -> None:
        status, body = await self.call("POST", "/api/users", headers=ADMIN, json={
            "login": login, "display_name": login.title(), "role": role, "password": password, **scopes})
        assert status == 201, body

    async def signed_in(self, login: str, password: str = "kata-sandi-rahasia") -> tuple[aiohttp.ClientSession, str]:
        """A client signed in as `login`, and the session's CSRF token."""
        client = self.client()
        status, body = await self.call("POST", "/api/session", session=client,
                                       json={"login": login, "password": password})
        assert status == 200, body
        return client, str(body["csrf_token"])


def site_config(accounts_url: str, port: int, estate: dict[str, Any] | None = None,
                tokens: list[TokenConfig] | None = None, **accounts: Any) -> Config:
    config = parse_config({**complaint_estate(), **(estate or {})}, env={})
    return config.model_copy(update={
        "tokens": [*demo_tokens(), *(tokens or [])], "accounts": AccountsConfig(url=accounts_url, **accounts),
        "site": config.site.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})})


@asynccontextmanager
async def api_site(accounts_url: str, store_url: str, *, clock: Clock | None = None, bus: Bus | None = None,
                   estate: dict[str, Any] | None = None, tokens: list[TokenConfig] | None = None,
                   with_hub: bool = False, **accounts: Any) -> AsyncIterator[Site]:
    """An API instance on a free port; `with_hub`: /ws too, on the same port (as the demo serves it)."""
    port = free_port()
    config = site_config(accounts_url, port, estate, tokens, **accounts)
    async with open_runtime(config, clock=clock, bus=bus or EmbeddedBus(), store=Store.open(store_url)) as rt:
        hub = Hub(config, APP.channels) if with_hub else None
        app = build_app(rt, (*API_ROUTES, ws.routes) if with_hub else API_ROUTES)
        if hub is not None:
            app[ws.HUB] = hub
        async with HttpServer(app, "127.0.0.1", port):
            yield Site(f"http://127.0.0.1:{port}", rt, hub)
            if hub is not None:
                await hub.shutdown()
