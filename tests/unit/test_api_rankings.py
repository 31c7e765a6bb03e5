"""Rankings: parameters, bodies, paging and parsing, without services."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from api.aggs.groups import SEPARATOR, ci_substring_regex, pct_change, previous_window
from api.aggs.paging import GROUPS, PAGE_SIZE, next_page
from api.aggs.ranking_answers import (
    parse_dimension_rankings,
    parse_model_rankings,
)
from api.aggs.rankings import (
    DEFAULT_RANKING_LIMIT,
    RANKING_DIMENSIONS,
    build_dimension_rankings,
    build_model_rankings,
    parse_ranking_query,
)
from api.filters import LogFilter
from api.parsing import InvalidParameter

S = 1_000_000_000
WINDOW = {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-03-01T01:00:00Z"}


def page(buckets: list[dict[str, Any]], **aggs: Any) -> bytes:
    return msgspec.json.encode({"aggregations": {GROUPS: {"buckets": buckets}, **aggs}})


def model_bucket(
    model: str,
    provider: str,
    n: int,
    *,
    success: int = 0,
    tokens: float = 0,
    cost: float = 0,
    latency: float | None = None,
    canonical: str | None = None,
) -> dict[str, Any]:
    return {
        "key": {"model": model, "provider": provider},
        "doc_count": n,
        "success": {"doc_count": success},
        "tokens": {"value": tokens},
        "cost": {"value": cost},
        "latency": {"value": latency},
        "canonical": {"buckets": [{"key": canonical, "doc_count": 1}] if canonical else []},
    }


def test_limit_defaults_to_100_and_all_wins() -> None:
    assert parse_ranking_query({}, by_dimension=False).limit == DEFAULT_RANKING_LIMIT
    assert parse_ranking_query({"limit": ["7"]}, by_dimension=False).limit == 7
    assert parse_ranking_query({"limit": [" 007 "]}, by_dimension=False).limit == 7
    assert parse_ranking_query({"limit": ["7"], "all": ["true"]}, by_dimension=False).limit is None
    assert parse_ranking_query({"all": ["false"]}, by_dimension=False).limit == 100


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"limit": ["0"]}, "limit"),
        ({"limit": ["-3"]}, "limit"),
        ({"limit": ["ten"]}, "limit"),
        ({"limit": ["²"]}, "limit"),
        ({"limit": ["1.5"]}, "limit"),
        ({"limit": ["99999999999999999999"]}, "limit"),
        ({"all": ["maybe"]}, "all"),
        ({"dimension": ["team"]}, "dimension"),  # not a parameter of the model rankings
        ({"start_time": ["yesterday"]}, "start_time"),
    ],
)
def test_bad_ranking_parameters_name_themselves(query: dict[str, list[str]], param: str) -> None:
    with pytest.raises(InvalidParameter) as error:
        parse_ranking_query(query, by_dimension=False)
    assert error.value.param == param


def test_dimension_is_required_and_the_error_lists_all_five() -> None:
    for query in ({}, {"dimension": ["team_id"]}):
        with pytest.raises(InvalidParameter) as error:
            parse_ranking_query(query, by_dimension=True)
        assert error.value.param == "dimension"
        for name in RANKING_DIMENSIONS:
            assert name in error.value.message
    assert parse_ranking_query({"dimension": ["virtual_key"]}, by_dimension=True).dimension == (
        "virtual_key"
    )


def test_previous_window_is_the_same_length_just_before() -> None:
    f = LogFilter(start_ns=100 * S, end_ns=160 * S)
    previous = previous_window(f)
    assert previous is not None
    assert (previous.start_ns, previous.end_ns) == (40 * S, 100 * S - 1)
    assert previous_window(LogFilter(start_ns=100 * S)) is None
    assert previous_window(LogFilter(start_ns=100 * S, end_ns=100 * S)) is None


def test_pct_change_is_zero_without_a_baseline() -> None:
    assert pct_change(10, 15) == 50.0
    assert pct_change(10, 0) == -100.0
    assert pct_change(0, 5) == 0.0


def test_ci_regex_escapes_everything_but_letters_and_digits() -> None:
    assert ci_substring_regex("Gp4.*") == ".*[gG][pP]4\\.\\*.*"
    assert ci_substring_regex("a b") == ".*[aA]\\ [bB].*"


def test_trend_needs_a_closed_window_and_uses_the_same_filters() -> None:
    assert len(build_model_rankings(LogFilter(start_ns=S))) == 1
    f = parse_ranking_query(
        {"providers": ["openai"], **{k: [v] for k, v in WINDOW.items()}}, by_dimension=False
    ).filter
    current, previous = build_model_rankings(f)
    assert current["query"]["bool"]["filter"][0] == previous["query"]["bool"]["filter"][0]
    assert {"terms": {"status": ["cancelled", "error", "success"]}} in current["query"]["bool"][
        "filter"
    ]
    ranges = [c for c in previous["query"]["bool"]["filter"] if "range" in c]
    assert ranges[0]["range"]["timestamp"]["gte"] == "2026-02-28T23:00:00.000000000Z"
    assert ranges[0]["range"]["timestamp"]["lte"] == "2026-02-28T23:59:59.999999999Z"


def test_fan_out_dimensions_use_the_derived_owners_and_count_owned_logs() -> None:
    body = build_dimension_rankings(LogFilter(), "team")[0]
    source = body["aggs"][GROUPS]["composite"]["sources"][0]["pair"]["terms"]
    assert source == {"field": "team_owners"}
    assert body["aggs"]["owned"] == {"filter": {"exists": {"field": "team_owners"}}}
    plain = build_dimension_rankings(LogFilter(), "user")[0]
    assert [list(s) for s in plain["aggs"][GROUPS]["composite"]["sources"]] == [["id"], ["name"]]
    assert "owned" not in plain["aggs"]


def test_next_page_continues_only_after_a_full_page() -> None:
    body = build_model_rankings(LogFilter())[0]
    full = msgspec.json.encode(
        {"aggregations": {GROUPS: {"buckets": [{}] * PAGE_SIZE, "after_key": {"model": "m"}}}}
    )
    following = next_page(body, full)
    assert following is not None
    assert following["aggs"][GROUPS]["composite"]["after"] == {"model": "m"}
    assert "after" not in body["aggs"][GROUPS]["composite"]  # the first body is untouched
    short = msgspec.json.encode(
        {"aggregations": {GROUPS: {"buckets": [{}], "after_key": {"model": "m"}}}}
    )
    assert next_page(body, short) is None


def test_models_are_ranked_by_requests_then_key_with_trends() -> None:
    current = [
        page([model_bucket("b", "x", 5, success=4, tokens=50, cost=1.0, latency=200.0)]),
        page(
            [
                model_bucket("a", "y", 5, success=5, tokens=10, cost=0.5, canonical="A"),
                model_bucket("a", "x", 9, success=0),
                model_bucket("", "x", 99),
            ]
        ),
    ]
    previous = [page([model_bucket("b", "x", 10, tokens=0, cost=2.0, latency=100.0)])]
    result = parse_model_rankings(current, previous, limit=None)
    assert [(r.model, r.provider) for r in result.rankings] == [("a", "x"), ("a", "y"), ("b", "x")]
    b = result.rankings[2]
    assert (b.total_requests, b.success_count, b.success_rate) == (5, 4, 80.0)
    assert b.trend.has_previous_period
    assert (b.trend.requests_trend, b.trend.tokens_trend, b.trend.cost_trend) == (-50.0, 0, -50.0)
    assert b.trend.latency_trend == 100.0
    assert result.rankings[1].canonical_model_name == "A"
    assert not result.rankings[0].trend.has_previous_period
    assert b"canonical_model_name" not in msgspec.json.encode(result.rankings[0])
    assert len(parse_model_rankings(current, None, limit=2).rankings) == 2


def test_dimension_groups_merge_names_and_count_attribution() -> None:
    def bucket(pair: str, n: int, cost: float) -> dict[str, Any]:
        return {
            "key": {"pair": pair},
            "doc_count": n,
            "tokens": {"value": n},
            "cost": {"value": cost},
        }

    current = [
        page(
            [
                bucket(f"One{SEPARATOR}t1", 2, 0.5),
                bucket(f"Uno{SEPARATOR}t1", 1, 0.25),
                bucket(f"{SEPARATOR}t2", 3, 1.0),
            ],
            owned={"doc_count": 5},
        )
    ]
    result = parse_dimension_rankings("team", current, None, limit=None)
    assert [(r.id, r.total_requests) for r in result.rankings] == [("t1", 3), ("t2", 3)]
    assert result.rankings[0].name == "Uno"  # the greatest, as MAX(name)
    assert b'"name"' not in msgspec.json.encode(result.rankings[1])
    assert (result.total_actual_requests, result.total_attributed_requests) == (5, 6)
    plain = parse_dimension_rankings("user", [page([])], None, limit=None)
    assert msgspec.json.decode(msgspec.json.encode(plain)) == {"rankings": [], "dimension": "user"}
