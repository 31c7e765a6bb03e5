"""LogQuery -> OpenSearch body, and search response -> page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from api.params import Cursor, encode_cursor, fingerprint, parse_params
from api.query import (
    LIST_EXCLUDES,
    MISSING_COST,
    SearchResponse,
    Stats,
    build_get,
    build_search,
    decode_search,
    format_nanos,
    parse_search,
    stored_log,
)
from shared.index import DERIVED_FIELDS
from shared.schema import HEAVY_FIELDS


def body(**params: str) -> dict[str, Any]:
    return build_search(parse_params({k: [v] for k, v in params.items()}))


def filters(**params: str) -> list[dict[str, Any]]:
    query = body(**params)["query"]
    assert "bool" in query, query
    result: list[dict[str, Any]] = query["bool"]["filter"]
    return result


def test_no_parameters() -> None:
    b = body()
    assert b["query"] == {"match_all": {}}
    assert b["sort"] == [
        {"timestamp": {"order": "desc", "missing": 0}},
        {"id": {"order": "asc"}},
    ]
    assert (b["size"], b["from"], b["track_total_hits"]) == (50, 0, True)
    assert "search_after" not in b
    assert set(b["_source"]["excludes"]) == set(DERIVED_FIELDS) | HEAVY_FIELDS
    # A list page computes no aggregation (stats live in GET /api/logs/stats, as in Bifrost).
    assert "aggs" not in b


@pytest.mark.parametrize(
    ("sort_by", "field"),
    [
        ("timestamp", "timestamp"),
        ("latency", "latency"),
        ("tokens", "total_tokens"),
        ("cost", "cost"),
    ],
)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_always_ends_with_unique_tiebreaker(sort_by: str, field: str, order: str) -> None:
    # missing values last in both directions; date_nanos desc uses the epoch (see sort_clause)
    missing = 0 if (sort_by, order) == ("timestamp", "desc") else "_last"
    assert body(sort_by=sort_by, order=order)["sort"] == [
        {field: {"order": order, "missing": missing}},
        {"id": {"order": "asc"}},
    ]


def test_list_filters_are_terms() -> None:
    assert filters(providers="openai,anthropic", status="error", request_id="x") == [
        {"terms": {"provider": ["anthropic", "openai"]}},
        {"terms": {"status": ["error"]}},
        {"terms": {"id": ["x"]}},
    ]


def test_ranges_are_inclusive() -> None:
    assert filters(min_latency="10", max_latency="20.5", min_cost="0", min_tokens="5") == [
        {"range": {"latency": {"gte": 10.0, "lte": 20.5}}},
        {"range": {"cost": {"gte": 0.0}}},
        {"range": {"total_tokens": {"gte": 5}}},
    ]


def test_time_range_in_nanoseconds_utc() -> None:
    assert filters(start_time="2024-05-01T14:00:00.5+02:00", end_time="2024-05-02T00:00:00Z") == [
        {
            "range": {
                "timestamp": {
                    "gte": "2024-05-01T12:00:00.500000000Z",
                    "lte": "2024-05-02T00:00:00.000000000Z",
                    "format": "strict_date_optional_time_nanos",
                }
            }
        }
    ]


def test_time_range_clamped_to_date_nanos() -> None:
    # Bounds beyond date_nanos drop out, but still exclude logs without a timestamp.
    assert filters(start_time="1900-01-01T00:00:00Z") == [{"exists": {"field": "timestamp"}}]
    assert filters(end_time="9999-01-01T00:00:00Z") == [{"exists": {"field": "timestamp"}}]
    assert filters(start_time="1970-01-01T00:00:00Z") == [{"exists": {"field": "timestamp"}}]
    assert filters(end_time="1969-01-01T00:00:00Z") == [{"match_none": {}}]
    assert filters(start_time="2300-01-01T00:00:00Z") == [{"match_none": {}}]


def test_format_nanos() -> None:
    assert format_nanos(1) == "1970-01-01T00:00:00.000000001Z"
    # Years before 1000 keep four digits (RFC 3339), whatever the platform's strftime does.
    early = int(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()) * 1_000_000_000
    assert format_nanos(early + 7) == "0999-01-02T03:04:05.000000007Z"
    assert format_nanos(-62135596800 * 1_000_000_000) == "0001-01-01T00:00:00.000000000Z"


def test_missing_cost_only() -> None:
    assert filters(missing_cost_only="true") == [MISSING_COST]
    assert body(missing_cost_only="false")["query"] == {"match_all": {}}


def test_metadata() -> None:
    assert filters(metadata_env="prod") == [{"term": {"metadata_kv": "env\x1fprod"}}]


def test_content_search_words_and_phrases() -> None:
    assert filters(content_search='Hello "big world" there') == [
        {
            "match": {
                "search_text": {
                    "query": "Hello there",
                    "operator": "and",
                    "zero_terms_query": "all",
                }
            }
        },
        {"match_phrase": {"search_text": {"query": "big world", "zero_terms_query": "all"}}},
    ]


@pytest.mark.parametrize(
    "text",
    ["*", '"', "\\", "OR", "/.*/", '{"script": {"source": "x"}}', 'a "b', "title:x AND y~2"],
)
def test_content_search_is_only_match_queries(text: str) -> None:
    encoded = json.dumps(body(content_search=text)["query"])
    for forbidden in ("query_string", "regexp", 'script":', "wildcard", "prefix", "fuzzy"):
        # the user's text may contain the word; the query types must not appear as keys
        assert f'"{forbidden}' not in encoded.replace(json.dumps(text)[1:-1], "")
    query = body(content_search=text)["query"]
    for clause in query.get("bool", {}).get("filter", []):
        assert set(clause) <= {"match", "match_phrase"}


def test_cursor_becomes_search_after() -> None:
    q = parse_params({"sort_by": ["latency"]})
    cursor = Cursor(fingerprint=fingerprint(q), after=(12.5, "abc"), position=30_000)
    b = build_search(parse_params({"sort_by": ["latency"], "cursor": [encode_cursor(cursor)]}))
    assert b["search_after"] == [12.5, "abc"]
    assert "from" not in b


def test_get_by_id() -> None:
    b = build_get("abc")
    assert b["query"] == {"bool": {"filter": [{"term": {"id": "abc"}}]}}
    assert "_source" not in b  # any _source filter makes OpenSearch re-serialise values
    assert set(DERIVED_FIELDS) <= set(LIST_EXCLUDES)


def test_stored_log_drops_derived_fields_and_keeps_bytes() -> None:
    source = msgspec.Raw(
        b'{"id":"a","cost":1e16,"params":{"z":1E2,"a":0.10},'
        b'"search_text":"x","total_tokens":3,"metadata_kv":["k\\u001fv"],"merge_versions":{}}'
    )
    assert bytes(stored_log(source)) == b'{"id":"a","cost":1e16,"params":{"z":1E2,"a":0.10}}'


def _response(hits: list[tuple[dict[str, Any], list[Any]]], total: int) -> SearchResponse:
    return decode_search(_body(hits, total))


def _body(hits: list[tuple[dict[str, Any], list[Any]]], total: int) -> bytes:
    return msgspec.json.encode(
        {
            "timed_out": False,
            "hits": {
                "total": {"value": total, "relation": "eq"},
                "hits": [{"_source": s, "sort": sort} for s, sort in hits],
            },
        }
    )


def test_parse_page_stats_and_cursor() -> None:
    q = parse_params({"limit": ["2"], "offset": ["4"]})
    response = _response([({"id": "a"}, [5, "a"]), ({"id": "b"}, [4, "b"])], total=7)
    page = parse_search(q, response)
    assert [msgspec.json.decode(log) for log in page.logs] == [{"id": "a"}, {"id": "b"}]
    assert (page.total, page.offset, page.has_logs) == (7, 4, True)
    # stats: the exact total, the other keys 0, as Bifrost's own list answers
    assert page.stats == Stats(
        total_requests=7, success_rate=0.0, average_latency=0.0, total_tokens=0, total_cost=0.0
    )
    assert page.next_cursor is not None
    follow = parse_params({"limit": ["2"], "cursor": [page.next_cursor]})
    assert follow.cursor == Cursor(fingerprint=fingerprint(q), after=(4, "b"), position=6)
    # the last page has no cursor
    last = parse_search(follow, _response([({"id": "c"}, [3, "c"])], total=7))
    assert last.offset == 6
    assert last.next_cursor is None


def test_parse_empty_page() -> None:
    # has_logs is known from the page when it matched something; otherwise the store asks
    # OpenSearch whether any log exists (ANY_LOG, integration-tested).
    page = parse_search(parse_params({}), _response([], total=0))
    assert page.has_logs is False
    assert page.stats == Stats(total_requests=0)
    assert page.next_cursor is None
    beyond = parse_search(parse_params({"offset": ["100"]}), _response([], total=7))
    assert (beyond.has_logs, beyond.logs, beyond.next_cursor) == (True, [], None)
