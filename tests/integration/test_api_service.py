"""Operations against real services: 503 when OpenSearch is unreachable, 401, /health,
an empty store, exact totals past 10,000 and cursor paging past the result window."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.settings import ApiSettings
from shared.index import ensure_index
from shared.opensearch import make_client
from shared.settings import Secret
from tests.conftest import Services
from tests.integration.api_seed import load

pytestmark = pytest.mark.timeout(300)


def alias() -> str:
    return f"t-api-{random.getrandbits(40):010x}"


async def test_unreachable_opensearch_is_quick_503() -> None:
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1", opensearch_timeout=1.0)
    async with AsyncTestClient(create_app(settings)) as client:
        for path in ("/api/logs", "/api/logs?content_search=x", "/api/logs/some-id"):
            started = time.monotonic()
            response = await client.get(path)
            assert time.monotonic() - started < 3
            assert response.status_code == 503
            body = response.json()
            assert body["status_code"] == 503
            assert "unavailable" in body["error"]["message"]
            assert "Traceback" not in response.text
        health = await client.get("/health")
        assert health.status_code == 503


async def test_blackholed_opensearch_times_out_as_503() -> None:
    """A server that accepts connections but never answers: the timeout bounds the wait."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = ApiSettings(opensearch_url=f"http://127.0.0.1:{port}", opensearch_timeout=0.5)
        async with AsyncTestClient(create_app(settings)) as client:
            started = time.monotonic()
            response = await client.get("/api/logs")
            assert time.monotonic() - started < 3
            assert response.status_code == 503
    finally:
        server.close()


@pytest.fixture
async def small_store(services: Services) -> AsyncIterator[ApiSettings]:
    name = alias()
    settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=name)
    admin = make_client(settings)
    index = await ensure_index(admin, name)
    await load(
        admin,
        name,
        [{"id": "one", "timestamp": "2024-05-01T00:00:00Z", "status": "success", "latency": 5.0}],
    )
    try:
        yield settings
    finally:
        await admin.indices.delete(index=index, ignore_unavailable=True)
        await admin.close()


async def test_health_ok(small_store: ApiSettings) -> None:
    async with AsyncTestClient(create_app(small_store)) as client:
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"


async def test_auth_against_real_store(small_store: ApiSettings) -> None:
    import msgspec

    settings = msgspec.structs.replace(small_store, api_tokens=Secret("s3cret"))
    async with AsyncTestClient(create_app(settings)) as client:
        for path in ("/api/logs", "/api/logs/one", "/api/logs/missing"):
            response = await client.get(path)
            assert response.status_code == 401
            assert response.json()["status_code"] == 401
        ok = await client.get("/api/logs", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert ok.json()["total"] == 1
        one = await client.get("/api/logs/one", headers={"x-api-key": "s3cret"})
        assert one.status_code == 200
        missing = await client.get("/api/logs/missing", headers={"x-api-key": "s3cret"})
        assert missing.status_code == 404
        assert (await client.get("/health")).status_code == 200


async def test_store_without_index_is_empty(services: Services) -> None:
    settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=alias())
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/api/logs")
        assert response.status_code == 200
        body = response.json()
        assert (body["total"], body["logs"], body["has_logs"]) == (0, [], False)
        assert body["next_cursor"] is None
        assert (await client.get("/api/logs/x")).status_code == 404


async def test_has_logs_true_when_filters_match_nothing(small_store: ApiSettings) -> None:
    async with AsyncTestClient(create_app(small_store)) as client:
        body = (await client.get("/api/logs", params={"providers": "nobody"})).json()
        assert (body["total"], body["has_logs"]) == (0, True)
        assert body["stats"]["total_requests"] == 0


BIG = 10_250


@pytest.fixture(scope="module")
async def big_store(services: Services) -> AsyncIterator[ApiSettings]:
    """Just over 10,000 tiny logs, many sharing a timestamp."""
    name = alias()
    settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=name)
    admin = make_client(settings)
    index = await ensure_index(admin, name)
    docs: list[dict[str, Any]] = [
        {
            "id": f"big-{i:06d}",
            "timestamp": f"2024-05-01T00:{(i % 37) // 60:02d}:{i % 37 % 60:02d}Z",
            "status": "success",
        }
        for i in range(BIG)
    ]
    try:
        await load(admin, name, docs)
        yield settings
    finally:
        await admin.indices.delete(index=index, ignore_unavailable=True)
        await admin.close()


async def test_total_is_exact_past_10000(big_store: ApiSettings) -> None:
    async with AsyncTestClient(create_app(big_store)) as client:
        body = (await client.get("/api/logs", params={"limit": "1"})).json()
        assert body["total"] == BIG
        assert body["stats"]["total_requests"] == BIG


async def test_cursor_pages_past_the_result_window(big_store: ApiSettings) -> None:
    async with AsyncTestClient(create_app(big_store)) as client:
        deep = await client.get("/api/logs", params={"offset": "10000", "limit": "1"})
        assert deep.status_code == 400
        assert deep.json()["error"]["param"] == "offset"

        seen: list[str] = []
        params = {"limit": "1000", "order": "asc"}
        while True:
            response = await client.get("/api/logs", params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["offset"] == len(seen)
            seen += [log["id"] for log in body["logs"]]
            if body["next_cursor"] is None:
                break
            params = {"limit": "1000", "order": "asc", "cursor": body["next_cursor"]}
        assert len(seen) == BIG
        assert len(set(seen)) == BIG
        expected = sorted((f"big-{i:06d}" for i in range(BIG)), key=lambda x: (int(x[4:]) % 37, x))
        assert seen == expected


async def test_ids_with_slashes_and_spaces_are_found(services: Services) -> None:
    name = alias()
    settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=name)
    admin = make_client(settings)
    index = await ensure_index(admin, name)
    try:
        ids = ["team/a b", "/abc", "/", "abc/", "a//b"]
        await load(admin, name, [{"id": log_id, "status": "success"} for log_id in ids])
        async with AsyncTestClient(create_app(settings)) as client:
            for log_id in ids:
                response = await client.get("/api/logs/" + quote(log_id, safe=""))
                assert response.status_code == 200, (log_id, response.text)
                assert response.json() == {"id": log_id, "status": "success"}
                found = await client.get("/api/logs", params={"request_id": log_id})
                assert [log["id"] for log in found.json()["logs"]] == [log_id]
            # "abc" itself does not exist: the slashes of "/abc" and "abc/" are part of the id.
            assert (await client.get("/api/logs/abc")).status_code == 404
            missing = await client.get("/api/logs/team%2Fother")
            assert missing.status_code == 404
            assert missing.json()["error"]["message"] == "log not found"
    finally:
        await admin.indices.delete(index=index, ignore_unavailable=True)
        await admin.close()
