"""Pages sorted by time on the partitioned layout (api.timepage), against real OpenSearch.

Logs are written into daily partitions made by the product's template
(shared.index.ensure_partitions), most in the partition of their day, some not: a log
homed days away from its timestamp (as ingest.router may home it), the oldest log in the
newest partition and the newest in the oldest, logs without timestamp, and a few in the
legacy index. Every page (ids, order, totals, cursors) must equal the reference computed
without OpenSearch, newest and oldest first, by offset and by cursor, filtered, searched
with highlights, and for another sort (the single-search path).
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from opensearchpy.helpers import async_bulk

from api import timepage
from api.app import create_app
from api.params import parse_params
from api.parsing import parse_time
from api.settings import ApiSettings
from api.store import LogStore
from shared.index import MAPPING_VERSION, ensure_index, ensure_partitions, format_nanos
from shared.opensearch import make_client
from shared.partitions import key_of_ns, partition_index
from tests.conftest import Services
from tests.integration.api_seed import BASE_TIME, make_logs, reference, stored_document
from tests.support.cleanup import delete_index

COUNT = 1500
OLDEST_NS = int((BASE_TIME - timedelta(days=3)).timestamp()) * 10**9
NEWEST_NS = int((BASE_TIME + timedelta(days=10, hours=6)).timestamp()) * 10**9
pytestmark = pytest.mark.timeout(300)


class Seeded:
    def __init__(
        self, client: AsyncTestClient[Any], store: LogStore, docs: list[dict[str, Any]]
    ) -> None:
        self.client = client
        self.store = store
        self.docs = docs


def _homes(alias: str, legacy: str, docs: list[dict[str, Any]]) -> list[str]:
    """The index each doc is written to: mostly its day's partition, some elsewhere."""
    rng = random.Random(3)
    days = sorted({key_of_ns(parse_time("t", d["timestamp"]), 1) for d in docs if "timestamp" in d})
    homes = []
    for doc in docs:
        stamp = doc.get("timestamp")
        if stamp is None:
            key = rng.choice(days)
        else:
            key = key_of_ns(parse_time("t", stamp), 1)
            if rng.random() < 0.05:  # homed by another writer's key, a few days away
                key = days[min(len(days) - 1, max(0, days.index(key) + rng.choice((-2, -1, 1, 3))))]
        in_legacy = rng.random() < 0.02
        homes.append(legacy if in_legacy else partition_index(alias, key, MAPPING_VERSION))
    return homes


@pytest.fixture(scope="module")
async def seeded(services: Services) -> AsyncIterator[Seeded]:
    alias = f"t-tp-{random.getrandbits(40):010x}"
    settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=alias)
    admin = make_client(settings)
    docs = [stored_document(entry) for entry in make_logs(COUNT, seed=23)]
    # The oldest log lives in the newest partition, the newest in the oldest one: a gap of
    # 3 days before the others (the first window of oldest first comes back short) and
    # one of 6 hours after them (a clock ahead).
    docs[0]["timestamp"] = format_nanos(OLDEST_NS)
    docs[1]["timestamp"] = format_nanos(NEWEST_NS)
    store = LogStore(settings)
    try:
        legacy = await ensure_index(admin, alias)  # the alias's write index
        await ensure_partitions(admin, alias)
        homes = _homes(alias, legacy, docs[2:])
        partitions = sorted({h for h in homes if h != legacy})
        homes = [partitions[-1], partitions[0], *homes]
        actions = [
            {"_index": home, "_id": d["id"], "_source": d}
            for home, d in zip(homes, docs, strict=True)
        ]
        ok, errors = await async_bulk(admin, actions, refresh=True, chunk_size=500)
        assert not errors
        assert ok == len(docs)
        behind = await admin.indices.get_alias(name=alias)
        assert set(partitions) < set(behind)  # the partitions are behind the alias
        assert len(partitions) >= 10
        async with AsyncTestClient(create_app(settings)) as client:
            yield Seeded(client, store, docs)
    finally:
        await store.close()
        await delete_index(admin, alias)
        await admin.close()


async def fetch(seeded: Seeded, params: dict[str, str]) -> dict[str, Any]:
    response = await seeded.client.get("/api/logs", params=params)
    assert response.status_code == 200, (params, response.text)
    body: dict[str, Any] = response.json()
    return body


async def check(seeded: Seeded, params: dict[str, str]) -> dict[str, Any]:
    body = await fetch(seeded, params)
    expected = reference(seeded.docs, params)
    assert [log["id"] for log in body["logs"]] == expected["ids"], params
    assert body["total"] == expected["total"], params
    assert body["pagination"]["total_count"] == expected["total"]
    assert body["stats"]["total_requests"] == expected["total"]
    assert body["has_logs"] is True  # the store holds logs, whether or not any matched
    return body


PAGES = [
    {},
    {"order": "asc"},
    {"sort_by": "timestamp", "order": "asc", "limit": "7"},
    {"limit": "1000"},
    {"offset": "600", "limit": "25"},
    {"order": "asc", "offset": "1400", "limit": "100"},  # reaches the logs without timestamp
    {"providers": "openai,anthropic", "status": "success,error"},
    {"models": "gpt-4o", "order": "asc", "offset": "40"},
    {"start_time": "2024-05-03T00:00:00Z", "end_time": "2024-05-06T12:00:00Z", "limit": "20"},
    {"sort_by": "latency", "order": "desc"},
    {"models": "no-such-model"},  # nothing matches: counted, no page searched
    {"start_time": "2030-01-01T00:00:00Z"},
]


@pytest.mark.parametrize("params", PAGES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
async def test_pages_equal_the_reference(seeded: Seeded, params: dict[str, str]) -> None:
    await check(seeded, params)


async def test_the_logs_furthest_from_their_partition_come_first(seeded: Seeded) -> None:
    newest = await check(seeded, {"limit": "1"})
    oldest = await check(seeded, {"order": "asc", "limit": "1"})
    assert newest["logs"][0]["id"] == seeded.docs[1]["id"]
    assert oldest["logs"][0]["id"] == seeded.docs[0]["id"]


async def test_the_window_answers_the_default_pages(seeded: Seeded) -> None:
    """Not the fallback: the window's page is taken as exact, and equals the reference."""
    for params in ({}, {"order": "asc"}, {"offset": "300"}):
        q = parse_params({k: [v] for k, v in params.items()})
        page = await seeded.store._time_page(q)
        assert page is not None, params
        expected = reference(seeded.docs, params)
        assert [p["id"] for p in map(_decoded, page.logs)] == expected["ids"]
        assert page.total == expected["total"]


@pytest.mark.parametrize(
    "stale",
    [
        timepage.Bounds(10**9, OLDEST_NS, OLDEST_NS + 3_600 * 10**9),  # far too dense, early
        timepage.Bounds(1, OLDEST_NS - 10**15, OLDEST_NS - 10**14),  # before every log
        timepage.Bounds(5, NEWEST_NS + 10**14, NEWEST_NS + 10**15),  # after every log
    ],
)
async def test_bounds_remembered_wrongly_never_change_a_page(
    seeded: Seeded, stale: timepage.Bounds
) -> None:
    for params in ({}, {"order": "asc"}, {"offset": "300", "limit": "20"}, {"models": "gpt-4o"}):
        q = parse_params({k: [v] for k, v in params.items()})
        seeded.store._recent.put(seeded.store.bounds_key(q), stale, time.monotonic())
        page = await seeded.store.search(q)
        expected = reference(seeded.docs, params)
        assert [p["id"] for p in map(_decoded, page.logs)] == expected["ids"], params
        assert page.total == expected["total"]


def _decoded(raw: Any) -> dict[str, Any]:
    result: dict[str, Any] = msgspec.json.decode(bytes(raw))
    return result


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("sort_by", ["timestamp", "cost"])
async def test_offset_and_cursor_walks_cover_every_log_once(
    seeded: Seeded, sort_by: str, order: str
) -> None:
    base = {"sort_by": sort_by, "order": order}
    expected = reference(seeded.docs, {**base, "limit": str(COUNT)})["ids"]
    assert len(expected) == COUNT
    by_offset: list[str] = []
    while len(by_offset) < COUNT:
        body = await fetch(seeded, {**base, "limit": "211", "offset": str(len(by_offset))})
        by_offset += [log["id"] for log in body["logs"]]
    assert by_offset == expected
    by_cursor: list[str] = []
    params = {**base, "limit": "173"}
    while True:
        body = await fetch(seeded, params)
        assert body["offset"] == len(by_cursor)
        assert body["total"] == COUNT
        by_cursor += [log["id"] for log in body["logs"]]
        if body["next_cursor"] is None:
            break
        params = {**base, "limit": "173", "cursor": body["next_cursor"]}
    assert by_cursor == expected


async def test_highlights_through_the_window(seeded: Seeded) -> None:
    word = next(w for w in seeded.docs[5]["input_history"][0]["content"].lower().split())
    params = {"content_search": word, "highlight": "true", "limit": "20"}
    body = await check(seeded, params)
    assert body["logs"]
    assert all("<mark>" in "".join(log["highlights"]) for log in body["logs"])
