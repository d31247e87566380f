"""The reports page in headless Debian Chromium over an archive with half a year of history (SQLite, the embedded
default's database): signed in with a password, it draws every report, the map shades each district, a CSV
downloaded from the page is the API's, no request leaves the site, and a screenshot goes under test-artifacts/."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from command_center.accounts.feature import add_demo_people
from command_center.api.app import build_app
from command_center.bus import EmbeddedBus
from command_center.clock import ManualClock
from command_center.config import Config
from command_center.config.sections import AccountsConfig
from command_center.events import Event, new_event
from command_center.runtime.host import open_runtime
from command_center.runtime.http import HttpServer
from command_center.sql import open_engine
from command_center.store import MEMORY_URL, Store
from processors.archive.db import upgrade
from processors.archive.writer import Archive
from processors.composition import API_ROUTES
from processors.health.events import CheckResult
from processors.incidents.events import IncidentState, TimelineEntry
from processors.sensors.events import SensorReading
from tests.archive.lifecycle import archive_estate, lifecycles, routed
from tests.browser.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.browser
NOW = datetime(2026, 7, 20, 3, 0, tzinfo=UTC)
START = datetime(2026, 2, 1, tzinfo=UTC)


def _estate(url: str) -> Config:
    return archive_estate(url, apps=[
        {"id": app, "name": name, "uptime_target_pct": 99.0,
         "checks": [{"id": "web", "kind": "http", "target": f"https://{app}.slemankab.go.id/"}]}
        for app, name in (("lpse", "LPSE"), ("sipd", "SIPD"))])


def _history(config: Config) -> list[Event]:
    rng = random.Random(5)
    receipts, _, later = lifecycles(config, 900, START, spread_days=165, seed=11)
    agency = {"jalan-rusak": "dpupkp", "sampah": "dlh"}
    events = [*receipts, *(routed(r, agency.get(r.data.service_code, "diskominfo"), area=("depok", "mlati")[i % 3 == 0])
                           for i, r in enumerate(receipts)), *later]
    for i in range(60):
        opened = START + timedelta(days=i * 2.7)
        acked = opened + timedelta(minutes=rng.expovariate(1 / 12))
        resolved = acked + timedelta(hours=rng.expovariate(1 / 3))
        source = ("cctv", "health", "sensors")[i % 3]
        state = IncidentState(id=f"inc-{i}", dedup_key=f"{source}-{i}", title=f"Insiden {i}", severity="major",
                              status="resolved", source=source, kind="down", area="depok", opened_at=opened,
                              updated_at=resolved, acknowledged=True, resolved_at=resolved, acknowledged_by="Budi",
                              timeline=[TimelineEntry(at=opened, kind="opened"),
                                        TimelineEntry(at=acked, kind="acknowledged", actor="Budi"),
                                        TimelineEntry(at=resolved, kind="resolved", actor="Budi")])
        events.append(new_event("id.go.cc.incident.resolved", source="/tests", subject=state.id, time=resolved,
                                data=state))
    for minute in range(0, 165 * 24 * 60, 30):  # a river gauge every half hour, higher in the rains
        at = START + timedelta(minutes=minute)
        day = minute / 1440
        level = 80 + 60 * math.sin(day / 165 * math.pi) + 15 * math.sin(day * 2 * math.pi) + rng.random() * 5
        events.append(new_event("id.go.cc.sensor.reading", source="/tests", subject="awlr-code", time=at,
                                data=SensorReading(sensor_id="awlr-code", quantity="water_level", unit="cm",
                                                   value=round(level, 1), measured_at=at)))
    for hour in range(0, 165 * 24, 3):
        at = START + timedelta(hours=hour)
        for app, failing in (("lpse", hour % 97 == 0), ("sipd", hour % 31 == 0)):
            events.append(new_event("id.go.cc.health.check", source="/tests", subject=app, time=at, data=CheckResult(
                app_id=app, check_id="web", kind="http", ok=not failing, started_at=at, latency_ms=120 + hour % 50)))
    return events


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'archive.db'}"
    config = _estate(url).model_copy(update={"accounts": AccountsConfig(url=url)})
    await add_demo_people(config)
    engine = open_engine(url)
    await upgrade(engine)
    await Archive(engine, timezone="Asia/Jakarta", clock=ManualClock(NOW)).write(_history(config))
    await engine.dispose()
    async with open_runtime(config, clock=ManualClock(NOW), bus=EmbeddedBus(), store=Store.open(MEMORY_URL)) as rt, \
            HttpServer(build_app(rt, API_ROUTES), "127.0.0.1", 0) as server:
        yield f"http://127.0.0.1:{server.port}"


async def test_the_reports_page_draws_the_archive(site: str, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = await browser.new_context(viewport={"width": 1600, "height": 1800}, accept_downloads=True,
                                        timezone_id="Asia/Jakarta")
    page = await context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    await sign_in(page, site, "operator", "not the password", path="/reports")
    await page.wait_for_function("document.querySelector('#login-error').textContent.length > 0")
    await page.fill("#password", "demo-operator")
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("body[data-loaded=true]", timeout=20_000)  # the default period, drawn
    await page.fill("#from", "2026-02")
    await page.fill("#to", "2026-07")
    await page.evaluate("document.body.dataset.loaded = ''")
    await page.click("#period button[type=submit]")
    await page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
    assert await page.is_hidden("#problem"), await page.text_content("#problem")

    async with aiohttp.ClientSession(headers={"Authorization": "Bearer demo-operator"}) as s:
        async with s.get(f"{site}/api/reports/complaints?from=2026-02&to=2026-07&by=agency") as r:
            agencies = await r.json()
        async with s.get(f"{site}/api/reports/complaints?from=2026-02&to=2026-07&by=agency&format=csv") as r:
            csv_from_api = await r.read()
    shown = await page.eval_on_selector_all("#table-agencies tbody tr", "rows => rows.map(r => r.cells[0].textContent)")
    assert shown == [r["agency_name"] for r in agencies["rows"]] and len(shown) == 3
    received = await page.eval_on_selector_all("#table-agencies tbody tr", "rows => rows.map(r => r.cells[1].textContent)")
    assert [int(x.replace(".", "")) for x in received] == [r["received"] for r in agencies["rows"]]
    assert await page.locator("#table-uptime tbody tr").count() == 12  # two applications, six months
    assert await page.locator("#table-uptime td.miss").count() >= 1  # SIPD below its 99 %
    assert await page.locator("#table-incidents tbody tr").count() == 18  # three sources, six months
    assert await page.locator("#map path.leaflet-interactive").count() == 2  # both districts shaded
    assert await page.locator("#table-sensors tbody tr").count() == 6  # one gauge, six months
    for canvas in ("chart-agencies", "chart-months", "chart-incidents", "chart-sensors"):  # drawn: not a blank canvas
        painted = await page.evaluate(f"""() => {{ const c = document.getElementById('{canvas}');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }}""")
        assert painted > 1000, canvas
    async with page.expect_download() as info:
        await page.click("#agencies .downloads button[data-format=csv]")
    download = await info.value
    assert await asyncio.to_thread(Path(await download.path()).read_bytes) == csv_from_api
    await page.screenshot(path=str(ARTIFACTS / "reports.png"), full_page=True)
    assert all(u.startswith((site, "data:", "blob:")) for u in requested), [u for u in requested if not u.startswith(site)]
    await context.close()
