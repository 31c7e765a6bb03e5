"""An index created by an older mapping gains the newer fields in place: no log is lost,
and newer logs are filterable on the new fields."""

from __future__ import annotations

from opensearchpy import AsyncOpenSearch

from shared.index import ensure_index, mapping, missing_properties, versioned_index
from tests.conftest import Services

NEWER = ("team_id", "stop_reason", "prompt_tokens", "cache_hit_type")


async def test_older_index_gains_new_fields_without_losing_logs(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    old = mapping()
    for name in NEWER:
        del old["properties"][name]
    index = versioned_index(unique_name)
    await opensearch.indices.create(
        index=index, body={"mappings": old, "aliases": {unique_name: {"is_write_index": True}}}
    )
    try:
        await opensearch.index(
            index=unique_name, id="old", body={"id": "old", "model": "m"}, refresh=True
        )
        assert await ensure_index(opensearch, unique_name) == index
        current = (await opensearch.indices.get_mapping(index=index))[index]["mappings"]
        assert missing_properties(current["properties"]) == {}
        await opensearch.index(
            index=unique_name,
            id="new",
            body={"id": "new", "team_id": "search", "prompt_tokens": 3},
            refresh=True,
        )
        found = await opensearch.search(
            index=unique_name, body={"query": {"term": {"team_id": "search"}}}
        )
        assert [h["_id"] for h in found["hits"]["hits"]] == ["new"]
        assert (await opensearch.count(index=unique_name))["count"] == 2
        # Idempotent: a second start changes nothing.
        assert await ensure_index(opensearch, unique_name) == index
    finally:
        await opensearch.indices.delete(index=index)
