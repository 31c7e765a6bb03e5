"""The one filter parser (api.filters) and the clauses it becomes (api.query)."""

from __future__ import annotations

import msgspec
import pytest

from api.filters import FILTER_PARAMS, LogFilter, parse_filters
from api.params import fingerprint, parse_params
from api.parsing import InvalidParameter, collect
from api.query import build_filter, build_search, decode_search, parse_search, with_highlights

NOW = 1_700_000_000 * 1_000_000_000


def parse(**params: str) -> LogFilter:
    return parse_filters(collect({k: [v] for k, v in params.items()}), now_ns=NOW)


def test_newer_bifrost_filters_map_to_stored_fields() -> None:
    f = parse(
        aliases="fast",
        user_ids="u1",
        team_ids="t2,t1",
        customer_ids="c",
        business_unit_ids="bu",
        stop_reasons="length",
        routing_engine_used="governance",
        cache_hit_types="semantic,direct",
        user_agents='["curl/8", "sdk"]',
        apps="a,b",
    )
    assert dict(f.filters) == {
        "alias": ("fast",),
        "user_id": ("u1",),
        "team_id": ("t1", "t2"),
        "customer_id": ("c",),
        "business_unit_id": ("bu",),
        "stop_reason": ("length",),
        "routing_engines_used": ("governance",),
        "cache_hit_type": ("direct", "semantic"),
        "user_agent": ("curl/8", "sdk"),
        "app": ("a", "b"),
    }


def test_team_filter_matches_the_scalar_or_the_multi_valued_field() -> None:
    clauses = build_filter(parse(team_ids="t1"))["bool"]["filter"]
    assert clauses == [
        {
            "bool": {
                "should": [{"terms": {"team_id": ["t1"]}}, {"terms": {"team_ids": ["t1"]}}],
                "minimum_should_match": 1,
            }
        }
    ]


def test_session_id_is_an_alias_of_parent_request_id() -> None:
    assert parse(session_id="root-1").values("parent_request_id") == ("root-1",)
    with pytest.raises(InvalidParameter) as info:
        parse(session_id="a", parent_request_id="b")
    assert info.value.param == "session_id"


def test_period_is_a_window_ending_now_and_excludes_explicit_bounds() -> None:
    f = parse(period="24H")
    assert (f.start_ns, f.end_ns, f.period) == (NOW - 86_400 * 10**9, NOW, "24h")
    with pytest.raises(InvalidParameter) as info:
        parse(period="1h", end_time="2024-01-01T00:00:00Z")
    assert info.value.param == "period"


def test_roots_only_excludes_logs_with_a_parent() -> None:
    clauses = build_filter(parse(roots_only="true"))["bool"]["filter"]
    assert clauses == [{"bool": {"must_not": [{"exists": {"field": "parent_request_id"}}]}}]


def test_every_filter_parameter_is_known_to_the_list() -> None:
    q = parse_params({name: [] for name in FILTER_PARAMS})
    assert q.filters == ()


def test_a_cursor_survives_a_sliding_period() -> None:
    first = parse_params({"period": ["1h"]}, now_ns=NOW)
    later = parse_params({"period": ["1h"]}, now_ns=NOW + 5 * 10**9)
    assert fingerprint(first) == fingerprint(later)


def test_highlight_asks_for_escaped_snippets_only_with_a_search() -> None:
    assert "highlight" not in build_search(parse_params({"highlight": ["true"]}))
    body = build_search(parse_params({"highlight": ["true"], "content_search": ["refund"]}))
    assert body["highlight"]["encoder"] == "html"


def test_highlights_are_spliced_into_the_stored_bytes() -> None:
    raw = with_highlights(msgspec.Raw(b'{"id":"a","cost":1e-7}'), ["a <mark>b</mark>"])
    assert bytes(raw) == b'{"highlights":["a <mark>b</mark>"],"id":"a","cost":1e-7}'
    assert bytes(with_highlights(msgspec.Raw(b"{}"), [])) == b'{"highlights":[]}'


def test_parsed_page_carries_highlights() -> None:
    q = parse_params({"highlight": ["1"], "content_search": ["refund"]})
    response = {
        "hits": {
            "total": {"value": 1},
            "hits": [
                {
                    "_source": {"id": "a"},
                    "sort": [1, "a"],
                    "highlight": {"search_text": ["a <mark>refund</mark>"]},
                }
            ],
        }
    }
    page = parse_search(q, decode_search(msgspec.json.encode(response)))
    assert msgspec.json.decode(page.logs[0]) == {
        "highlights": ["a <mark>refund</mark>"],
        "id": "a",
    }
