"""A scoped token sees, counts and deletes nothing outside its scope: one test per endpoint,
against real OpenSearch, with logs seeded inside and outside the scope.

The scope is ``virtual_key_ids=vk-in``. For every endpoint that takes log filters the
scoped answer must equal the unscoped (admin) answer to the same request with the scope's
filter added, must differ from the admin's answer without it (the outside logs exist and
would show), and must not contain any value only the outside logs have.

:data:`SCOPE_TESTS` names the test covering each ``/api`` route; a unit test
(``tests/unit/test_api_scope_routes.py``) fails when a route has none.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import aiohttp
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from opensearchpy import AsyncOpenSearch

from api.app import create_app
from api.settings import ApiSettings
from api.stream import Change, encode_token
from api.tokens import hash_token
from shared.index import ensure_index, format_nanos
from shared.opensearch import make_client
from shared.ops_index import audit_index
from tests.conftest import Services
from tests.integration.api_seed import load
from tests.support.scope_seed import OUTSIDE_MARKERS, seed_logs

pytestmark = pytest.mark.timeout(300)

SCOPE: Final = {"virtual_key_ids": "vk-in"}
READER: Final = "hmd_reader-token-for-scope-tests-0000000000000"
DELETER: Final = "hmd_deleter-token-for-scope-tests-000000000000"
ADMIN: Final = "hmd_admin-token-for-scope-tests-00000000000000"
WINDOW: Final = {"start_time": "2025-03-01T00:00:00Z", "end_time": "2025-03-01T23:59:59Z"}
#: (method, route path) -> the test of this module proving the scope holds there, for every
#: route that needs credentials ("WS" for a WebSocket route).
SCOPE_TESTS: Final[dict[tuple[str, str], str]] = {
    ("GET", "/api/logs"): "test_list",
    ("DELETE", "/api/logs"): "test_delete_by_ids_and_by_filter",
    ("GET", "/api/logs/{id:path}"): "test_get_by_id",
    ("GET", "/api/logs/stats"): "test_stats",
    ("GET", "/api/logs/histogram"): "test_histograms",
    ("GET", "/api/logs/histogram/tokens"): "test_histograms",
    ("GET", "/api/logs/histogram/cost"): "test_histograms",
    ("GET", "/api/logs/histogram/models"): "test_histograms",
    ("GET", "/api/logs/histogram/latency"): "test_histograms",
    ("GET", "/api/logs/histogram/throughput"): "test_histograms",
    ("GET", "/api/logs/histogram/cost/by-provider"): "test_histograms",
    ("GET", "/api/logs/histogram/tokens/by-provider"): "test_histograms",
    ("GET", "/api/logs/histogram/latency/by-provider"): "test_histograms",
    ("GET", "/api/logs/histogram/throughput/by-provider"): "test_histograms",
    ("GET", "/api/logs/histogram/cost/by-dimension"): "test_histograms",
    ("GET", "/api/logs/histogram/tokens/by-dimension"): "test_histograms",
    ("GET", "/api/logs/histogram/latency/by-dimension"): "test_histograms",
    ("GET", "/api/logs/dropped"): "test_admin_only_routes",
    ("GET", "/api/logs/freshness"): "test_freshness_is_ingest_progress_only",
    ("GET", "/api/logs/{id:str}/similar"): "test_similar",
    ("GET", "/api/logs/rankings"): "test_rankings",
    ("GET", "/api/logs/rankings/by-dimension"): "test_rankings",
    ("GET", "/api/logs/filterdata"): "test_filterdata",
    ("GET", "/api/logs/sessions/{session_id:path}"): "test_sessions",
    ("GET", "/api/logs/sessions/{session_id:str}/summary"): "test_sessions",
    ("GET", "/api/logs/dashboard"): "test_dashboard",
    ("GET", "/api/whoami"): "test_whoami",
    ("GET", "/api/logs/export"): "test_export",
    ("GET", "/api/logs/stream"): "test_live_tail",
    ("WS", "/ws"): "test_live_tail",
}

HISTOGRAMS: Final = (
    "/histogram",
    "/histogram/tokens",
    "/histogram/cost",
    "/histogram/models",
    "/histogram/latency",
    "/histogram/throughput",
    "/histogram/cost/by-provider",
    "/histogram/tokens/by-provider",
    "/histogram/latency/by-provider",
    "/histogram/throughput/by-provider",
    "/histogram/cost/by-dimension",
    "/histogram/tokens/by-dimension",
    "/histogram/latency/by-dimension",
)


def _tokens_file(directory: Path) -> Path:
    scope = "&".join(f"{k}={v}" for k, v in SCOPE.items())
    path = directory / "tokens.toml"
    path.write_text(
        f"""
[[tokens]]
name = "reader"
role = "read"
scope = "{scope}"
hash = "{hash_token(READER)}"

[[tokens]]
name = "deleter"
role = "delete"
scope = "{scope}"
hash = "{hash_token(DELETER)}"

[[tokens]]
name = "admin"
role = "admin"
hash = "{hash_token(ADMIN)}"
"""
    )
    return path


class Api:
    def __init__(self, client: AsyncTestClient[Any], docs: list[dict[str, Any]]) -> None:
        self.client = client
        self.docs = docs
        self.inside = [d for d in docs if d.get("virtual_key_id") == "vk-in"]

    async def get(self, token: str, path: str, params: dict[str, str] | None = None) -> Any:
        return await self.client.get(
            path, params=params or {}, headers={"Authorization": f"Bearer {token}"}
        )

    async def json(self, token: str, path: str, params: dict[str, str] | None = None) -> Any:
        response = await self.get(token, path, params)
        assert response.status_code == 200, (path, params, response.text)
        return response.json()

    async def same_as_filtered(self, path: str, params: dict[str, str]) -> Any:
        """The scoped answer: equal to the admin's with the scope's filter added, different
        from the admin's without it, and free of any value only outside logs have."""
        scoped = await self.get(READER, path, params)
        assert scoped.status_code == 200, (path, params, scoped.text)
        filtered = await self.json(ADMIN, path, {**params, **SCOPE})
        everything = await self.json(ADMIN, path, params)
        assert _comparable(scoped.json()) == _comparable(filtered), (path, params)
        assert _comparable(scoped.json()) != _comparable(everything), (path, params)
        assert_no_leak(scoped.text, path)
        return scoped.json()


def _comparable(body: Any) -> Any:
    """``body`` without what differs between two identical requests: ``next_cursor`` (it
    fingerprints the request's own filters) and the dashboard's ``generated_at``."""
    if not isinstance(body, dict):
        return body
    body = {k: v for k, v in body.items() if k != "next_cursor"}
    if isinstance(body.get("meta"), dict):
        body["meta"] = {k: v for k, v in body["meta"].items() if k != "generated_at"}
    return body


def assert_no_leak(text: str, where: str) -> None:
    leaked = [marker for marker in OUTSIDE_MARKERS if marker in text]
    assert not leaked, f"{where}: the scoped answer shows {leaked}"


@pytest.fixture(scope="module")
def tokens_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tokens")


async def _open(services: Services, directory: Path, alias: str) -> AsyncIterator[Api]:
    settings = ApiSettings(
        opensearch_url=services.opensearch_url,
        index_alias=alias,
        api_tokens_file=str(_tokens_file(directory)),
    )
    admin = make_client(settings)
    docs = seed_logs()
    try:
        await ensure_index(admin, alias)
        await load(admin, alias, docs)
        async with AsyncTestClient(app=create_app(settings)) as client:
            yield Api(client, docs)
    finally:
        await admin.indices.delete(index=f"{alias}*", params={"expand_wildcards": "all"})
        await admin.close()


@pytest.fixture(scope="module")
async def api(services: Services, tokens_dir: Path) -> AsyncIterator[Api]:
    async for opened in _open(services, tokens_dir, f"t-scope-{random.getrandbits(40):010x}"):
        yield opened


# ---------------------------------------------------------------- reads


async def test_list(api: Api) -> None:
    for params in (
        {},
        {"limit": "5"},
        {"sort_by": "cost", "order": "asc", "limit": "100"},
        {"providers": "openai,anthropic"},
        {"content_search": "refund"},
        {"content_search": "refund", "highlight": "true", "limit": "100"},
    ):
        body = await api.same_as_filtered("/api/logs", params)
        assert all(log["virtual_key_id"] == "vk-in" for log in body["logs"])
    body = await api.json(READER, "/api/logs", {"limit": "1000"})
    assert body["total"] == body["stats"]["total_requests"] == len(api.inside)
    assert sorted(log["id"] for log in body["logs"]) == sorted(d["id"] for d in api.inside)
    # Filtering on outside values finds nothing (and no "has_logs" from outside either).
    # Paging with the cursor stays inside the scope.
    seen: list[str] = []
    params = {"limit": "7"}
    while True:
        page = await api.json(READER, "/api/logs", params)
        seen += [log["id"] for log in page["logs"]]
        if page["next_cursor"] is None:
            break
        params = {"limit": "7", "cursor": page["next_cursor"]}
    assert sorted(seen) == sorted(d["id"] for d in api.inside)
    nothing = await api.json(READER, "/api/logs", {"providers": "anthropic,bedrock"})
    assert (nothing["total"], nothing["logs"]) == (0, [])
    assert nothing["has_logs"] is True  # the inside logs exist


async def test_highlight_snippets(api: Api) -> None:
    params = {"content_search": "refund", "highlight": "true", "limit": "100"}
    body = await api.same_as_filtered("/api/logs", params)
    assert body["logs"]
    assert all("<mark>" in " ".join(log["highlights"]) for log in body["logs"])
    secret = await api.json(READER, "/api/logs", {"content_search": "secretword"})
    assert secret["total"] == 0
    everything = await api.json(ADMIN, "/api/logs", {"content_search": "secretword"})
    assert everything["total"] > 0


async def test_get_by_id(api: Api) -> None:
    missing = await api.get(READER, "/api/logs/no-such-log")
    assert missing.status_code == 404
    for path in ("/api/logs/out-001", "/api/logs/" + quote("histogram/tokens", safe="")):
        outside = await api.get(READER, path)
        assert (outside.status_code, outside.json()) == (404, missing.json()), path
        assert (await api.get(ADMIN, path)).status_code == 200
    for path in ("/api/logs/in-001", "/api/logs/" + quote("histogram/cost", safe="")):
        inside = await api.json(READER, path)
        assert inside["virtual_key_id"] == "vk-in"


async def test_stats(api: Api) -> None:
    body = await api.same_as_filtered("/api/logs/stats", dict(WINDOW))
    assert body["total_requests"] == len(api.inside)
    await api.same_as_filtered("/api/logs/stats", {})


async def test_histograms(api: Api) -> None:
    for path in HISTOGRAMS:
        params = dict(WINDOW)
        if path.endswith("by-dimension"):
            for dimension in ("provider", "team_id", "user_id", "business_unit_id"):
                params["dimension"] = dimension
                await api.same_as_filtered(f"/api/logs{path}", params)
        else:
            await api.same_as_filtered(f"/api/logs{path}", params)


async def test_rankings(api: Api) -> None:
    await api.same_as_filtered("/api/logs/rankings", dict(WINDOW))
    for dimension in ("team", "virtual_key", "user", "customer", "business_unit"):
        params = {**WINDOW, "dimension": dimension}
        await api.same_as_filtered("/api/logs/rankings/by-dimension", params)


async def test_filterdata(api: Api) -> None:
    body = await api.same_as_filtered("/api/logs/filterdata", dict(WINDOW))
    assert body["virtual_keys"] == [{"id": "vk-in", "name": "vk-in name", "count": len(api.inside)}]
    assert sorted(body["models"]) == ["gpt-in-0", "gpt-in-1", "gpt-in-2"]
    searched = await api.same_as_filtered("/api/logs/filterdata", {**WINDOW, "q": "out"})
    assert searched["models"] == []


async def test_sessions(api: Api) -> None:
    # Sessions take no log filters: compare with the inside children directly.
    body = await api.json(READER, "/api/logs/sessions/in-000")
    inside_children = sorted(d["id"] for d in api.inside if d.get("parent_request_id") == "in-000")
    assert sorted(log["id"] for log in body["logs"]) == inside_children
    everything = await api.json(ADMIN, "/api/logs/sessions/in-000")
    assert len(everything["logs"]) > len(inside_children)
    summary = await api.json(READER, "/api/logs/sessions/in-000/summary")
    admin_summary = await api.json(ADMIN, "/api/logs/sessions/in-000/summary")
    assert summary != admin_summary
    assert_no_leak(str((body, summary)), "sessions")
    outside = await api.json(READER, "/api/logs/sessions/out-000")
    assert outside["logs"] == []
    outside_summary = await api.json(READER, "/api/logs/sessions/out-000/summary")
    empty_summary = await api.json(READER, "/api/logs/sessions/no-such-session/summary")
    assert outside_summary == {**empty_summary, "session_id": "out-000"}


async def test_dashboard(api: Api) -> None:
    await api.same_as_filtered("/api/logs/dashboard", dict(WINDOW))


async def test_similar(api: Api) -> None:
    body = await api.same_as_filtered("/api/logs/in-001/similar", {"limit": "100"})
    assert body["logs"], "similar logs inside the scope are found"
    outside = await api.get(READER, "/api/logs/out-001/similar")
    missing = await api.get(READER, "/api/logs/no-such-log/similar")
    assert (outside.status_code, outside.json()["error"]) == (404, missing.json()["error"])
    assert (await api.get(ADMIN, "/api/logs/out-001/similar")).status_code == 200


async def test_whoami(api: Api) -> None:
    assert await api.json(READER, "/api/whoami") == {
        "kind": "token",
        "name": "reader",
        "role": "read",
        "roles": ["read"],
        "scoped": True,
        "scope": SCOPE,
    }
    admin = await api.json(ADMIN, "/api/whoami")
    assert (admin["role"], admin["scoped"], admin["scope"]) == ("admin", False, {})
    assert "hash" not in str(admin)


async def test_admin_only_routes(api: Api) -> None:
    for token in (READER, DELETER):
        response = await api.get(token, "/api/logs/dropped")
        assert response.status_code == 403, response.text
        assert response.json()["error"]["message"].endswith("needs role admin")
    assert (await api.get(ADMIN, "/api/logs/dropped")).status_code == 200


async def test_freshness_is_ingest_progress_only(api: Api) -> None:
    """Freshness describes the worker's progress (newest indexed timestamp, lag), not logs:
    it is the same for every caller, as are its headers (docs/security.md says so)."""
    scoped = await api.json(READER, "/api/logs/freshness")
    assert scoped == await api.json(ADMIN, "/api/logs/freshness")
    assert_no_leak(str(scoped), "freshness")


async def test_export(api: Api) -> None:
    """Both formats, with payloads: the scoped file is the admin's with the scope's filter."""
    for params in ({"format": "ndjson", "payloads": "true"}, {"format": "csv"}):
        scoped = await api.get(READER, "/api/logs/export", params)
        assert scoped.status_code == 200, scoped.text
        filtered = await api.get(ADMIN, "/api/logs/export", {**params, **SCOPE})
        everything = await api.get(ADMIN, "/api/logs/export", params)
        assert scoped.text == filtered.text
        assert scoped.text != everything.text
        assert_no_leak(scoped.text, f"export {params}")
    lines = (await api.get(READER, "/api/logs/export", {"format": "ndjson"})).text.splitlines()
    assert len(lines) == len(api.inside)


async def test_live_tail(services: Services, tmp_path: Path, unique_name: str) -> None:
    """``/api/logs/stream`` (live and resumed) and ``/ws`` send a scoped caller only the
    changes inside its scope, through a real server."""
    from tests.integration.test_api_stream import serve, sse

    settings = ApiSettings(
        opensearch_url=services.opensearch_url,
        index_alias=unique_name,
        api_tokens_file=str(_tokens_file(tmp_path)),
        api_port=0,
        api_log_level="warning",
    )
    admin = make_client(settings)
    docs = {d["id"]: d for d in seed_logs()}
    before = Change(time.time_ns() - 1_000_000_000, "0")
    try:
        await ensure_index(admin, unique_name)
        async with serve(settings) as base:
            url = f"{base.replace('http', 'ws', 1)}/ws"
            async with (
                sse(base, headers=_bearer(READER)) as scoped,
                sse(base, headers=_bearer(ADMIN)) as everything,
                aiohttp.ClientSession() as session,
                session.ws_connect(url, headers=_bearer(READER)) as ws,
            ):
                marker = format_nanos(time.time_ns())
                changed = [{**docs[i], "indexed_at": marker} for i in ("out-000", "in-000")]
                await load(admin, unique_name, changed)
                got = [(await everything.next()).data["log"]["id"] for _ in changed]
                assert sorted(got) == ["in-000", "out-000"]
                event = await scoped.next()
                assert event.data["log"]["id"] == "in-000"
                frame = await ws.receive(timeout=30)
                assert msgspec.json.decode(frame.data)["payload"]["id"] == "in-000"
                assert_no_leak(frame.data, "/ws")
                assert_no_leak(json.dumps(event.data), "stream")
                await scoped.nothing_more(1.0)
            headers = {**_bearer(READER), "Last-Event-ID": encode_token(before)}
            async with sse(base, headers=headers) as resumed:
                assert (await resumed.next()).data["log"]["id"] == "in-000"
                await resumed.nothing_more(1.0)
    finally:
        await admin.indices.delete(index=f"{unique_name}*", params={"expand_wildcards": "all"})
        await admin.close()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- delete


@pytest.fixture
async def fresh(services: Services, tmp_path: Path, unique_name: str) -> AsyncIterator[Api]:
    async for opened in _open(services, tmp_path, unique_name):
        yield opened


async def _delete(api: Api, token: str, params: dict[str, str], body: Any = None) -> Any:
    return await api.client.request(
        "DELETE",
        "/api/logs",
        params=params,
        content=msgspec.json.encode(body) if body is not None else b"",
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )


async def test_delete_by_ids_and_by_filter(
    fresh: Api, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    api = fresh
    both = {"ids": ["in-001", "out-001"]}
    refused = await _delete(api, READER, {}, both)
    assert refused.status_code == 403, refused.text

    dry = await _delete(api, DELETER, {"dry_run": "true"}, both)
    assert (dry.status_code, dry.json()["matched"]) == (200, 1), dry.text
    done = await _delete(api, DELETER, {}, both)
    assert (done.status_code, done.json()["deleted"], done.json()["matched"]) == (200, 1, 1)
    assert (await api.get(ADMIN, "/api/logs/out-001")).status_code == 200
    assert (await api.get(ADMIN, "/api/logs/in-001")).status_code == 404

    outside_only = {"providers": "anthropic,bedrock"}
    dry = await _delete(api, DELETER, {**outside_only, "dry_run": "true"})
    assert dry.json()["matched"] == 0, dry.text
    done = await _delete(api, DELETER, outside_only)
    assert (done.json()["matched"], done.json()["deleted"]) == (0, 0), done.text

    remaining_inside = len(api.inside) - 1
    dry = await _delete(api, DELETER, {"all": "true", "dry_run": "true"})
    assert dry.json()["matched"] == remaining_inside, dry.text
    done = await _delete(api, DELETER, {"all": "true"})
    assert done.json()["deleted"] == remaining_inside, done.text

    left = await api.json(ADMIN, "/api/logs", {"limit": "1000"})
    assert left["total"] == len(api.docs) - len(api.inside)
    assert all(log["virtual_key_id"] == "vk-out" for log in left["logs"])

    # The audit names the token and records the query as sent: the scope included.
    audit = await opensearch.search(index=audit_index(unique_name), body={"size": 10})
    records = [hit["_source"] for hit in audit["hits"]["hits"]]
    assert len(records) == 3
    assert {r["principal"] for r in records} == {"token:deleter"}
    assert all('"virtual_key_id":["vk-in"]' in r["query"] for r in records)
