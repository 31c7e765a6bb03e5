"""``GET /api/logs/export`` against a real OpenSearch holding 100,000 logs (seeded with
``_bulk``): complete and in the list's order, payloads on request, the point in time closed
however the export ends, and memory that does not grow with the number of logs."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from opensearchpy import AsyncOpenSearch

from api.app import create_app
from api.export import CSV_COLUMNS, CSV_PAYLOADS, PIT_KEEP_ALIVE, parse_export
from api.routes.export import export_chunks
from api.settings import ApiSettings
from api.store import LogStore
from shared.index import ensure_index
from shared.opensearch import make_client
from tests.conftest import Services

pytestmark = pytest.mark.timeout(600)

COUNT = 100_000
#: Logs of ``provider=anthropic``: every 20th, 5,000 of them.
SMALL_EVERY = 20
START = datetime(2026, 1, 1, tzinfo=UTC)


def document(i: int) -> dict[str, Any]:
    moment = START + timedelta(milliseconds=i * 37)
    prompt, completion = i % 300, i % 70
    doc: dict[str, Any] = {
        "id": f"x{i:06d}",
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
        "status": "error" if i % 11 == 0 else "success",
        "provider": "anthropic" if i % SMALL_EVERY == 0 else "openai",
        "model": f"m{i % 7}",
        "object": "chat_completion",
        "latency": float(i % 997),
        "cost": round((i % 50) * 0.001, 6),
        "virtual_key_id": f"vk{i % 5}",
        "token_usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "input_history": [{"role": "user", "content": f"question {i}, with a comma"}],
        "output_message": {"role": "assistant", "content": f'answer "{i}"\nsecond line'},
        "raw_request": json.dumps({"n": i}),
    }
    if i % 11 == 0:
        doc["error_details"] = {"error": {"message": f"failure {i}"}}
    return doc


async def _bulk(client: AsyncOpenSearch, index: str) -> None:
    step = 10_000
    for start in range(0, COUNT, step):
        lines: list[str] = []
        for i in range(start, min(start + step, COUNT)):
            doc = document(i)
            lines.append(json.dumps({"create": {"_id": doc["id"]}}))
            lines.append(json.dumps(doc))
        answer = await client.bulk(index=index, body="\n".join(lines) + "\n")
        assert not answer["errors"]
    await client.indices.refresh(index=index)


@pytest.fixture(scope="module")
async def seeded(services: Services) -> AsyncIterator[ApiSettings]:
    alias = f"t-export-{uuid.uuid4().hex[:10]}"
    settings = ApiSettings(
        opensearch_url=services.opensearch_url,
        index_alias=alias,
        opensearch_timeout=30.0,
        api_export_page=1000,
    )
    client = make_client(settings)
    try:
        index = await ensure_index(client, alias)
        await _bulk(client, index)
        yield settings
    finally:
        await client.indices.delete(index=f"{alias}-*", ignore_unavailable=True)
        await client.close()


async def _list_ids(client: Any, query: dict[str, str]) -> list[str]:
    """Every id of the list endpoint, paged with its cursor."""
    ids: list[str] = []
    params = {**query, "limit": "1000"}
    while True:
        body = (await client.get("/api/logs", params=params)).json()
        ids += [log["id"] for log in body["logs"]]
        if not body["next_cursor"]:
            return ids
        params = {**query, "limit": "1000", "cursor": body["next_cursor"]}


@pytest.mark.parametrize(
    "query",
    [
        {"providers": "anthropic"},
        {"providers": "anthropic", "status": "error", "sort_by": "latency", "order": "asc"},
        {"models": "m3", "min_latency": "900", "sort_by": "cost"},
    ],
)
async def test_ndjson_and_csv_are_the_list_complete_and_in_order(
    seeded: ApiSettings, query: dict[str, str]
) -> None:
    async with AsyncTestClient(create_app(seeded)) as client:
        listed = await _list_ids(client, query)
        assert listed
        ndjson = await client.get("/api/logs/export", params={**query, "format": "ndjson"})
        assert ndjson.status_code == 200
        assert ndjson.headers["content-type"].startswith("application/x-ndjson")
        disposition = ndjson.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="heimdall-logs-')
        assert disposition.endswith('Z.ndjson"')
        lines = [json.loads(line) for line in ndjson.text.splitlines()]
        assert [log["id"] for log in lines] == listed
        first = (await client.get("/api/logs", params={**query, "limit": "1"})).json()
        assert lines[0] == first["logs"][0]  # the list item, exactly
        assert "input_history" not in lines[0]

        exported = await client.get("/api/logs/export", params={**query, "format": "csv"})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text, newline="")))
        assert tuple(rows[0]) == CSV_COLUMNS
        assert [row[0] for row in rows[1:]] == listed


async def test_payloads_on_request(seeded: ApiSettings) -> None:
    query = {"providers": "anthropic", "status": "error", "format": "ndjson"}
    async with AsyncTestClient(create_app(seeded)) as client:
        full = await client.get("/api/logs/export", params={**query, "payloads": "true"})
        logs = [json.loads(line) for line in full.text.splitlines()]
        one = (await client.get(f"/api/logs/{logs[0]['id']}")).json()
        assert logs[0] == one  # the log as GET /api/logs/{id} gives it
        assert logs[0]["input_history"][0]["content"].startswith("question")
        assert "total_tokens" not in logs[0]  # derived fields stay inside

        table = await client.get(
            "/api/logs/export", params={**query, "format": "csv", "payloads": "true"}
        )
        rows = list(csv.DictReader(io.StringIO(table.text, newline="")))
        assert tuple(rows[0]) == (*CSV_COLUMNS, *CSV_PAYLOADS)
        row = next(r for r in rows if r["id"] == logs[0]["id"])
        i = int(row["id"][1:])
        assert row["error"] == f"failure {i}"
        assert row["total_tokens"] == str(i % 300 + i % 70)
        assert json.loads(row["output_message"])["content"] == f'answer "{i}"\nsecond line'
        assert json.loads(row["raw_request"]) == {"n": i}


async def test_bad_parameters_are_400(seeded: ApiSettings) -> None:
    async with AsyncTestClient(create_app(seeded)) as client:
        for params, name in (
            ({}, "format"),
            ({"format": "xml"}, "format"),
            ({"format": "csv", "limit": "5"}, "limit"),
            ({"format": "csv", "payloads": "maybe"}, "payloads"),
            ({"format": "csv", "sort_by": "name"}, "sort_by"),
        ):
            response = await client.get("/api/logs/export", params=params)
            assert response.status_code == 400, (params, response.text)
            assert response.json()["error"]["param"] == name


async def _open_pits(client: AsyncOpenSearch) -> set[str]:
    answer = json.loads(await client.get_all_pits())  # the API's client answers raw text
    return {pit["pit_id"] for pit in answer.get("pits", [])}


async def _consume(store: LogStore, query: dict[str, list[str]], page: int) -> tuple[int, int]:
    """(lines, peak traced bytes) of one export consumed in-process, chunk by chunk."""
    export = parse_export(query)
    pit_id = await store.open_pit(PIT_KEEP_ALIVE)
    assert pit_id is not None
    lines = 0
    tracemalloc.start()
    try:
        async for chunk in export_chunks(store, export, pit_id, page):
            lines += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pit_id not in await _open_pits(store.client)  # closed at the end
    return lines, peak


async def test_memory_does_not_grow_with_the_number_of_logs(seeded: ApiSettings) -> None:
    store = LogStore(seeded)
    try:
        small = {"format": ["ndjson"], "providers": ["anthropic"], "status": ["error"]}
        await _consume(store, small, seeded.api_export_page)  # warm-up: first-use allocations
        small_lines, small_peak = await _consume(
            store, {"format": ["ndjson"], "providers": ["anthropic"]}, seeded.api_export_page
        )
        all_lines, all_peak = await _consume(store, {"format": ["ndjson"]}, seeded.api_export_page)
        assert small_lines == COUNT // SMALL_EVERY
        assert all_lines == COUNT
        # 20 times the logs, not more memory: the peak is about one page (measured: 1.8 MB
        # for both), whatever the count; growing with it would be some 20 times more.
        assert all_peak < small_peak * 2, (small_peak, all_peak)
        print(f"peak traced memory: {small_peak} B for 5,000 logs, {all_peak} B for 100,000")
    finally:
        await store.close()


async def test_the_point_in_time_is_closed_when_the_client_goes_away(
    seeded: ApiSettings,
) -> None:
    store = LogStore(seeded)
    try:
        pit_id = await store.open_pit(PIT_KEEP_ALIVE)
        assert pit_id is not None
        chunks = export_chunks(store, parse_export({"format": ["csv"]}), pit_id, 100)
        await anext(chunks)  # the header
        await anext(chunks)  # one page
        assert pit_id in await _open_pits(store.client)
        await chunks.aclose()  # what the server does when the client disconnects
        assert pit_id not in await _open_pits(store.client)
    finally:
        await store.close()
