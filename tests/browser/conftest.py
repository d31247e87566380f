"""The browser tests' Debian Chromium (driven by Playwright; nothing is downloaded) and where their screenshots go.
With CI=true a missing browser fails the run rather than skipping."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _chromium_installed() -> bool:
    return shutil.which(CHROMIUM) is not None


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not _chromium_installed():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Debian chromium is not installed (CI=true: a missing browser fails the run)")
        pytest.skip("Debian chromium is not installed: apt-get install -y chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        yield browser
        await browser.close()


async def sign_in(page: Any, base: str, login: str, password: str | None = None, path: str = "/") -> None:
    """Sign in on the page at `path` with the login form, as a person does (the demo's passwords by default);
    the session cookie then serves every page of the site in this browser context."""
    await page.goto(f"{base}{path}")
    await page.fill("#username", login)
    await page.fill("#password", password or f"demo-{login}")
    await page.click("#login button[type=submit]")
