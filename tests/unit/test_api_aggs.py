"""Builders and parsers of the stats and histogram endpoints, without services."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from api.aggs import breakdowns as bd
from api.aggs import histograms as h
from api.aggs import stats as st
from api.aggs.buckets import TERMINAL_CLAUSE, Plan
from api.aggs.common import SERIES_CAP, tokens_per_second, zeroed
from api.filters import LogFilter, parse_filters
from api.parsing import InvalidParameter

HOUR = 3600
T0 = 1_772_323_200  # 2026-03-01T00:00:00Z
OPEN = Plan(size=HOUR, keys=None)
CLOSED = Plan(size=HOUR, keys=(T0, T0 + HOUR, T0 + 2 * HOUR))


def answer(aggregations: dict[str, Any], total: int = 0) -> bytes:
    return msgspec.json.encode({"hits": {"total": {"value": total}}, "aggregations": aggregations})


def buckets(*items: dict[str, Any]) -> dict[str, Any]:
    return {"buckets": {"buckets": list(items)}}


def clauses(body: dict[str, Any]) -> list[Any]:
    found: list[Any] = body["query"]["bool"]["filter"]
    return found


def test_histogram_filters_terminal_statuses_and_fills_gaps() -> None:
    f = parse_filters({"providers": ["openai"]})
    body = h.build_histogram(f, CLOSED)
    assert TERMINAL_CLAUSE in clauses(body)
    assert body["size"] == 0
    raw = answer(
        buckets(
            {
                "key": (T0 + HOUR) * 1000,
                "doc_count": 5,
                "success": {"doc_count": 3},
                "error": {"doc_count": 1},
                "cancelled": {"doc_count": 1},
            }
        )
    )
    got = h.parse_histogram(raw, CLOSED)
    assert got.bucket_size_seconds == HOUR
    assert [(b.timestamp, b.count, b.success, b.error, b.cancelled) for b in got.buckets] == [
        ("2026-03-01T00:00:00Z", 0, 0, 0, 0),
        ("2026-03-01T01:00:00Z", 5, 3, 1, 1),
        ("2026-03-01T02:00:00Z", 0, 0, 0, 0),
    ]
    assert h.parse_histogram(raw, OPEN).buckets[0].timestamp == "2026-03-01T01:00:00Z"
    assert len(h.parse_histogram(raw, OPEN).buckets) == 1


def test_cost_histogram_counts_positive_costs_by_sorted_model() -> None:
    body = h.build_cost_histogram(LogFilter(), OPEN)
    assert {"range": {"cost": {"gt": 0}}} in clauses(body)
    series = body["aggs"]["buckets"]["aggs"]["series"]["terms"]
    assert series["field"] == "model"
    assert series["size"] == SERIES_CAP
    raw = answer(
        buckets(
            {
                "key": T0 * 1000,
                "doc_count": 3,
                "series": {
                    "sum_other_doc_count": 0,
                    "buckets": [
                        {"key": "gpt-4o", "doc_count": 2, "cost": {"value": 0.25}},
                        {"key": "claude", "doc_count": 1, "cost": {"value": 0.5}},
                    ],
                },
            }
        )
    )
    got = h.parse_cost_histogram(raw, CLOSED)
    assert got.models == ["claude", "gpt-4o"]
    assert got.buckets[0].total_cost == 0.75
    assert got.buckets[0].by_model == {"gpt-4o": 0.25, "claude": 0.5}
    assert got.buckets[1].by_model == {}
    assert isinstance(got.buckets[1].total_cost, float)


def test_more_series_than_the_cap_is_a_400_never_a_truncated_answer() -> None:
    raw = answer(
        buckets({"key": 0, "doc_count": 9, "series": {"sum_other_doc_count": 1, "buckets": []}})
    )
    with pytest.raises(InvalidParameter) as caught:
        h.parse_model_histogram(raw, OPEN)
    assert caught.value.param == "models"


def test_latency_reads_avg_and_percentiles_and_zero_for_null() -> None:
    body = h.build_latency_histogram(LogFilter(), OPEN)
    assert {"exists": {"field": "latency"}} in clauses(body)
    pct = body["aggs"]["buckets"]["aggs"]["percentiles"]["percentiles"]
    assert pct["percents"] == [90.0, 95.0, 99.0]
    raw = answer(
        buckets(
            {
                "key": T0 * 1000,
                "doc_count": 2,
                "avg_latency": {"value": 150.0},
                "percentiles": {
                    "values": [
                        {"key": 90.0, "value": 190.0},
                        {"key": 95.0, "value": 195.0},
                        {"key": 99.0, "value": None},
                    ]
                },
            }
        )
    )
    b = h.parse_latency_histogram(raw, OPEN).buckets[0]
    assert (b.avg_latency, b.p90_latency, b.p95_latency, b.p99_latency) == (150, 190, 195, 0)
    assert b.total_requests == 2


def test_throughput_is_completion_tokens_per_second_of_successful_timed_logs() -> None:
    body = h.build_throughput_histogram(LogFilter(), OPEN)
    assert {"term": {"status": "success"}} in clauses(body)
    assert {"range": {"latency": {"gt": 0}}} in clauses(body)
    raw = answer(
        buckets(
            {
                "key": T0 * 1000,
                "doc_count": 4,
                "completion_tokens": {"value": 300.0},
                "latency_sum": {"value": 1500.0},
            }
        )
    )
    b = h.parse_throughput_histogram(raw, OPEN).buckets[0]
    assert (b.tokens_per_second, b.total_completion_tokens, b.total_requests) == (200.0, 300, 4)
    assert tokens_per_second(5, 0.0) == 0.0


def test_token_histogram_sums_are_integers() -> None:
    raw = answer(
        buckets(
            {
                "key": T0 * 1000,
                "doc_count": 1,
                "prompt_tokens": {"value": 10.0},
                "completion_tokens": {"value": 5.0},
                "total_tokens": {"value": 15.0},
                "cached_read_tokens": {"value": 0.0},
            }
        )
    )
    b = h.parse_token_histogram(raw, OPEN).buckets[0]
    assert msgspec.json.encode(b) == (
        b'{"timestamp":"2026-03-01T00:00:00Z","prompt_tokens":10,"completion_tokens":5,'
        b'"total_tokens":15,"cached_read_tokens":0}'
    )


def test_dimension_sources_fan_out_multi_valued_ids() -> None:
    assert bd.source("provider") == {"field": "provider", "missing": ""}
    assert bd.source("user_id") == {"field": "user_id", "missing": ""}
    team = bd.source("team_id")["script"]
    assert team["params"] == {"one": "team_id", "many": "team_ids"}
    assert bd.source("business_unit_id")["script"]["params"]["many"] == "business_unit_ids"


def test_dimension_is_required_and_validated_with_bifrosts_messages() -> None:
    with pytest.raises(InvalidParameter) as caught:
        bd.parse_dimension({})
    assert caught.value.message.startswith("Missing required query parameter: dimension.")
    assert "business_unit_id" in caught.value.message
    with pytest.raises(InvalidParameter) as caught:
        bd.parse_dimension({"dimension": ["team"]})
    assert caught.value.message.startswith("Invalid dimension: team.")
    assert bd.parse_dimension({"dimension": ["team_id"]}) == "team_id"


def test_breakdown_parses_series_and_sorted_values() -> None:
    raw = answer(
        buckets(
            {
                "key": (T0 + HOUR) * 1000,
                "doc_count": 2,
                "series": {
                    "buckets": [
                        {"key": "", "doc_count": 1, "cost": {"value": 1.0}},
                        {"key": "t-a", "doc_count": 1, "cost": {"value": 2.0}},
                    ]
                },
            }
        )
    )
    got = bd.parse_breakdown(raw, CLOSED, bd.COST, "team_id")
    assert got.values == ["", "t-a"]
    shaped = bd.dimension_cost(got, CLOSED, "team_id")
    assert [b.total_cost for b in shaped.buckets] == [0.0, 3.0, 0.0]
    assert shaped.buckets[1].by_dimension == {"": 1.0, "t-a": 2.0}
    assert shaped.dimension == "team_id"
    body = bd.build_breakdown(LogFilter(), OPEN, bd.LATENCY, "provider")
    assert {"exists": {"field": "latency"}} in clauses(body)


# --- stats ----------------------------------------------------------------------------


def test_previous_window_needs_a_closed_window_without_request_id() -> None:
    f = LogFilter(start_ns=1000, end_ns=1600)
    prev = st.previous_window(f)
    assert prev is not None
    assert (prev.start_ns, prev.end_ns) == (400, 999)
    assert st.previous_window(LogFilter(start_ns=1000)) is None
    assert st.previous_window(LogFilter(start_ns=1000, end_ns=1000)) is None
    with_id = parse_filters({"request_id": ["x"], "start_time": ["2026-03-01T00:00:00Z"],
                             "end_time": ["2026-03-02T00:00:00Z"]})  # fmt: skip
    assert st.previous_window(with_id) is None


def stats_answer(terminal: int, success: int, roots: int, roots_ok: int, total: int) -> bytes:
    return answer(
        {
            "terminal": {
                "doc_count": terminal,
                "success": {"doc_count": success},
                "average_latency": {"value": 120.5},
                "total_tokens": {"value": 900.0},
                "prompt_tokens": {"value": 600.0},
                "completion_tokens": {"value": 300.0},
                "cost": {"value": 0.5},
                "direct": {"doc_count": 2},
                "semantic": {"doc_count": 1},
                "roots": {"doc_count": roots, "success": {"doc_count": roots_ok}},
            },
        },
        total=total,
    )


def parents_answer(*ids: str) -> bytes:
    return answer({"parents": {"buckets": [{"key": {"parent": i}, "doc_count": 1} for i in ids]}})


def test_stats_are_over_terminal_logs_and_count_rescued_roots() -> None:
    f = LogFilter()
    bodies = st.build_stats(f)
    assert len(bodies) == 2
    assert bodies[0]["track_total_hits"] is True
    # Roots are counted among the terminal logs (a sub-aggregation of ``terminal``).
    terminal = bodies[0]["aggs"]["terminal"]
    assert terminal["filter"] == TERMINAL_CLAUSE
    assert terminal["aggs"]["roots"]["filter"] == st.ROOT_CLAUSE
    assert "composite" in bodies[1]["aggs"]["parents"]
    partial = st.parse_stats([stats_answer(10, 8, 6, 4, 12), parents_answer("r1", "r2")], f)
    assert partial.needs_rescued
    assert partial.parents == ["r1", "r2"]
    assert partial.after is None
    count_bodies = st.build_rescued(f, partial.parents)
    assert len(count_bodies) == 1
    assert {"terms": {"id": ["r1", "r2"]}} in clauses(count_bodies[0])
    # Unsuccessful roots only: error or cancelled (terminal implied, not matched twice).
    assert {"terms": {"status": ["error", "cancelled"]}} in clauses(count_bodies[0])
    assert TERMINAL_CLAUSE not in clauses(count_bodies[0])
    stats = st.finish(partial, rescued=1)
    assert stats.total_requests == 12
    assert stats.success_rate == 80.0
    assert stats.user_facing_total_requests == 6
    assert stats.user_facing_success_rate == pytest.approx(5 / 6 * 100)
    assert (stats.direct_cache_hits, stats.semantic_cache_hits) == (2, 1)
    assert stats.cache_hit_rate_total_requests == 10
    assert (stats.total_tokens, stats.prompt_tokens, stats.completion_tokens) == (900, 600, 300)


def test_stats_scoped_to_a_parent_use_the_attempt_success_rate() -> None:
    f = parse_filters({"parent_request_id": ["root"]})
    bodies = st.build_stats(f)
    assert len(bodies) == 1
    partial = st.parse_stats([stats_answer(4, 1, 0, 0, 5)], f)
    assert not partial.needs_rescued
    stats = st.finish(partial)
    assert stats.user_facing_success_rate == 25.0
    assert stats.user_facing_total_requests == 4


def test_no_logs_means_zero_everything() -> None:
    partial = st.parse_stats([answer({}), answer({})], LogFilter())
    stats = st.finish(partial)
    assert stats == zeroed(st.SearchStats)


def test_a_full_page_of_parents_asks_for_the_next() -> None:
    ids = [f"p{i:05d}" for i in range(st.PAGE)]
    raw = msgspec.json.encode(
        {
            "aggregations": {
                "parents": {
                    "after_key": {"parent": ids[-1]},
                    "buckets": [{"key": {"parent": i}, "doc_count": 1} for i in ids],
                }
            }
        }
    )
    got, after = st.parse_parents(raw)
    assert len(got) == st.PAGE
    assert after == {"parent": ids[-1]}
    assert st.build_parents(LogFilter(), after)["aggs"]["parents"]["composite"]["after"] == after
    assert len(st.build_rescued(LogFilter(), [*ids, "extra"])) == 2


def test_a_page_of_parents_fits_opensearchs_limits() -> None:
    # One composite page is at most search.max_buckets (65,535) buckets, one terms query at
    # most index.max_terms_count (65,536) ids; a million logs' parents (~19,500) fit one.
    assert 20_000 <= st.PAGE <= 65_535
    body = st.build_parents(LogFilter(), None)
    assert body["aggs"]["parents"]["composite"]["size"] == st.PAGE


def test_response_carries_the_previous_window_only_when_computed() -> None:
    current = zeroed(st.SearchStats, total_requests=3)
    alone = msgspec.json.decode(msgspec.json.encode(st.response(current, None)))
    assert alone["has_previous_period"] is False
    assert "previous" not in alone
    both = msgspec.json.decode(msgspec.json.encode(st.response(current, zeroed(st.SearchStats))))
    assert both["has_previous_period"] is True
    assert both["previous"]["total_requests"] == 0
