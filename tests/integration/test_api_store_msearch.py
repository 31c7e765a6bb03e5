"""LogStore.multi_query against real OpenSearch: answers in order, and a failed search in
the batch is StoreUnavailable (HTTP 503), never a decoding error (HTTP 500)."""

from __future__ import annotations

import msgspec
import pytest

from api.settings import ApiSettings
from api.store import LogStore
from shared.errors import StoreUnavailable
from shared.index import ensure_index
from tests.conftest import Services


async def test_multi_query_answers_in_order_and_fails_whole(
    services: Services, unique_name: str
) -> None:
    store = LogStore(ApiSettings(opensearch_url=services.opensearch_url, index_alias=unique_name))
    index = await ensure_index(store.client, unique_name)
    try:
        await store.client.index(
            index=unique_name, id="a", body={"id": "a", "provider": "openai"}, refresh=True
        )
        answers = await store.multi_query(
            "test",
            [
                {"size": 0, "track_total_hits": True, "query": {"term": {"provider": "openai"}}},
                {"size": 0, "track_total_hits": True, "query": {"term": {"provider": "x"}}},
            ],
        )
        totals = [msgspec.json.decode(a)["hits"]["total"]["value"] for a in answers]
        assert totals == [1, 0]
        invalid = {"size": 0, "aggs": {"g": {"global": {}, "aggs": {"c": {"composite": {
            "sources": [{"p": {"terms": {"field": "provider"}}}]}}}}}}  # fmt: skip
        with pytest.raises(StoreUnavailable):
            await store.multi_query("test", [{"size": 0}, invalid])
    finally:
        await store.client.indices.delete(index=index, ignore_unavailable=True)
        await store.close()
