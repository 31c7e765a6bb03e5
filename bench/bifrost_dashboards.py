"""Bifrost's SQL for the dashboard endpoints, per dialect, on the raw ``logs`` table. Pure.

Read from ``framework/logstore/rdb.go`` of ``maximhq/bifrost`` (not copied; summarised in the
contract kit's ``dashboards.md``): every histogram groups the filtered terminal logs by
``unixBucketExpr`` (``floor(epoch / b) * b``, the bucket size from the window as
``calculateBucketSize`` chooses it); cost histograms keep ``cost > 0``; latency histograms
keep ``latency IS NOT NULL`` and take ``percentile_cont`` on Postgres, ``quantile()`` on
ClickHouse, and on SQLite read every latency of the window ordered by bucket and latency (the
percentiles are computed in Go). Rankings group terminal logs with a non-empty key, ordered
by ``total_requests DESC LIMIT 100``, then read the previous window of the same length for the
trends (Bifrost restricts that read to the groups it found, an ``OR`` of pairs; it is left
out here, which can only make the anchor faster). ``filterdata`` reads distinct values of the
last 30 days, 1,000 per dimension. Postgres' materialised views (used for windows of whole
hours on large tables) are not built: this is the raw-table path.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from bench.bifrost_sql import Dialect, Search, bucket, histogram_statements, where

#: ``calculateBucketSize``: (window at least, bucket seconds), largest first.
_SIZES: Final = (
    (timedelta(days=365), 2_592_000),
    (timedelta(days=90), 604_800),
    (timedelta(days=31, microseconds=1), 259_200),
    (timedelta(days=7), 86_400),
    (timedelta(days=3), 28_800),
    (timedelta(hours=24), 3_600),
    (timedelta(hours=2), 600),
)
RANKINGS_LIMIT: Final = 100
FILTERDATA_LIMIT: Final = 1000


def bucket_seconds(s: Search) -> int:
    if s.start is None or s.end is None:
        return 3600
    window = s.end - s.start
    return next((size for least, size in _SIZES if window >= least), 60)


def _final(dialect: Dialect) -> str:
    return " SETTINGS final = 1" if dialect == "clickhouse" else ""


def _grouped(dialect: Dialect, s: Search, select: str, by: str = "", extra: str = "") -> str:
    key = bucket(dialect, bucket_seconds(s))
    group = f"bucket_timestamp, {by}" if by else "bucket_timestamp"
    return (
        f"SELECT {key} AS bucket_timestamp, {by + ', ' if by else ''}{select} "
        f"FROM logs{where(dialect, s, terminal=True)}{extra} GROUP BY {group} "
        f"ORDER BY bucket_timestamp ASC{_final(dialect)}"
    )


def requests_histogram(dialect: Dialect, s: Search) -> list[str]:
    """``GetHistogram`` with the window's bucket size."""
    return histogram_statements(dialect, s, bucket_seconds(s))


_TOKENS: Final = (
    "COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens, "
    "COALESCE(SUM(completion_tokens), 0) AS completion_tokens, "
    "COALESCE(SUM(total_tokens), 0) AS total_tokens"
)


def tokens_histogram(dialect: Dialect, s: Search) -> list[str]:
    """``GetTokenHistogram`` (cached-read tokens too)."""
    cached = ", COALESCE(SUM(cached_read_tokens), 0) AS cached_read_tokens"
    return [_grouped(dialect, s, _TOKENS + cached)]


def tokens_by_provider(dialect: Dialect, s: Search) -> list[str]:
    return [_grouped(dialect, s, _TOKENS, by="provider")]


def cost_histogram(dialect: Dialect, s: Search, by: str = "model") -> list[str]:
    """``GetCostHistogram`` (by model) and its by-provider twin."""
    cost = " AND cost IS NOT NULL AND cost > 0"
    return [_grouped(dialect, s, "COALESCE(SUM(cost), 0) AS total_cost", by=by, extra=cost)]


def cost_by_provider(dialect: Dialect, s: Search) -> list[str]:
    return cost_histogram(dialect, s, by="provider")


def model_histogram(dialect: Dialect, s: Search) -> list[str]:
    counts = (
        "COUNT(*) AS total, SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS success, "
        "SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS error_count, "
        "SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled_count"
    )
    return [_grouped(dialect, s, counts, by="model")]


def latency_histogram(dialect: Dialect, s: Search, by: str = "") -> list[str]:
    """``GetLatencyHistogram`` (and by provider): avg, p90, p95, p99 and the count."""
    extra = " AND latency IS NOT NULL"
    if dialect == "sqlite":
        key = bucket(dialect, bucket_seconds(s))
        cols = f"{by}, latency" if by else "latency"
        order = (
            f"bucket_timestamp ASC, {by} ASC, latency ASC"
            if by
            else "bucket_timestamp ASC, latency ASC"
        )
        return [
            f"SELECT {key} AS bucket_timestamp, {cols} FROM logs"
            f"{where(dialect, s, terminal=True)}{extra} ORDER BY {order}"
        ]
    if dialect == "clickhouse":
        pcts = ", ".join(f"quantile({q})(latency) AS p{p}_latency" for q, p in _PCTS)
    else:
        pcts = ", ".join(
            f"percentile_cont({q}) WITHIN GROUP (ORDER BY latency) AS p{p}_latency"
            for q, p in _PCTS
        )
    select = f"AVG(latency) AS avg_latency, {pcts}, COUNT(*) AS total_requests"
    return [_grouped(dialect, s, select, by=by, extra=extra)]


_PCTS: Final = (("0.90", 90), ("0.95", 95), ("0.99", 99))


def latency_by_provider(dialect: Dialect, s: Search) -> list[str]:
    return latency_histogram(dialect, s, by="provider")


def _previous(s: Search) -> Search:
    assert s.start is not None
    assert s.end is not None
    length = s.end - s.start
    return replace(s, start=s.start - length, end=s.start - timedelta(microseconds=1))


def _ranked(dialect: Dialect, s: Search, select: str, key: str, group: str, top: bool) -> str:
    tail = f" ORDER BY total_requests DESC LIMIT {RANKINGS_LIMIT}" if top else ""
    return (
        f"SELECT {select} FROM logs{where(dialect, s, terminal=True)} "
        f"AND {key} IS NOT NULL AND {key} != '' GROUP BY {group}{tail}{_final(dialect)}"
    )


def model_rankings(dialect: Dialect, s: Search) -> list[str]:
    """``GetModelRankings``: the window, then the previous one for the trends."""
    select = (
        "model, provider, COUNT(*) AS total_requests, "
        "SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS success_count, "
        "SUM(total_tokens) AS total_tokens, COALESCE(SUM(cost), 0) AS total_cost, "
        "AVG(latency) AS avg_latency, COALESCE(SUM(CASE WHEN status = 'success' AND latency > 0 "
        "THEN completion_tokens ELSE 0 END), 0) AS tp_completion_tokens, "
        "COALESCE(SUM(CASE WHEN status = 'success' AND latency > 0 THEN latency ELSE 0 END), 0) "
        "AS tp_latency_ms"
    )
    current = "MAX(NULLIF(canonical_model_name, '')) AS canonical_name, " + select
    return [
        _ranked(dialect, s, current, "model", "model, provider", top=True),
        _ranked(dialect, _previous(s), select, "model", "model, provider", top=False),
    ]


def virtual_key_rankings(dialect: Dialect, s: Search) -> list[str]:
    """``GetDimensionRankings`` for ``virtual_key`` (no fan-out), then the previous window."""
    select = (
        "virtual_key_id, MAX(virtual_key_name) AS name, COUNT(*) AS total_requests, "
        "SUM(total_tokens) AS total_tokens, COALESCE(SUM(cost), 0) AS total_cost"
    )
    return [
        _ranked(dialect, s, select, "virtual_key_id", "virtual_key_id", top=True),
        _ranked(dialect, _previous(s), select, "virtual_key_id", "virtual_key_id", top=False),
    ]


def filterdata(dialect: Dialect, s: Search) -> list[str]:
    """``GetDistinct*`` for models, selected keys and virtual keys since ``s.start``."""
    assert s.start is not None
    since = Search(start=s.start)
    out = []
    for cols, key in (
        ("model", "model"),
        ("selected_key_id, selected_key_name", "selected_key_id"),
        ("virtual_key_id, virtual_key_name", "virtual_key_id"),
    ):
        out.append(
            f"SELECT DISTINCT {cols} FROM logs{where(dialect, since)} AND {key} IS NOT NULL "
            f"AND {key} != '' ORDER BY {cols} LIMIT {FILTERDATA_LIMIT}{_final(dialect)}"
        )
    return out


def month_before(end: datetime) -> Search:
    return Search(start=end - timedelta(days=30), end=end)
