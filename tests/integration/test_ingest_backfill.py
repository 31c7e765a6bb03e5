"""``python -m ingest backfill`` against real OpenSearch: logs stored by an older release gain
the derived fields the dashboards aggregate on, and their ingested values stay as they were."""

from __future__ import annotations

import msgspec
from opensearchpy import AsyncOpenSearch

from ingest.backfill import backfill
from ingest.settings import WorkerSettings
from ingest.store import Store
from shared.index import ensure_index
from tests.conftest import Services
from tests.support.dashboard_seed import make_records
from tests.support.ingest import expected_sources

DERIVED_LATER = ("prompt_tokens", "completion_tokens", "cached_read_tokens", "cache_hit_type")


async def test_older_logs_gain_the_new_derived_fields(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    expected = expected_sources(make_records(300, seed=4))
    index = await ensure_index(opensearch, unique_name)
    lines = bytearray()
    for doc_id, source in expected.items():
        older = {k: v for k, v in source.items() if k not in DERIVED_LATER}
        lines += msgspec.json.encode({"create": {"_index": index, "_id": doc_id}}) + b"\n"
        lines += msgspec.json.encode(older) + b"\n"
    await opensearch.bulk(body=bytes(lines), refresh=True)

    settings = msgspec.convert(
        {"opensearch_url": services.opensearch_url, "index_alias": unique_name}, WorkerSettings
    )
    store = Store(settings)
    try:
        first = await backfill(store, page=64)
        await opensearch.indices.refresh(index=index)
        again = await backfill(store, page=64)
    finally:
        await store.close()
    assert first.scanned == len(expected)
    assert first.rewritten == sum(
        1 for s in expected.values() if any(name in s for name in DERIVED_LATER)
    )
    assert first.rewritten > 0
    assert (again.scanned, again.rewritten) == (len(expected), 0)
    found = await opensearch.search(index=unique_name, body={"size": 1000})
    stored = {hit["_id"]: hit["_source"] for hit in found["hits"]["hits"]}
    assert stored == expected
