"""Time on the page: the custom range, a click on a chart's bar, the tiles' comparison."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import expect

from tests.browser.conftest import Explorer, Tab
from tests.browser.seed import BULK

pytestmark = pytest.mark.timeout(120)


async def test_custom_range(explorer: Explorer, tab: Tab) -> None:
    page = tab.page  # the context's time zone is UTC, so the inputs are UTC
    start = explorer.seeded_at - timedelta(minutes=10)
    end = explorer.seeded_at
    await page.goto(explorer.url)
    await page.get_by_role("button", name="Custom").click()
    await page.get_by_label("From", exact=True).fill(start.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("To", exact=True).fill(end.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Apply").click()
    # log-00 .. log-04 are 1, 3, 5, 7 and 9 minutes old (seconds cut from the inputs)
    await expect(page.locator(".summary .total")).to_have_text("5 logs")
    query = parse_qs(urlsplit(page.url).query)
    assert query["start_time"] == [start.strftime("%Y-%m-%dT%H:%M:00.000Z")]
    assert query["end_time"] == [end.strftime("%Y-%m-%dT%H:%M:00.000Z")]
    await expect(page.locator(".range .seg.active")).to_have_text("Custom")


async def test_clicking_a_bar_narrows_to_its_bucket(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(f"{explorer.url}/?providers=bulk")
    await expect(page.locator(".summary .total")).to_have_text(f"{BULK:,} logs")
    over = page.locator("[data-chart=requests] .u-over")
    box = await over.bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + 3, box["y"] + box["height"] - 3)  # the first hour
    await expect(page.locator(".range .seg.active")).to_have_text("Custom")
    query = parse_qs(urlsplit(page.url).query)
    assert query["start_time"][0].endswith(":00:00.000Z")
    assert query["end_time"][0].endswith(":59:59.999Z")
    await expect(page.locator(".summary .total")).not_to_have_text(f"{BULK:,} logs")
    total = await page.locator(".summary .total").inner_text()
    assert 0 < int(total.split()[0].replace(",", "")) <= 3600


async def test_tiles_compare_with_the_previous_period(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(f"{explorer.url}/?period=1h&range=1h")
    await expect(page.locator("[data-tile=requests] .tile-value")).to_have_text("27")
    await expect(page.locator("[data-tile=requests] .tile-delta")).to_have_text("new vs previous")
    await expect(page.locator("[data-tile=success] .tile-value")).to_have_text("77.8 %")
    await tab.shot("tiles-1h")
