"""The logs explorer in a real browser, on seeded logs: what is on screen after each action."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Explorer, Tab, open_tab
from tests.browser.seed import BULK, CHAIN_ROOT

pytestmark = pytest.mark.timeout(120)
SEEDED = 24 + 3 + BULK
DASH = "\N{EN DASH}"


async def row_ids(page: Page) -> list[str]:
    ids: list[str] = await page.locator("tr.row").evaluate_all("rs => rs.map(r => r.dataset.id)")
    return ids


async def column(page: Page, name: str) -> list[str]:
    return await page.locator(f"tr.row td[data-col={name}]").all_inner_texts()


def state(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


async def api_total(explorer: Explorer, params: dict[str, str]) -> int:
    async with httpx.AsyncClient(base_url=explorer.url) as http:
        answer = await http.get("/api/logs", params={**params, "limit": "1"})
        assert answer.status_code == 200, answer.text
        total: int = answer.json()["total"]
        return total


async def choose(page: Page, param: str, typed: str, option: str) -> None:
    """Opens a filter dropdown, narrows it by typing, ticks one option, closes it."""
    box = page.locator(f".multi[data-filter='{param}']")
    await box.locator("button.chip").click()
    await box.locator("input.typeahead").fill(typed)
    await box.locator(".option", has_text=option).locator("input").check()
    await page.keyboard.press("Escape")
    await page.locator(".summary").click()


async def test_page_shows_the_seeded_logs(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(explorer.url)
    await expect(page.locator(".summary .total")).to_have_text(f"{SEEDED:,} logs")
    assert (await row_ids(page))[:3] == ["log-00", "log-01", "log-02"]
    await expect(page.locator("[data-tile=requests] .tile-value")).to_have_text(f"{SEEDED:,}")
    await expect(page.locator("[data-chart=requests] canvas")).to_have_count(1)
    await expect(page.locator("[data-chart=latency] canvas")).to_have_count(1)
    first = page.locator("tr.row").first
    await expect(first.locator("td[data-col=provider]")).to_have_text("openai")
    await expect(first.locator("td[data-col=model]")).to_have_text("gpt-4o")
    await expect(first.locator("td[data-col=tokens]")).to_have_text("15")
    await expect(first.locator("td[data-col=key]")).to_have_text("Team key")
    await tab.shot("explorer")


async def test_dropdown_filters(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(f"{explorer.url}/?range=1h&period=1h")
    await expect(page.locator(".summary .total")).to_have_text("27 logs")
    await choose(page, "status", "err", "error")
    await expect(page.locator(".summary .total")).to_have_text("6 logs")
    assert set(await column(page, "status")) == {"error"}
    # type-ahead narrows the options; the count comes from /api/logs/rankings
    await page.locator(".multi[data-filter=providers] button.chip").click()
    await page.locator(".multi[data-filter=providers] input.typeahead").fill("gem")
    await expect(page.locator(".multi[data-filter=providers] .option")).to_have_count(1)
    await page.locator(".multi[data-filter=providers] .option input").check()
    await page.locator(".summary").click()
    await expect(page.locator(".summary .total")).to_have_text("4 logs")
    assert set(await column(page, "provider")) == {"gemini"}
    assert state(page)["status"] == ["error"]
    assert state(page)["providers"] == ["gemini"]
    await tab.shot("filters")


async def test_filterdata_dropdowns_show_counts(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(f"{explorer.url}/?range=1h&period=1h")
    models = page.locator(".multi[data-filter=models]")
    await models.locator("button.chip").click()
    option = models.locator(".option", has_text="claude-3-7")
    await expect(option.locator(".count")).to_have_text("9")  # 8 seeded + 1 in the chain
    await option.locator("input").check()
    await page.locator(".summary").click()
    await expect(page.locator(".summary .total")).to_have_text("9 logs")
    await choose(page, "selected_key_ids", "key 1", "Key 1")
    await expect(page.locator(".summary .total")).to_have_text("4 logs")
    await choose(page, "metadata_env", "prod", "prod")
    await expect(page.locator(".summary .total")).to_have_text("4 logs")
    assert state(page)["metadata_env"] == ["prod"]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "success"},
        {"providers": "gemini,openai"},
        {"models": "gpt-4o"},
        {"objects": "chat_completion"},
        {"selected_key_ids": "key-0"},
        {"virtual_key_ids": "vk-team"},
        {"parent_request_id": CHAIN_ROOT},
        {"request_id": "log-01,log-02"},
        {"roots_only": "true"},
        {"min_latency": "500", "max_latency": "800"},
        {"min_cost": "0.01"},
        {"min_tokens": "100", "max_tokens": "200"},
        {"missing_cost_only": "true"},
        {"metadata_env": "staging"},
        {"period": "1h", "range": "1h"},
        {"start_time": "2000-01-01T00:00:00Z", "end_time": "2001-01-01T00:00:00Z"},
    ],
    ids=lambda p: "&".join(p),
)
async def test_every_filter_from_the_url(
    explorer: Explorer, browser: Browser, params: dict[str, str]
) -> None:
    """Each filter in the URL is applied: the page shows the API's own total for it."""
    tab = await open_tab(browser)
    try:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        await tab.page.goto(f"{explorer.url}/?{query}")
        api_params = {k: v for k, v in params.items() if k != "range"}
        expected = await api_total(explorer, api_params)
        if expected == 0:
            await expect(tab.page.locator(".empty")).to_have_text("No logs match these filters.")
        await expect(tab.page.locator(".summary .total")).to_have_text(f"{expected:,} logs")
        assert expected < SEEDED
    finally:
        await tab.page.context.close()


async def test_more_filters_form(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(explorer.url)
    await page.get_by_role("button", name="More filters").click()
    await page.locator("input[name=min_latency]").fill("900")
    await page.locator("input[name=max_latency]").fill("902")
    await page.locator("form.more button[type=submit]").click()
    await expect(page.locator(".summary .total")).to_have_text("3 logs")
    assert sorted(await row_ids(page)) == ["chain-fallback-1", "chain-fallback-2", CHAIN_ROOT]


async def test_search_with_highlights(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(explorer.url)
    await page.locator("input[name=content_search]").fill('"refund request" invoice')
    await page.locator("input[name=content_search]").press("Enter")
    await expect(page.locator(".summary .total")).to_have_text("6 logs")
    marks = await page.locator("td.snippet mark").all_inner_texts()
    assert {m.lower() for m in marks} >= {"refund", "request", "invoice"}
    assert state(page)["content_search"] == ['"refund request" invoice']
    await tab.shot("search")


async def test_sorting(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(explorer.url)
    await page.locator("th[data-col=latency] button").click()
    await expect(page.locator("tr.row td[data-col=latency]").first).to_have_text("951 ms")
    assert state(page)["sort_by"] == ["latency"]
    await page.locator("th[data-col=latency] button").click()
    await expect(page.locator("tr.row td[data-col=latency]").first).to_have_text("1 ms")
    assert state(page)["order"] == ["asc"]
    await page.locator("th[data-col=cost] button").click()
    await expect(page.locator("tr.row td[data-col=cost]").first).to_have_text("$0.0230")
    await page.locator("th[data-col=tokens] button").click()
    await expect(page.locator("tr.row td[data-col=tokens]").first).to_have_text("360")


async def test_paging_past_ten_thousand_with_the_cursor(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(f"{explorer.url}/?providers=bulk&limit=1000")
    await expect(page.locator(".summary .total")).to_have_text(f"{BULK:,} logs")
    for n in range(2, 12):
        await page.get_by_role("button", name="Next →").click()
        await expect(page.locator(".pager")).to_contain_text(f"page {n}")
    await expect(page.locator(".summary")).to_contain_text(f"10,001{DASH}{BULK:,}")
    ids = await row_ids(page)
    assert ids[0] == f"bulk-{BULK - 10_001:06d}"
    assert ids[-1] == "bulk-000000"
    assert len(ids) == BULK - 10_000
    await expect(page.get_by_role("button", name="Next →")).to_be_disabled()
    await page.get_by_role("button", name="← Previous").click()
    await expect(page.locator(".summary")).to_contain_text(f"9,001{DASH}10,000")


async def test_opening_a_log_and_its_conversation(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(explorer.url)
    await page.locator("tr.row[data-id=log-04]").click()
    detail = page.locator("aside.detail")
    await expect(detail.locator("h2")).to_have_text("Log log-04")
    await expect(detail.locator(".message .role")).to_have_text(
        ["system", "user", "assistant"], ignore_case=True
    )
    await expect(detail.locator(".message[data-role=user] .content")).to_have_text(
        "Question 4 about the weather in Oslo"
    )
    await expect(detail.locator(".tool-name")).to_have_text("⚙ get_weather")
    await detail.locator("summary", has_text="Raw request").click()
    await expect(detail.locator("details[open] pre")).to_contain_text('"model": "claude-3-7"')
    await expect(detail.locator(".similar li").first).to_be_visible()
    assert state(page)["log"] == ["log-04"]
    await tab.shot("detail")
    await page.keyboard.press("Escape")
    await expect(detail).to_have_count(0)


async def test_following_a_fallback_chain(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(f"{explorer.url}/?log=chain-fallback-2")
    chain = page.locator(".chain")
    await expect(chain.locator("li")).to_have_count(3)
    await expect(chain.locator("li.current")).to_contain_text("gemini")
    await chain.locator(f"button[data-id={CHAIN_ROOT}]").click()
    await expect(page.locator("aside.detail h2")).to_have_text(f"Log {CHAIN_ROOT}")
    await expect(page.locator(".error-details .error")).to_have_text("rate limited")
    assert state(page)["log"] == [CHAIN_ROOT]
    await page.go_back()
    await expect(page.locator("aside.detail h2")).to_have_text("Log chain-fallback-2")


async def test_dragging_a_chart_narrows_the_time_range(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(explorer.url)
    await expect(page.locator(".summary .total")).to_have_text(f"{SEEDED:,} logs")
    # Every chart's data has arrived and the plot is drawn for good: a plot rebuilt between
    # measuring it and dragging would take the drag's pixels for other times.
    await page.wait_for_load_state("networkidle")
    over = page.locator("[data-chart=requests] .u-over")
    box = await over.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    # Across the newest part of the range: the recent logs, none of the two-day-old ones.
    await page.mouse.move(box["x"] + box["width"] * 0.7, y)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] - 2, y, steps=5)
    await page.mouse.up()
    await expect(page).to_have_url(re.compile("start_time="))
    await expect(page).to_have_url(re.compile("end_time="))
    params = {k: v[0] for k, v in state(page).items()}
    narrowed = await api_total(explorer, params)
    assert 0 < narrowed < SEEDED
    await expect(page.locator(".summary .total")).to_have_text(f"{narrowed:,} logs")
    await expect(page.locator(".range .seg.active")).to_have_text("Custom")
    await tab.shot("chart-narrowed")


async def test_url_round_trip(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(explorer.url)
    await choose(page, "status", "err", "error")
    await page.locator("th[data-col=latency] button").click()
    await expect(page.locator("tr.row td[data-col=latency]").first).to_have_text("951 ms")
    await page.locator("tr.row").first.click()
    await expect(page.locator("aside.detail h2")).to_have_text("Log log-23")
    url = page.url
    other = await open_tab(page.context.browser)  # type: ignore[arg-type]
    try:
        await other.page.goto(url)
        await expect(other.page.locator("aside.detail h2")).to_have_text("Log log-23")
        await expect(other.page.locator(".multi[data-filter=status] .chip")).to_have_class(
            re.compile("active")
        )
        await expect(other.page.locator("tr.row td[data-col=latency]").first).to_have_text("951 ms")
    finally:
        await other.page.context.close()


async def test_back_and_forward(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(explorer.url)
    await page.get_by_role("button", name="1 h").click()
    await expect(page.locator(".summary .total")).to_have_text("27 logs")
    await choose(page, "status", "succ", "success")
    await expect(page.locator(".summary .total")).to_have_text("21 logs")
    await page.go_back()
    await expect(page.locator(".summary .total")).to_have_text("27 logs")
    await page.go_back()
    await expect(page.locator(".summary .total")).to_have_text(f"{SEEDED:,} logs")
    await page.go_forward()
    await expect(page.locator(".summary .total")).to_have_text("27 logs")
    await expect(page.locator(".range .seg.active")).to_have_text("1 h")


async def test_keyboard_navigation(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(explorer.url)
    await expect(page.locator("tr.row.selected")).to_have_attribute("data-id", "log-00")
    await page.keyboard.press("j")
    await page.keyboard.press("j")
    await page.keyboard.press("k")
    await expect(page.locator("tr.row.selected")).to_have_attribute("data-id", "log-01")
    await page.keyboard.press("Enter")
    await expect(page.locator("aside.detail h2")).to_have_text("Log log-01")
    await page.keyboard.press("Escape")
    await expect(page.locator("aside.detail")).to_have_count(0)


async def test_dark_theme_and_a_phone_width(explorer: Explorer, browser: Browser) -> None:
    tab = await open_tab(browser, width=390, height=844)
    page = tab.page
    try:
        await page.goto(explorer.url)
        await page.get_by_role("button", name="Toggle theme").click()
        await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        await expect(page.locator("tr.row td[data-col=model]").first).to_be_visible()
        await expect(page.locator("tr.row td[data-col=provider]").first).to_be_hidden()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        await tab.shot("phone-dark")
        await page.reload()
        await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    finally:
        await page.context.close()


async def test_docs_render_offline(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(f"{explorer.url}/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Heimdall log search API"
    )
    await expect(page.locator(".opblock-summary-path", has_text="/api/logs").first).to_be_visible()
    await tab.shot("docs")
