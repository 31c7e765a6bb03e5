"""The page against an API with authentication on: it asks for a token once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import Explorer, open_tab
from tests.support.api_process import api_process

pytestmark = pytest.mark.timeout(120)
TOKEN = "browser-test-token"


@pytest.fixture(scope="module")
def locked(explorer: Explorer) -> Iterator[str]:
    env = {
        "HEIMDALL_OPENSEARCH_URL": explorer.opensearch_url,
        "HEIMDALL_INDEX_ALIAS": explorer.alias,
        "HEIMDALL_API_TOKENS": TOKEN,
    }
    with api_process(env) as url:
        yield url


async def test_the_page_asks_for_a_token_once(locked: str, browser: Browser) -> None:
    tab = await open_tab(browser)
    page = tab.page
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization", "")))
    try:
        await page.goto(locked)
        dialog = page.get_by_role("dialog", name="API token")
        await expect(dialog).to_be_visible()
        await expect(page.locator("tr.row")).to_have_count(0)
        await tab.shot("auth-prompt")
        await dialog.locator("input[name=token]").fill("wrong")
        await dialog.locator("button[type=submit]").click()
        await expect(dialog).to_be_visible()  # a wrong token is asked again
        await dialog.locator("input[name=token]").fill(TOKEN)
        await dialog.locator("button[type=submit]").click()
        await expect(dialog).to_be_hidden()
        await expect(page.locator("tr.row").first).to_be_visible()
        assert f"Bearer {TOKEN}" in sent
        await page.reload()  # kept for the tab (sessionStorage): not asked again
        await expect(page.locator("tr.row").first).to_be_visible()
        await expect(dialog).to_have_count(0)
    finally:
        await page.context.close()
