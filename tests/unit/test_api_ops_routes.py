"""The ops routes with a fake store: fixed paths next to the ``/logs/{id:path}`` catch-all,
freshness headers read once per second, auth on DELETE, the OpenAPI document."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.testing import TestClient

from api.app import OPENAPI_JSON, create_app
from api.freshness import CONSUMER_LAG, INDEXED_THROUGH
from api.parsing import parse_time
from api.settings import ApiSettings
from api.store import LogStore
from shared.settings import Secret

NOW = parse_time("now", "2026-03-02T00:00:00Z")


def _progress(*docs: dict[str, Any]) -> bytes:
    return msgspec.json.encode({"hits": {"hits": [{"_source": d} for d in docs]}})


# -- routes with a fake store --------------------------------------------------------------

PROGRESS = _progress(
    {
        "topic": "t",
        "partition": 0,
        "committed_offset": 9,
        "lag": 4,
        "newest_event_ns": NOW,
        "updated_at": 1,
    }
)
DROPPED = b'{"hits":{"total":{"value":2}},"aggregations":{}}'


class FakeStore(LogStore):
    def __init__(self, settings: ApiSettings) -> None:
        super().__init__(settings)
        self.calls: list[tuple[str, str | None]] = []

    async def query(self, what: str, body: dict[str, Any], index: str | None = None) -> bytes:
        self.calls.append((what, index))
        if what == "freshness":
            return PROGRESS
        if what == "dropped":
            return DROPPED
        if what == "similar: find":
            return b'{"hits":{"hits":[]}}'
        raise AssertionError(what)

    async def count(self, what: str, query: dict[str, Any]) -> bytes:
        return b'{"count": 3}'


def _client(settings: ApiSettings) -> tuple[TestClient[Any], FakeStore]:
    store = FakeStore(settings)
    return TestClient(create_app(settings, store)), store


def test_fixed_paths_win_over_the_catch_all_and_carry_freshness_headers() -> None:
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1", index_alias="logs")
    api, store = _client(settings)
    with api:
        dropped = api.get("/api/logs/dropped")
        assert dropped.status_code == 200, dropped.text
        assert dropped.json()["dropped_requests"] == 2
        assert dropped.headers[CONSUMER_LAG] == "4"
        assert dropped.headers[INDEXED_THROUGH] == "2026-03-02T00:00:00.000000000Z"
        fresh = api.get("/api/logs/freshness")
        assert fresh.json()["consumer_lag"] == 4
        assert api.get("/api/logs/x/similar").status_code == 404
        dry = api.delete("/api/logs", params={"models": "m", "dry_run": "true"})
        assert dry.json()["matched"] == 3
    # One progress read served every request (cached for a second).
    assert store.calls.count(("freshness", "logs-progress")) == 1
    assert ("dropped", "logs-dropped") in store.calls


def test_delete_needs_credentials_when_auth_is_on() -> None:
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1", api_tokens=Secret("tok"))
    api, _ = _client(settings)
    with api:
        refused = api.delete("/api/logs", params={"models": "m", "dry_run": "true"})
        assert refused.status_code == 401
        assert CONSUMER_LAG not in refused.headers  # nothing about ingestion before auth
        allowed = api.delete(
            "/api/logs", params={"models": "m", "dry_run": "true"}, headers={"x-api-key": "tok"}
        )
        assert allowed.status_code == 200


def test_openapi_documents_every_ops_route() -> None:
    with TestClient(create_app(ApiSettings(opensearch_url="http://127.0.0.1:1"))) as api:
        doc = api.get(OPENAPI_JSON).json()
    paths = doc["paths"]
    for path, method in (
        ("/api/logs/dropped", "get"),
        ("/api/logs/freshness", "get"),
        ("/api/logs", "delete"),
        ("/api/logs/{id}/similar", "get"),
    ):
        op = paths[path][method]
        assert "200" in op["responses"], path
        assert op["responses"]["200"]["content"]["application/json"]["schema"], path
    names = {p["name"] for p in paths["/api/logs"]["delete"]["parameters"]}
    assert {"dry_run", "all", "providers", "start_time"} <= names
    similar = doc["components"]["schemas"]["SimilarLogsResponse"]["properties"]["logs"]
    assert similar["items"]["$ref"].endswith("/LogListItem")
    names = {p["name"] for p in paths["/api/logs/{id}/similar"]["get"]["parameters"]}
    assert {"id", "limit", "models"} <= names
    names = {p["name"] for p in paths["/api/logs/dropped"]["get"]["parameters"]}
    assert names == {"start_time", "end_time", "period", "bucket_size_seconds"}
