"""Bifrost's bucket rule, UTC epoch alignment, gap filling and the bucket cap."""

from __future__ import annotations

import pytest

from api.aggs.buckets import (
    MAX_BUCKETS,
    NANOS,
    Plan,
    align,
    bucket_key,
    bucket_size,
    date_histogram,
    fill,
    plan,
    timestamp,
)
from api.filters import LogFilter, parse_filters
from api.parsing import InvalidParameter

H = 3600 * NANOS
D = 24 * H


@pytest.mark.parametrize(
    ("span", "size"),
    [
        (0, 60),
        (2 * H - 1, 60),
        (2 * H, 600),
        (24 * H - 1, 600),
        (24 * H, 3600),
        (3 * D - 1, 3600),
        (3 * D, 8 * 3600),
        (7 * D - 1, 8 * 3600),
        (7 * D, 86400),
        (31 * D, 86400),  # 31 days is still daily ...
        (31 * D + 1, 3 * 86400),  # ... anything longer is 3 days
        (90 * D - 1, 3 * 86400),
        (90 * D, 7 * 86400),
        (365 * D - 1, 7 * 86400),
        (365 * D, 30 * 86400),
        (10_000 * D, 30 * 86400),
    ],
)
def test_bucket_size_follows_bifrosts_table_at_every_edge(span: int, size: int) -> None:
    start = 1_700_000_000 * NANOS
    assert bucket_size(start, start + span) == size


def test_an_open_window_is_bucketed_hourly() -> None:
    assert bucket_size(None, 5) == bucket_size(5, None) == bucket_size(None, None) == 3600


def test_alignment_is_utc_epoch_floor() -> None:
    assert align(1_772_326_799, 3600) == 1_772_323_200
    assert align(1_772_326_800, 3600) == 1_772_326_800
    # 30-day buckets are epoch-aligned, not calendar months
    assert align(1_772_323_200, 30 * 86400) % (30 * 86400) == 0
    assert align(-1, 60) == -60  # floor, not truncation


def test_keys_of_a_closed_window_run_from_the_aligned_start_to_the_end() -> None:
    f = parse_filters(
        {"start_time": ["2026-03-01T00:30:00Z"], "end_time": ["2026-03-01T02:00:00Z"]}
    )
    p = plan(f)
    assert p.size == 60
    assert p.keys is not None
    assert timestamp(p.keys[0]) == "2026-03-01T00:30:00Z"
    # 1h30m < 2h: minute buckets; the end is inclusive, so its own bucket is present
    assert timestamp(p.keys[-1]) == "2026-03-01T02:00:00Z"
    assert len(p.keys) == 91
    f = parse_filters(
        {"start_time": ["2026-03-01T00:30:59.9Z"], "end_time": ["2026-03-02T00:30:59.9Z"]}
    )
    p = plan(f)
    assert p.size == 3600
    assert p.keys is not None
    assert [timestamp(k) for k in (p.keys[0], p.keys[-1])] == [
        "2026-03-01T00:00:00Z",
        "2026-03-02T00:00:00Z",
    ]
    assert len(p.keys) == 25


def test_a_period_is_a_closed_window() -> None:
    now = 1_772_330_000 * NANOS + 123
    p = plan(parse_filters({"period": ["24h"]}, now_ns=now))
    assert p.size == 3600
    assert p.keys is not None
    assert p.keys[0] == align((now - D) // NANOS, 3600)
    assert p.keys[-1] == align(now // NANOS, 3600)


def test_an_open_window_has_no_keys() -> None:
    assert plan(LogFilter(start_ns=5)).keys is None
    assert plan(LogFilter()) == Plan(size=3600, keys=None)


def test_a_window_needing_too_many_buckets_is_a_400() -> None:
    f = parse_filters(
        {"start_time": ["0001-01-01T00:00:00Z"], "end_time": ["9999-01-01T00:00:00Z"]}
    )
    with pytest.raises(InvalidParameter) as caught:
        plan(f)
    assert caught.value.param == "start_time"
    assert str(MAX_BUCKETS) in caught.value.message
    # the whole date_nanos range fits
    whole = parse_filters(
        {"start_time": ["1970-01-01T00:00:00Z"], "end_time": ["2262-04-11T00:00:00Z"]}
    )
    keys = plan(whole).keys
    assert keys is not None
    assert len(keys) <= MAX_BUCKETS


def test_fill_adds_empty_buckets_only_for_closed_windows() -> None:
    found = {120: "b", 0: "a"}
    assert fill(Plan(size=60, keys=None), found, str) == ["a", "b"]
    assert fill(Plan(size=60, keys=(0, 60, 120, 180)), found, lambda k: f"empty {k}") == [
        "a",
        "empty 60",
        "b",
        "empty 180",
    ]


def test_date_histogram_never_asks_opensearch_for_empty_buckets() -> None:
    agg = date_histogram(600)
    assert agg == {"field": "timestamp", "fixed_interval": "600s", "min_doc_count": 1}
    assert "extended_bounds" not in agg
    assert bucket_key(1_772_323_200_000) == 1_772_323_200


def test_timestamps_are_rfc3339_utc_like_go() -> None:
    assert timestamp(0) == "1970-01-01T00:00:00Z"
    assert timestamp(1_772_323_200) == "2026-03-01T00:00:00Z"


def test_timestamp_pads_years_before_1000() -> None:
    assert timestamp(0) == "1970-01-01T00:00:00Z"
    assert timestamp(-62135596800) == "0001-01-01T00:00:00Z"
