"""Pure parts of dropped, freshness, DELETE /api/logs and similar; their routes with a fake
store (routing next to the catch-all, auth, headers, OpenAPI)."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest

from api.auth import Authenticator
from api.deletion import (
    DeleteIncomplete,
    audit_finished,
    audit_started,
    build_delete_query,
    parse_count,
    parse_delete,
    parse_deleted,
)
from api.dropped import build_dropped, parse_dropped, parse_dropped_response
from api.filters import LogFilter
from api.freshness import (
    CONSUMER_LAG,
    INDEXED_THROUGH,
    UNKNOWN,
    Freshness,
    FreshnessCache,
    freshness_headers,
    parse_progress,
)
from api.parsing import InvalidParameter, Raw, parse_time
from api.settings import ApiSettings
from api.similar import (
    build_locate,
    build_similar,
    parse_locate,
    parse_similar,
    parse_similar_response,
    similar_target,
)
from shared.errors import StoreUnavailable
from shared.settings import Secret

NOW = parse_time("now", "2026-03-02T00:00:00Z")


def raw(**params: str) -> Raw:
    return {k: [v] for k, v in params.items()}


def bad(param: str, call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidParameter) as info:
        call(*args, **kwargs)
    assert info.value.param == param
    return info.value.message


# -- dropped -------------------------------------------------------------------------------


def test_dropped_window_and_bucket_size() -> None:
    q = parse_dropped(raw(), now_ns=NOW)
    assert (q.start_ms, q.end_ms, q.bucket_seconds, q.dense) == (None, None, 3600, False)
    q = parse_dropped(raw(period="24h"), now_ns=NOW)
    assert q.bucket_seconds == 900  # 96 buckets: the first of the table under 200
    assert q.dense
    q = parse_dropped(raw(start_time="2026-03-01T00:00:00.0000001Z"), now_ns=NOW)
    assert q.start_ms == 1_772_323_200_001  # a start inside a millisecond rounds up
    assert q.end_ms == NOW // 1_000_000  # an open end is now
    q = parse_dropped(raw(end_time="2026-03-01T00:00:00Z", bucket_size_seconds="60"))
    assert (q.start_ms, q.bucket_seconds, q.dense) == (None, 60, False)
    bad("bucket_size_seconds", parse_dropped, raw(bucket_size_seconds="59"))
    bad(
        "bucket_size_seconds",
        parse_dropped,
        raw(period="30d", bucket_size_seconds="60"),
        now_ns=NOW,
    )
    bad("models", parse_dropped, raw(models="gpt-4o"))  # no other filter applies
    bad(
        "start_time",
        parse_dropped,
        raw(start_time="2026-03-02T00:00:00Z", end_time="2026-03-01T00:00:00Z"),
    )


def test_dropped_body_fills_the_window_only_when_it_is_known() -> None:
    dense = build_dropped(parse_dropped(raw(period="1h"), now_ns=NOW))
    histogram = dense["aggs"]["over_time"]["date_histogram"]
    assert histogram["fixed_interval"] == "60s"
    assert histogram["min_doc_count"] == 0
    assert histogram["extended_bounds"] == {"min": NOW // 10**6 - 3_600_000, "max": NOW // 10**6}
    assert dense["query"]["range"]["timestamp"]["gte"] == NOW // 10**6 - 3_600_000
    sparse = build_dropped(parse_dropped(raw()))
    assert sparse["query"] == {"match_all": {}}
    assert sparse["aggs"]["over_time"]["date_histogram"]["min_doc_count"] == 1


def test_dropped_response_is_parsed() -> None:
    q = parse_dropped(raw(start_time="2026-03-01T00:00:00Z", end_time="2026-03-01T00:01:59Z"))
    response = {
        "hits": {"total": {"value": 3}},
        "aggregations": {
            "by_reason": {
                "buckets": [
                    {"key": "invalid", "doc_count": 1},
                    {"key": "undecodable", "doc_count": 2},
                ]
            },
            "over_time": {
                "buckets": [
                    {
                        "key": 1_772_323_200_000,
                        "doc_count": 3,
                        "by_reason": {
                            "buckets": [
                                {"key": "undecodable", "doc_count": 2},
                                {"key": "invalid", "doc_count": 1},
                            ]
                        },
                    },
                    {"key": 1_772_323_260_000, "doc_count": 0, "by_reason": {"buckets": []}},
                ]
            },
        },
    }
    body = msgspec.to_builtins(parse_dropped_response(msgspec.json.encode(response), q))
    assert body["dropped_requests"] == 3
    assert body["by_reason"] == [
        {"reason": "invalid", "count": 1},
        {"reason": "undecodable", "count": 2},
    ]
    assert body["buckets"][1] == {
        "timestamp": "2026-03-01T00:01:00.000000000Z",
        "count": 0,
        "by_reason": [],
    }
    assert body["start_time"] == "2026-03-01T00:00:00.000000000Z"
    assert body["end_time"] == "2026-03-01T00:01:59.000000000Z"
    assert body["bucket_size_seconds"] == 60


# -- freshness -----------------------------------------------------------------------------


def _progress(*docs: dict[str, Any]) -> bytes:
    return msgspec.json.encode({"hits": {"hits": [{"_source": d} for d in docs]}})


def test_freshness_sums_lag_and_takes_the_newest_time() -> None:
    raw_progress = _progress(
        {
            "topic": "t",
            "partition": 0,
            "consumer_group": "g",
            "committed_offset": 9,
            "high_watermark": 12,
            "lag": 3,
            "newest_event_ns": NOW,
            "updated_at": 1000,
        },
        {
            "topic": "t",
            "partition": 1,
            "consumer_group": "g",
            "committed_offset": 4,
            "lag": 0,
            "updated_at": 2000,
        },
        {
            "topic": "t",
            "partition": 2,
            "committed_offset": 0,
            "updated_at": 1500,
            "newest_event_ns": NOW - 5,
        },
    )
    f = parse_progress(raw_progress)
    assert f.indexed_through == "2026-03-02T00:00:00.000000000Z"
    assert f.consumer_lag == 3
    assert f.updated_at == "1970-01-01T00:00:02.000000000Z"
    assert [p.lag for p in f.partitions] == [3, 0, None]
    assert f.partitions[1].newest_event_time is None
    assert freshness_headers(f) == {INDEXED_THROUGH: f.indexed_through, CONSUMER_LAG: "3"}
    assert parse_progress(_progress()) == UNKNOWN
    assert freshness_headers(UNKNOWN) == {}


async def test_freshness_cache_reads_at_most_once_per_ttl_and_survives_outages() -> None:
    now = [0.0]
    reads: list[float] = []
    answers: list[Freshness | Exception] = [
        parse_progress(
            _progress(
                {"topic": "t", "partition": 0, "committed_offset": 1, "lag": 2, "updated_at": 1}
            )
        ),
        StoreUnavailable("down"),
    ]

    async def read() -> Freshness:
        reads.append(now[0])
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    cache = FreshnessCache(read, ttl=1.0, clock=lambda: now[0])
    assert (await cache.get()).consumer_lag == 2
    now[0] = 0.9
    assert (await cache.get()).consumer_lag == 2
    assert reads == [0.0]
    now[0] = 1.5
    assert await cache.get() == UNKNOWN  # the outage is cached too
    now[0] = 2.0
    assert await cache.get() == UNKNOWN
    assert reads == [0.0, 1.5]


# -- DELETE --------------------------------------------------------------------------------


def test_delete_request_bifrost_errors_and_refusals() -> None:
    assert bad("body", parse_delete, raw(), b"{nope").startswith("Invalid JSON")
    assert bad("body", parse_delete, raw(), b'{"ids": "a"}').startswith("Invalid JSON")
    assert bad("body", parse_delete, raw(), b'{"idz": ["a"]}').startswith("Invalid JSON")
    assert bad("ids", parse_delete, raw(), b'{"ids": []}') == "No log IDs provided"
    assert bad("ids", parse_delete, raw(), b'{"ids": ["", ""]}') == "No log IDs provided"
    assert bad("ids", parse_delete, raw(), b"{}") == "No log IDs provided"
    assert "all=true" in bad("all", parse_delete, raw(), b"")
    assert "all=true" in bad("all", parse_delete, raw(all="false"), b"  ")
    bad("limit", parse_delete, raw(limit="5", all="true"), b"")
    bad("dry_run", parse_delete, raw(dry_run="maybe", providers="x"), b"")


def test_delete_request_by_ids_filter_or_all() -> None:
    req = parse_delete(raw(), b'{"ids": ["b", "a", "b"]}')
    assert req.ids == ("a", "b")
    assert build_delete_query(req) == {"bool": {"filter": [{"terms": {"id": ["a", "b"]}}]}}
    req = parse_delete(raw(providers="openai", dry_run="true"), b"")
    assert req.dry_run
    assert req.ids is None
    assert build_delete_query(req) == {"bool": {"filter": [{"terms": {"provider": ["openai"]}}]}}
    req = parse_delete(raw(all="true"), b"")
    assert req.all
    assert req.filter == LogFilter()
    assert build_delete_query(req) == {"match_all": {}}
    both = build_delete_query(parse_delete(raw(models="m"), b'{"ids": ["a"]}'))
    assert both["bool"]["filter"] == [{"terms": {"model": ["m"]}}, {"terms": {"id": ["a"]}}]


def test_delete_answers_and_audit() -> None:
    result = parse_deleted(
        b'{"took":3,"timed_out":false,"total":5,"deleted":4,"version_conflicts":1,"failures":[]}'
    )
    assert (result.matched, result.deleted, result.version_conflicts, result.dry_run) == (
        5,
        4,
        1,
        False,
    )
    assert result.message == "Logs deleted successfully"
    with pytest.raises(DeleteIncomplete):
        parse_deleted(b'{"timed_out":false,"total":5,"deleted":4,"failures":[{"cause":{}}]}')
    with pytest.raises(DeleteIncomplete):
        parse_deleted(b'{"timed_out":true,"total":5,"deleted":4,"failures":[]}')
    dry = parse_count(b'{"count": 7}')
    assert (dry.matched, dry.deleted, dry.dry_run) == (7, 0, True)
    req = parse_delete(raw(providers="openai"), b'{"ids": ["a"]}')
    started = audit_started(req, "basic:ops", 100)
    assert (started.state, started.principal, started.at, started.ids, started.all) == (
        "started",
        "basic:ops",
        100,
        1,
        False,
    )
    assert msgspec.json.decode(started.query) == build_delete_query(req)
    done = audit_finished(started, result, None, 200)
    assert (done.state, done.deleted, done.matched, done.finished_at) == ("done", 4, 5, 200)
    failed = audit_finished(started, None, "boom", 300)
    assert (failed.state, failed.error, failed.deleted) == ("failed", "boom", None)


# -- similar -------------------------------------------------------------------------------


def test_similar_target_reads_the_raw_path() -> None:
    assert similar_target("abc", b"/api/logs/abc") is None
    assert similar_target("abc/similar", b"/api/logs/abc/similar") == "abc"
    assert similar_target("abc/similar", b"/api/logs/abc/similar?limit=3") == "abc"
    assert similar_target("a/b/similar", b"/api/logs/a%2Fb/similar") == "a/b"
    assert similar_target("x/similar", b"/api/logs/x%2Fsimilar") is None  # part of the id
    assert similar_target("x/similar", b"/api/logs/x%2fsimilar") is None
    assert similar_target("/similar", b"/api/logs//similar") is None
    assert similar_target("x/similar", None) == "x"


def test_similar_parameters_and_bodies() -> None:
    assert parse_similar(raw()).limit == 10
    assert parse_similar(raw(limit="100")).limit == 100
    assert bad("limit", parse_similar, raw(limit="101")) == "limit cannot exceed 100"
    bad("limit", parse_similar, raw(limit="0"))
    bad("offset", parse_similar, raw(offset="1"))
    q = parse_similar(raw(providers="openai", limit="3"))
    body = build_similar(q, "logs-v1", "a")
    mlt = body["query"]["bool"]["must"][0]["more_like_this"]
    assert mlt["like"] == [{"_index": "logs-v1", "_id": "a"}]
    assert mlt["fields"] == ["search_text"]
    assert mlt["include"] is False
    assert body["query"]["bool"]["filter"] == [{"terms": {"provider": ["openai"]}}]
    assert body["sort"] == [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}]
    assert body["size"] == 3
    assert "search_text" in body["_source"]["excludes"]
    assert build_locate("a")["_source"] is False
    assert parse_locate(b'{"hits":{"hits":[{"_index":"logs-v1","_id":"a"}]}}') == ("logs-v1", "a")
    assert parse_locate(b'{"hits":{"hits":[]}}') is None
    answer = parse_similar_response(b'{"hits":{"hits":[{"_source":{"id":"b"}}]}}', "a")
    assert msgspec.json.decode(msgspec.json.encode(answer)) == {
        "id": "a",
        "logs": [{"id": "b"}],
        "count": 1,
    }


# -- principal -----------------------------------------------------------------------------


def test_principal_names_the_caller_never_the_token() -> None:
    assert Authenticator(ApiSettings()).authenticate({}).principal == "anonymous"
    auth = Authenticator(
        ApiSettings(
            api_tokens=Secret("s3cret"), api_basic_username="ops", api_basic_password=Secret("pw")
        )
    )
    basic = "Basic " + base64.b64encode(b"ops:pw").decode()
    assert auth.authenticate({"authorization": basic}).principal == "basic:ops"
    by_bearer = auth.authenticate({"authorization": "Bearer s3cret"}).principal
    assert by_bearer == auth.authenticate({"x-api-key": "s3cret"}).principal
    assert by_bearer.startswith("token:")
    assert "s3cret" not in by_bearer
    assert len(by_bearer) == len("token:") + 12
