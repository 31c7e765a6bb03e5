"""Sessions: parameters, bodies and parsing, without services; routing with a fake store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.parsing import InvalidParameter
from api.sessions import (
    build_session,
    build_session_summary,
    parse_session,
    parse_session_page,
    parse_session_summary,
)
from api.settings import ApiSettings
from api.store import LogStore


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"limit": ["0"]}, "limit"),
        ({"limit": ["501"]}, "limit"),
        ({"limit": ["x"]}, "limit"),
        ({"offset": ["-1"]}, "offset"),
        ({"order": ["up"]}, "order"),
        ({"status": ["error"]}, "status"),
    ],
)
def test_bad_page_parameters(query: dict[str, list[str]], param: str) -> None:
    with pytest.raises(InvalidParameter) as error:
        parse_session_page("s", query)
    assert error.value.param == param


def test_page_defaults_and_sort() -> None:
    page = parse_session_page("s", {})
    assert (page.limit, page.offset, page.order) == (500, 0, "asc")
    body = build_session(parse_session_page("s", {"order": ["desc"], "offset": ["3"]}))
    assert body["sort"] == [
        {"timestamp": {"order": "desc", "missing": 0}},
        {"id": {"order": "desc"}},
    ]
    assert body["from"] == 3
    assert body["query"] == {"bool": {"filter": [{"term": {"parent_request_id": "s"}}]}}


def test_page_answer_counts() -> None:
    page = parse_session_page("s", {"limit": ["1"], "offset": ["1"]})
    raw = msgspec.json.encode(
        {"hits": {"total": {"value": 3}, "hits": [{"_source": {"id": "b"}, "sort": [1, "b"]}]}}
    )
    answer = parse_session(page, raw)
    assert (answer.count, answer.returned_count, answer.has_more) == (3, 1, True)
    assert answer.pagination.total_count == 3
    assert bytes(answer.logs[0]) == b'{"id":"b"}'


def test_summary_times_are_nanosecond_rfc3339_and_duration_in_ms() -> None:
    raw = msgspec.json.encode(
        {
            "hits": {"total": {"value": 2}, "hits": []},
            "aggregations": {
                "cost": {"value": 0.5},
                "tokens": {"value": 30.0},
                "stamped": {
                    "first": {"hits": {"total": {"value": 2}, "hits": [{"sort": [1_000_000_001]}]}},
                    "last": {"hits": {"total": {"value": 2}, "hits": [{"sort": [3_500_000_002]}]}},
                },
            },
        }
    )
    summary = parse_session_summary("s", raw)
    assert summary.started_at == "1970-01-01T00:00:01.000000001Z"
    assert summary.latest_at == "1970-01-01T00:00:03.500000002Z"
    assert (summary.duration_ms, summary.total_tokens, summary.count) == (2500, 30, 2)
    assert "aggs" in build_session_summary("s")
    empty = msgspec.json.encode({"hits": {"total": {"value": 0}, "hits": []}})
    body = msgspec.json.decode(msgspec.json.encode(parse_session_summary("s", empty)))
    assert body == {
        "session_id": "s",
        "count": 0,
        "total_cost": 0.0,
        "total_tokens": 0,
        "duration_ms": 0,
    }


class RecordingStore(LogStore):
    """Answers every search with no hits and records the bodies."""

    def __init__(self, settings: ApiSettings) -> None:
        super().__init__(settings)
        self.bodies: list[dict[str, Any]] = []

    async def query(self, what: str, body: dict[str, Any], index: str | None = None) -> bytes:
        self.bodies.append(body)
        return b'{"hits":{"total":{"value":0},"hits":[]},"aggregations":{}}'

    async def multi_query(self, what: str, bodies: Sequence[dict[str, Any]]) -> list[bytes]:
        return [await self.query(what, body) for body in bodies]


@pytest.mark.parametrize(
    ("path", "session_id", "summary"),
    [
        ("/api/logs/sessions/abc", "abc", False),
        ("/api/logs/sessions/abc/summary", "abc", True),
        ("/api/logs/sessions/a%2Fb", "a/b", False),
        ("/api/logs/sessions/a%2Fb/summary", "a/b", True),
        ("/api/logs/sessions/a%2Fsummary", "a/summary", False),
        ("/api/logs/sessions/a%2Fsummary/summary", "a/summary", True),
    ],
)
def test_session_paths_win_over_the_log_catch_all(
    path: str, session_id: str, summary: bool
) -> None:
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1")
    store = RecordingStore(settings)
    with TestClient(create_app(settings, store)) as client:
        response = client.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["session_id"] == session_id
    assert ("logs" in body) is not summary
    assert store.bodies[0]["query"]["bool"]["filter"] == [
        {"term": {"parent_request_id": session_id}}
    ]


class LogStoreOfOne(RecordingStore):
    """Holds one log, whose id starts with "sessions/"."""

    async def get(self, log_id: str) -> msgspec.Raw | None:
        self.bodies.append({"get": log_id})
        return msgspec.Raw(b'{"id":"sessions/x"}') if log_id == "sessions/x" else None


_LOCATE_Y = {"query": {"bool": {"filter": [{"term": {"id": "sessions/y"}}]}}}


@pytest.mark.parametrize(
    ("path", "status", "first"),
    [
        ("/api/logs/sessions%2Fx", 200, {"get": "sessions/x"}),
        ("/api/logs/sessions%2fx", 200, {"get": "sessions/x"}),
        ("/api/logs/sessions%2Fy%2Fsummary", 404, {"get": "sessions/y/summary"}),
        ("/api/logs/sessions%2Fy/similar", 404, _LOCATE_Y),
    ],
)
def test_a_log_id_starting_with_sessions_is_a_log_not_a_500(
    path: str, status: int, first: dict[str, Any]
) -> None:
    # The router matches the decoded path (/api/logs/sessions/x): the raw path names a log.
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1")
    store = LogStoreOfOne(settings)
    with TestClient(create_app(settings, store)) as client:
        response = client.get(path)
    assert response.status_code == status, response.text
    assert {k: store.bodies[0][k] for k in first} == first  # then, maybe, the freshness read
    if status == 200:
        assert response.json() == {"id": "sessions/x"}
    else:
        assert response.json()["error"]["message"] == "log not found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/logs/rankings",
        "/api/logs/rankings/by-dimension?dimension=team",
        "/api/logs/filterdata",
    ],
)
def test_fixed_paths_win_over_the_log_catch_all(path: str) -> None:
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1")
    store = RecordingStore(settings)
    with TestClient(create_app(settings, store)) as client:
        response = client.get(path)
    assert response.status_code == 200, response.text
    assert "aggs" in store.bodies[0]
    assert "id" not in response.json()


def test_openapi_documents_every_new_endpoint() -> None:
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1")
    with TestClient(create_app(settings)) as client:
        doc = client.get("/docs/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for path, name in [
        ("/api/logs/rankings", "ModelRankingResult"),
        ("/api/logs/rankings/by-dimension", "DimensionRankingResult"),
        ("/api/logs/filterdata", "FilterData"),
        ("/api/logs/sessions/{session_id}", "SessionLogsDoc"),
        ("/api/logs/sessions/{session_id}/summary", "SessionSummary"),
    ]:
        operation = doc["paths"][path]["get"]
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/" + name), (path, ref)
        assert name in schemas
        names = {p["name"] for p in operation.get("parameters", [])}
        assert "providers" in names or "session_id" in names, path
    params = {
        p["name"] for p in doc["paths"]["/api/logs/rankings/by-dimension"]["get"]["parameters"]
    }
    assert {"dimension", "limit", "all", "start_time"} <= params


@pytest.mark.parametrize(
    ("path", "first"),
    [
        ("/api/logs/stats%2F", {"get": "stats/"}),
        ("/api/logs/dashboard%2F", {"get": "dashboard/"}),
        ("/api/logs/histogram%2Fcost", {"get": "histogram/cost"}),
        ("/api/logs/rankings%2Fby-dimension", {"get": "rankings/by-dimension"}),
        ("/api/logs/freshness%2f", {"get": "freshness/"}),
        (
            "/api/logs/stats%2F/similar",
            {"query": {"bool": {"filter": [{"term": {"id": "stats/"}}]}}},
        ),
    ],
)
def test_a_log_id_holding_a_fixed_route_name_and_a_slash_is_a_log(
    path: str, first: dict[str, Any]
) -> None:
    # The router matches the decoded path (/api/logs/stats/ is the stats): the raw path
    # names a log, as docs/api.md promises for every id.
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1")
    store = LogStoreOfOne(settings)
    with TestClient(create_app(settings, store)) as client:
        response = client.get(path)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["message"] == "log not found"
    assert {k: store.bodies[0][k] for k in first} == first
