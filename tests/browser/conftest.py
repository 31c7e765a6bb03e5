"""Browser tests: Playwright drives Debian's Chromium (``bin/test`` installs it) against a real
``python -m api`` process over a test index seeded with :mod:`tests.browser.seed`.

One browser and one seeded index (with one API process) per session; a fresh browser context
per test. Every context refuses requests to any host but the local API, so every test also
proves the page needs no network. Screenshots go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Route, async_playwright

from shared.index import ensure_index
from shared.opensearch import make_client
from shared.settings import OpenSearchSettings
from tests.browser.seed import bulk, utcnow, varied
from tests.conftest import Services
from tests.integration.api_seed import load
from tests.support.api_process import api_process

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = os.environ.get("HEIMDALL_CHROMIUM", "/usr/bin/chromium")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


@dataclass
class Explorer:
    url: str
    alias: str
    opensearch_url: str
    seeded_at: datetime


@dataclass
class Tab:
    """A page in its own browser context, and the requests it tried to send elsewhere."""

    page: Page
    blocked: list[str] = field(default_factory=list)

    async def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


@pytest.fixture(scope="session")
async def seeded_index(services: Services) -> AsyncIterator[tuple[str, datetime]]:
    alias = f"t-ui-{uuid.uuid4().hex[:10]}"
    client = make_client(OpenSearchSettings(opensearch_url=services.opensearch_url))
    now = utcnow()
    try:
        await ensure_index(client, alias)
        await load(client, alias, varied(now) + bulk(now))
        yield alias, now
    finally:
        await client.indices.delete(index=f"{alias}*", params={"expand_wildcards": "all"})
        await client.close()


@pytest.fixture(scope="session")
def explorer(services: Services, seeded_index: tuple[str, datetime]) -> Iterator[Explorer]:
    alias, now = seeded_index
    env = {"HEIMDALL_OPENSEARCH_URL": services.opensearch_url, "HEIMDALL_INDEX_ALIAS": alias}
    with api_process(env) as url:
        yield Explorer(url, alias, services.opensearch_url, now)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: run bin/test (installs it)"
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        await launched.close()


async def open_tab(browser: Browser, width: int = 1280, height: int = 900) -> Tab:
    context = await browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True, timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    tab = Tab(await context.new_page())

    async def local_only(route: Route) -> None:
        if (urlsplit(route.request.url).hostname or "") in LOCAL_HOSTS:
            await route.continue_()
        else:
            tab.blocked.append(route.request.url)
            await route.abort()

    await context.route("**/*", local_only)
    return tab


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[Tab]:
    opened = await open_tab(browser)
    try:
        yield opened
    finally:
        assert opened.blocked == [], f"the page tried to reach other hosts: {opened.blocked}"
        await opened.page.context.close()
