"""The Live toggle and the Export button, against the API's ``GET /api/logs/stream`` and
``GET /api/logs/export``: what the page shows and saves."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import pytest
from playwright.async_api import Download, expect

from ingest.samples import SampleRecord
from ingest.worker import Worker
from tests.browser.conftest import Explorer, Tab
from tests.conftest import Services
from tests.support.ingest import create_topics, produce_records, running, worker_settings

pytestmark = pytest.mark.timeout(120)


async def saved_text(download: Download) -> str:
    return await asyncio.to_thread(Path(await download.path()).read_text)


async def test_export_saves_the_filtered_logs_as_csv(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(f"{explorer.url}/?status=error")
    await expect(page.locator(".summary .total")).to_have_text("6 logs")
    await page.get_by_label("Export format").select_option("csv")
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Export").click()
    download = await info.value
    assert download.suggested_filename.startswith("heimdall-logs-")
    assert download.suggested_filename.endswith(".csv")
    text = await saved_text(download)
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["id", "timestamp", "status"]
    assert {row[2] for row in table[1:]} == {"error"}
    assert len(table) == 1 + 6
    await expect(page.get_by_role("button", name="Export")).to_be_enabled()
    await tab.shot("export")


async def test_export_ndjson_matches_the_list(explorer: Explorer, tab: Tab) -> None:
    page = tab.page
    await page.goto(f"{explorer.url}/?providers=gemini&period=1h&range=1h")
    await expect(page.locator(".summary .total")).to_have_text("9 logs")
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Export").click()
    download = await info.value
    lines = (await saved_text(download)).splitlines()
    ids = {msgspec.json.decode(line)["id"] for line in lines}
    assert ids == set(await page.locator("tr.row").evaluate_all("rs => rs.map(r => r.dataset.id)"))


async def test_live_tail_shows_a_freshly_produced_log(
    explorer: Explorer, tab: Tab, services: Services, unique_name: str
) -> None:
    """A log produced to Kafka, indexed by the real worker, appears on the open page."""
    page = tab.page
    await page.goto(f"{explorer.url}/?period=1h&range=1h")
    await expect(page.locator(".summary .total")).to_have_text("27 logs")
    await page.get_by_role("button", name="Live").click()
    await expect(page.locator("button.toggle")).to_have_text("● Live")
    await create_topics(services.kafka_bootstrap, unique_name, partitions=1)
    settings = worker_settings(
        services.kafka_bootstrap,
        services.opensearch_url,
        unique_name,
        index_alias=explorer.alias,
    )
    now = datetime.now(UTC).isoformat()
    event = {
        "type": "log",
        "operation": "create",
        "payload": {
            "id": f"live-{unique_name}",
            "timestamp": now,
            "created_at": now,
            "provider": "openai",
            "model": "gpt-live",
            "object": "chat_completion",
            "status": "success",
            "latency": 321.0,
        },
    }
    record = SampleRecord(b"live", msgspec.json.encode(event), int(time.time() * 1000))
    try:
        async with running(Worker(settings)):
            await produce_records(services.kafka_bootstrap, unique_name, [record])
            row = page.locator(f"tr.row[data-id='live-{unique_name}']")
            await expect(row).to_be_visible(timeout=30_000)
        await expect(row.locator("td[data-col=model]")).to_have_text("gpt-live")
        await expect(page.locator(".summary .total")).to_have_text("28 logs")
        await tab.shot("live")
    finally:  # the other tests count the seeded logs only
        async with httpx.AsyncClient(base_url=explorer.url) as http:
            deleted = await http.request(
                "DELETE", "/api/logs", json={"ids": [f"live-{unique_name}"]}
            )
            assert deleted.status_code == 200, deleted.text
