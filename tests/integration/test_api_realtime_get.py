"""GET /api/logs/{id} is realtime: a log is found as soon as its write returned, before any
refresh makes it searchable, with its stored bytes untouched; an alias over several indices
(time partitions, a reindex) still finds it in realtime."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from opensearchpy import AsyncOpenSearch

from api.app import create_app
from api.settings import ApiSettings
from shared.index import ensure_index
from shared.opensearch import make_client
from tests.conftest import Services

SOURCE = b'{"id":"team/a b","status":"success","cost":1e16,"params":{"z":1E2,"a":0.10}}'


@pytest.fixture
async def unrefreshed(services: Services, unique_name: str) -> AsyncIterator[ApiSettings]:
    """An index that never refreshes on its own, holding one unrefreshed log."""
    settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=unique_name)
    admin = make_client(settings)
    index = await ensure_index(admin, unique_name, refresh_interval="-1")
    try:
        await admin.transport.perform_request(
            "PUT",
            f"/{index}/_doc/team%2Fa%20b",
            body=SOURCE.decode(),
            headers={"content-type": "application/json"},
        )
        yield settings
    finally:
        await admin.indices.delete(index=f"{unique_name}-*", ignore_unavailable=True)
        await admin.close()


async def _searchable(admin: AsyncOpenSearch, alias: str) -> int:
    return int((await admin.count(index=alias))["count"])


async def test_a_log_is_found_before_any_refresh_with_its_bytes(unrefreshed: ApiSettings) -> None:
    admin = make_client(unrefreshed)
    try:
        assert await _searchable(admin, unrefreshed.index_alias) == 0  # not refreshed yet
    finally:
        await admin.close()
    async with AsyncTestClient(create_app(unrefreshed)) as client:
        response = await client.get("/api/logs/team%2Fa%20b")
        assert response.status_code == 200
        assert response.content == SOURCE
        missing = await client.get("/api/logs/team%2Fother")
        assert missing.status_code == 404


async def test_an_alias_over_two_indices_still_reads_in_realtime(unrefreshed: ApiSettings) -> None:
    alias = unrefreshed.index_alias
    admin = make_client(unrefreshed)
    try:
        await admin.indices.create(index=f"{alias}-v2")
        await admin.indices.put_alias(index=f"{alias}-v2", name=alias)
        assert await _searchable(admin, alias) == 0  # still not refreshed
        async with AsyncTestClient(create_app(unrefreshed)) as client:
            response = await client.get("/api/logs/team%2Fa%20b")
            assert response.status_code == 200
            assert response.content == SOURCE
            assert (await client.get("/api/logs/team%2Fother")).status_code == 404
    finally:
        await admin.close()
