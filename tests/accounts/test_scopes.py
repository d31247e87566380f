"""Who may do what: the table below says, for every route and hub channel, which roles may use it. The cases are
generated from the application's own route table (a route that is not in this table fails the test: a new route
cannot be left out), and each is asked of the running API as every role, by a bearer token and by a person's
session; then the scopes inside a route: a district's account sees only its district's entities, in the API and
on the hub."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from yarl import URL

from command_center.api import ws
from command_center.api.auth import PEOPLE, ROLES, hash_token
from command_center.config.sections import TokenConfig
from command_center.hub.transports import hub_service
from command_center.views import ViewRecord
from processors.composition import API_ROUTES, APP
from tests.accounts.conftest import Backing
from tests.accounts.site import ADMIN, Site, api_site
from tests.helpers import bearer, eventually

PUBLIC = "public"
STAFF_READ = "admin operator oncall viewer"
EVERYONE = "admin operator oncall police agency viewer ingest"
OPEN311_READ = "admin operator oncall agency viewer ingest"
COMPLAINT_READ = "admin operator oncall agency viewer"
COMPLAINT_ACT = "admin operator oncall agency"
CAMERAS = "admin operator oncall police viewer"
ADMIN_ONLY = "admin"
MACHINES = "admin ingest"

# Every route, and the roles that may call it (admin may call everything; a viewer reads what an operator reads).
ACCESS: dict[str, str] = {
    "GET /healthz": PUBLIC, "GET /readyz": PUBLIC, "GET /metrics": PUBLIC, "GET /openapi.json": PUBLIC,
    "GET /": PUBLIC, "GET /wall/{layout}": PUBLIC, "GET /static/{name:.+}": PUBLIC, "GET /api/wall-config": PUBLIC,
    "GET /api/state": PUBLIC,
    "GET /api/whoami": EVERYONE,
    "POST /api/session": PUBLIC, "GET /api/session": EVERYONE, "DELETE /api/session": EVERYONE,
    "GET /api/people": "admin operator oncall agency viewer",
    "GET /auth/oidc/login": PUBLIC, "GET /auth/oidc/callback": PUBLIC, "GET /auth/demo": PUBLIC,
    "GET /api/users": ADMIN_ONLY, "POST /api/users": ADMIN_ONLY, "POST /api/users/{login}/disable": ADMIN_ONLY,
    "POST /api/users/{login}/enable": ADMIN_ONLY, "POST /api/users/{login}/reset": ADMIN_ONLY,
    "GET /api/tokens": ADMIN_ONLY, "POST /api/tokens": ADMIN_ONLY, "POST /api/tokens/{name}/revoke": ADMIN_ONLY,
    "GET /api/cameras": CAMERAS, "GET /api/cameras/{camera_id}": CAMERAS,
    "GET /api/cameras/{camera_id}/snapshot.jpg": CAMERAS, "GET /api/cameras/{camera_id}/live.mjpg": CAMERAS,
    "POST /api/cameras/{camera_id}/reference": "admin operator",
    "GET /api/apps": STAFF_READ, "GET /api/apps/{app_id}": STAFF_READ,
    "POST /webhooks/heartbeat/{app_id}": MACHINES,
    "GET /api/sensors": STAFF_READ, "GET /api/sensors/{sensor_id}": STAFF_READ, "POST /webhooks/sensors": MACHINES,
    "GET /open311/v2/discovery.{format:(json|xml)}": PUBLIC,
    "GET /open311/v2/services.{format:(json|xml)}": OPEN311_READ,
    "GET /open311/v2/services/{service_code}.{format:(json|xml)}": OPEN311_READ,
    "POST /open311/v2/requests.{format:(json|xml)}": "admin operator ingest",
    "GET /open311/v2/requests.{format:(json|xml)}": OPEN311_READ,
    "GET /open311/v2/requests/{service_request_id}.{format:(json|xml)}": OPEN311_READ,
    "GET /open311/v2/tokens/{token}.{format:(json|xml)}": OPEN311_READ,
    "GET /api/complaints": COMPLAINT_READ, "GET /api/complaints/stats": COMPLAINT_READ,
    "GET /api/complaints/{complaint_id}": COMPLAINT_READ, "GET /api/complaints/{complaint_id}/contact": ADMIN_ONLY,
    "POST /api/complaints/{complaint_id}/respond": COMPLAINT_ACT,
    "POST /api/complaints/{complaint_id}/feedback": COMPLAINT_ACT,
    "POST /api/complaints/{complaint_id}/close": COMPLAINT_ACT,
    "POST /api/complaints/{complaint_id}/reopen": COMPLAINT_ACT,
    "POST /api/complaints": "admin operator",
    "POST /webhooks/sms": MACHINES, "POST /webhooks/social": MACHINES,
    "GET /webhooks/whatsapp": PUBLIC, "POST /webhooks/whatsapp": PUBLIC,  # Meta's own signature
    "GET /media/{name}": PUBLIC, "GET /lapor/{token}": PUBLIC,  # a complaint's capability link
    "GET /api/incidents": STAFF_READ, "GET /api/incidents/{incident_id}": STAFF_READ,
    "POST /api/incidents/{incident_id}/ack": "admin operator oncall",
    "POST /api/incidents/{incident_id}/resolve": "admin operator oncall",
    "POST /api/incidents/{incident_id}/comment": "admin operator oncall",
    "GET /api/incidents/{incident_id}/pages": STAFF_READ,
    "GET /cap/alerts.xml": PUBLIC, "GET /cap/alerts/{incident_id}.xml": PUBLIC,  # public warnings
    "GET /ack/{token}": PUBLIC, "POST /ack/{token}": PUBLIC,  # a pushed link's own capability
    "POST /webhooks/upstream/{upstream_id}": PUBLIC,  # the upstream's own signature
    "GET /api/reports/complaints": COMPLAINT_READ, "GET /api/reports/complaints/top": COMPLAINT_READ,
    "GET /api/reports/complaints/districts": COMPLAINT_READ,
    "GET /api/reports/incidents": STAFF_READ, "GET /api/reports/uptime": STAFF_READ,
    "GET /api/reports/sensors": STAFF_READ, "GET /api/audit": ADMIN_ONLY,
    "GET /reports": PUBLIC, "GET /open-data/{dataset}.csv": PUBLIC, "GET /open-data/{dataset}.json": PUBLIC,
    "GET /open-data/": PUBLIC,
    "GET /ws": "admin operator oncall police agency viewer",
}
# Every hub channel, and the roles that may subscribe to it.
CHANNELS = {"cctv": CAMERAS, "health": STAFF_READ, "sensors": STAFF_READ, "incidents": STAFF_READ,
            "complaints": COMPLAINT_READ}

ESTATE = {"cameras": [
    {"id": "cam-depok", "name": "Simpang Depok", "url": "http://127.0.0.1:9/depok.jpg", "area": "depok"},
    {"id": "cam-mlati", "name": "Simpang Mlati", "url": "http://127.0.0.1:9/mlati.jpg", "area": "mlati"}]}
EXTRA_TOKENS = [TokenConfig(name="demo-agency", role="agency", agency="dlh", sha256=hash_token("demo-agency")),
                TokenConfig(name="demo-viewer", role="viewer", sha256=hash_token("demo-viewer"))]


def _routes() -> list[tuple[str, str]]:
    return [(e.method, e.path) for table in (*API_ROUTES, ws.routes) for e in table.endpoints]


def _concrete(path: str) -> str:
    """A path of the template with every parameter filled (with a name nothing has)."""
    path = re.sub(r"\{format:[^}]*\}", "json", path)
    return re.sub(r"\{[a-z_]+(:[^}]*)?\}", "nothing-here", path)


def test_every_route_and_channel_is_in_the_table() -> None:
    served = {f"{m} {p}" for m, p in _routes()}
    assert served - ACCESS.keys() == set(), "routes the access table does not say who may call"
    assert ACCESS.keys() - served == set(), "routes in the access table that are not served"
    assert set(APP.channels) == set(CHANNELS)
    for key, roles in ACCESS.items():
        assert roles == PUBLIC or set(roles.split()) <= set(ROLES), key


async def _ask(site: Site, method: str, path: str, headers: dict[str, str], client: Any = None) -> tuple[int, Any]:
    kw: dict[str, Any] = {"headers": headers}
    if method == "POST":
        kw["json"] = {}
    return await site.call(method, _concrete(path), session=client, **kw)


def _forbidden(body: Any) -> bool:
    """The refusal of a role, in the API's error shape or Open311's."""
    if isinstance(body, dict):
        return bool(body.get("error", {}).get("code") == "forbidden")
    return isinstance(body, list) and "may not" in str(body[0].get("description", ""))


async def _check_routes(site: Site, role: str, headers: dict[str, str], client: Any = None) -> list[str]:
    wrong = []
    cases = sorted(((m, p) for m, p in _routes() if ACCESS[f"{m} {p}"] != PUBLIC),
                   key=lambda mp: mp == ("DELETE", "/api/session"))  # signing out last
    for method, path in cases:
        allowed = role in ACCESS[f"{method} {path}"].split()
        status, body = await _ask(site, method, path, headers, client)
        if allowed and status in (401, 403):
            wrong.append(f"{role} refused {method} {path}: {status} {body}")
        if not allowed and not (status == 403 and _forbidden(body)):
            wrong.append(f"{role} not refused {method} {path}: {status} {body}")
    return wrong


async def test_each_role_by_token_answers_exactly_what_the_table_says(backing: Backing) -> None:
    async with api_site(backing.accounts_url, backing.store_url, estate=ESTATE, tokens=EXTRA_TOKENS,
                        with_hub=True) as site:
        wrong = []
        for role in ROLES:
            wrong += await _check_routes(site, role, bearer(f"demo-{role}"))
        for method, path in _routes():  # and nobody signed in: 401 wherever a role is named
            if ACCESS[f"{method} {path}"] != PUBLIC:
                status, _ = await _ask(site, method, path, {})
                if status != 401 and not (path.startswith("/open311/") and status == 403):  # Open311: no api_key
                    wrong.append(f"anonymous {method} {path}: {status}")
        assert not wrong, "\n".join(wrong)


async def test_each_person_signed_in_answers_exactly_what_the_table_says(backing: Backing) -> None:
    async with api_site(backing.accounts_url, backing.store_url, estate=ESTATE, with_hub=True) as site:
        wrong = []
        for role in PEOPLE:
            await site.add_person(f"p-{role}", role, agencies=["dlh"] if role == "agency" else [])
            client, csrf = await site.signed_in(f"p-{role}")
            wrong += await _check_routes(site, role, {"X-CSRF-Token": csrf, "Origin": site.url}, client)
            await client.close()
        assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("channel", sorted(CHANNELS))
async def test_each_role_may_subscribe_to_exactly_the_channels_the_table_says(backing: Backing, channel: str) -> None:
    async with api_site(backing.accounts_url, backing.store_url, estate=ESTATE, tokens=EXTRA_TOKENS,
                        with_hub=True) as site:
        for role in ROLES:
            url = site.url.replace("http", "ws") + "/ws"
            if role == "ingest":  # no channel at all: refused at the handshake
                assert (await site.call("GET", "/ws", headers=bearer("demo-ingest")))[0] == 403
                continue
            async with connect(url, additional_headers=bearer(f"demo-{role}")) as sock:
                await sock.send(json.dumps({"type": "subscribe", "channels": [channel]}))
                try:
                    answer = json.loads(await sock.recv())
                except ConnectionClosed as closed:
                    answer = {"closed": closed.rcvd.code if closed.rcvd else None}
            expected = {"type": "snapshot"} if role in CHANNELS[channel].split() else {"closed": 4403}
            assert {k: answer.get(k) for k in expected} == expected, (role, channel, answer)


async def test_a_districts_account_sees_only_its_districts_entities(backing: Backing) -> None:
    async with api_site(backing.accounts_url, backing.store_url, estate=ESTATE, with_hub=True) as site:
        await site.add_person("kapanewon-depok", "operator", areas=["depok"])
        client, _ = await site.signed_in("kapanewon-depok")
        status, body = await site.call("GET", "/api/cameras", session=client)
        assert status == 200 and [c["id"] for c in body["cameras"]] == ["cam-depok"]
        assert (await site.call("GET", "/api/cameras/cam-mlati", session=client))[0] == 404
        assert (await site.call("GET", "/api/cameras/cam-mlati/snapshot.jpg", session=client))[0] == 404
        everyone = (await site.call("GET", "/api/cameras", headers=bearer("demo-operator")))[1]
        assert [c["id"] for c in everyone["cameras"]] == ["cam-depok", "cam-mlati"]

        # the hub: views of both districts arrive; the district's account is sent its own only
        assert site.hub is not None
        sid = client.cookie_jar.filter_cookies(URL(site.url))["cc_session"].value
        origin = {"Origin": site.url, "Cookie": f"cc_session={sid}"}
        async with connect(site.url.replace("http", "ws") + "/ws", additional_headers=origin) as mine, \
                connect(site.url.replace("http", "ws") + "/ws", additional_headers=bearer("demo-operator")) as all_:
            for sock in (mine, all_):
                await sock.send(json.dumps({"type": "subscribe", "channels": ["complaints"]}))
                assert json.loads(await sock.recv())["type"] == "snapshot"
            for n, area in enumerate(["mlati", "depok", "mlati", ""]):
                site.hub.update(ViewRecord(channel="complaints", entity=f"c-{n}", at=float(n), view={
                    "id": f"c-{n}", "name": "Jalan rusak", "status": "open", "area": area, "agency": "dpupkp"}))
            seen_all = [json.loads(await all_.recv())["entity"] for _ in range(4)]
            seen_mine = [json.loads(await mine.recv())["entity"]]
            await mine.send(json.dumps({"type": "ping"}))
            reply = json.loads(await mine.recv())  # the next thing it is sent is the pong: nothing of Mlati
        assert seen_all == ["c-0", "c-1", "c-2", "c-3"] and seen_mine == ["c-1"] and reply["type"] == "pong"
        await client.close()


async def test_the_hub_refuses_a_session_from_another_sites_page(backing: Backing) -> None:
    async with api_site(backing.accounts_url, backing.store_url, with_hub=True) as site:
        await site.add_person("fajar", "operator")
        client, _ = await site.signed_in("fajar")
        sid = client.cookie_jar.filter_cookies(URL(site.url))["cc_session"].value
        url = site.url.replace("http", "ws") + "/ws"
        for origin in ("https://evil.example", None):
            headers = {"Cookie": f"cc_session={sid}", **({"Origin": origin} if origin else {})}
            status, body = await site.call("GET", "/ws", headers={**headers, "Connection": "Upgrade",
                                                                   "Upgrade": "websocket",
                                                                   "Sec-WebSocket-Version": "13",
                                                                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
            assert status == 403 and body["error"]["code"] == "bad_origin", (origin, body)
        async with connect(url, additional_headers={"Cookie": f"cc_session={sid}", "Origin": site.url}) as sock:
            await sock.send(json.dumps({"type": "subscribe", "channels": ["incidents"]}))
            assert json.loads(await sock.recv())["type"] == "snapshot"
        # the hub service on its own port (production) takes the same cookie from the site's pages, and only those
        async with hub_service(site.rt, APP.channels) as hub:
            hub_url = f"ws://127.0.0.1:{hub.port}/ws"  # type: ignore[attr-defined]
            async with connect(hub_url, additional_headers={"Cookie": f"cc_session={sid}", "Origin": site.url}) as sock:
                await sock.send(json.dumps({"type": "subscribe", "channels": ["incidents"]}))
                assert json.loads(await sock.recv())["type"] == "snapshot"
            with pytest.raises(InvalidStatus) as refused:
                await connect(hub_url, additional_headers={"Cookie": f"cc_session={sid}", "Origin": "https://evil.example"})
            assert refused.value.response.status_code == 403
        await client.close()

        async def signed_out() -> bool:  # a sign-out ends the hub's next handshake too
            return (await site.call("GET", "/ws", headers={"Cookie": f"cc_session={sid}"}))[0] == 401
        assert (await site.call("POST", "/api/users/fajar/disable", headers=ADMIN))[0] == 200
        await eventually(signed_out, within=1.0)
