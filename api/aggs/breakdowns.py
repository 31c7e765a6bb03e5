"""Histograms broken down by a series: ``/histogram/{cost|tokens|latency|throughput}/by-provider``
and ``/histogram/{cost|tokens|latency}/by-dimension``. Pure.

A series is a ``terms`` sub-aggregation per time bucket over a :data:`Source`. For ``team_id``,
``customer_id`` and ``business_unit_id`` a log is credited to every id of its multi-valued
companion (``team_ids`` ...) when it has one, else to its single id, as Bifrost's Postgres
store fans out; a log without the dimension is keyed ``""``. Fan-out sums are *attributed*:
a bucket's ``total_cost`` can exceed the cost actually spent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Generic, TypeVar

import msgspec

from api.aggs.buckets import TERMINAL_CLAUSE, Plan, fill, timestamp
from api.aggs.common import (
    COST_AGGS,
    HAS_LATENCY,
    LATENCY_AGGS,
    POSITIVE_COST,
    THROUGHPUT_AGGS,
    THROUGHPUT_CLAUSES,
    Agg,
    Bucket,
    LatencyStats,
    ThroughputStats,
    TokenStats,
    histogram_body,
    latency_stats,
    series,
    series_agg,
    throughput_stats,
    time_buckets,
    token_aggs,
    token_stats,
    value,
)
from api.filters import LogFilter
from api.parsing import InvalidParameter, Raw, single
from api.query import MULTI_VALUED, build_filter

T = TypeVar("T")

#: Bifrost's ``ValidHistogramDimensions``, in its order.
DIMENSIONS: Final = ("provider", "team_id", "customer_id", "user_id", "business_unit_id")
#: Credits a log to each id of the multi-valued companion when present, else its single id.
_FAN_OUT: Final = (
    "def many = doc[params.many]; if (many.size() > 0) { return many; }"
    " def one = doc[params.one]; return one.size() > 0 ? one.value : '';"
)


def source(dimension: str) -> Agg:
    """The ``terms`` source of a dimension (stored field, or the fan-out script)."""
    many = MULTI_VALUED.get(dimension)
    if many is None:
        return {"field": dimension, "missing": ""}
    return {
        "script": {
            "source": _FAN_OUT,
            "lang": "painless",
            "params": {"one": dimension, "many": many},
        }
    }


def parse_dimension(raw: Raw) -> str:
    """The required ``dimension`` parameter (Bifrost's messages)."""
    valid = ", ".join(DIMENSIONS)
    given = single(raw, "dimension")
    if given is None:
        raise InvalidParameter(
            "dimension", f"Missing required query parameter: dimension. Valid values: {valid}"
        )
    if given not in DIMENSIONS:
        raise InvalidParameter("dimension", f"Invalid dimension: {given}. Valid values: {valid}")
    return given


class Metric(msgspec.Struct, Generic[T], frozen=True):
    """What a breakdown measures: its sub-aggregations, extra conditions, and parser."""

    aggs: Agg
    clauses: tuple[dict[str, Any], ...]
    parse: Callable[[Bucket], T]


COST: Final = Metric[float](COST_AGGS, (POSITIVE_COST,), lambda s: value(s, "cost"))
TOKENS: Final = Metric[TokenStats](token_aggs(), (), token_stats)
LATENCY: Final = Metric[LatencyStats](LATENCY_AGGS, (HAS_LATENCY,), latency_stats)
THROUGHPUT: Final = Metric[ThroughputStats](THROUGHPUT_AGGS, THROUGHPUT_CLAUSES, throughput_stats)


def build_breakdown(f: LogFilter, p: Plan, metric: Metric[Any], dimension: str) -> dict[str, Any]:
    """Body of a histogram of ``metric`` per value of ``dimension`` (``provider`` included)."""
    query = build_filter(f, TERMINAL_CLAUSE, *metric.clauses)
    return histogram_body(query, p, {"series": series_agg(source(dimension), metric.aggs)})


class Breakdown(msgspec.Struct, Generic[T], frozen=True):
    """A parsed breakdown: per bucket (ascending, gaps filled) the series values, and
    every value seen (sorted)."""

    buckets: list[tuple[int, dict[str, T]]]
    values: list[str]


def parse_breakdown(raw: bytes, p: Plan, metric: Metric[T], dimension: str) -> Breakdown[T]:
    found: dict[int, tuple[int, dict[str, T]]] = {}
    seen: set[str] = set()
    what = f"{dimension} values"
    param = "dimension" if dimension != "provider" else "providers"
    for key, b in time_buckets(raw):
        by = {name: metric.parse(s) for name, s in series(b, param, what)}
        seen.update(by)
        found[key] = (key, by)
    return Breakdown(buckets=fill(p, found, lambda key: (key, {})), values=sorted(seen))


def _total(by: Mapping[str, float]) -> float:
    return sum(by.values(), 0.0)


# --- by-provider responses ------------------------------------------------------------


class ProviderCostBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    total_cost: float
    by_provider: dict[str, float]


class ProviderCostHistogramResponse(msgspec.Struct, kw_only=True):
    """Cost (USD, logs with cost > 0) per time bucket, by provider."""

    buckets: list[ProviderCostBucket]
    bucket_size_seconds: int
    providers: list[str]


class ProviderTokenBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    by_provider: dict[str, TokenStats]


class ProviderTokenHistogramResponse(msgspec.Struct, kw_only=True):
    """Token sums per time bucket, by provider."""

    buckets: list[ProviderTokenBucket]
    bucket_size_seconds: int
    providers: list[str]


class ProviderLatencyBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    by_provider: dict[str, LatencyStats]


class ProviderLatencyHistogramResponse(msgspec.Struct, kw_only=True):
    """Latency (ms) per time bucket, by provider: average and TDigest p90/p95/p99."""

    buckets: list[ProviderLatencyBucket]
    bucket_size_seconds: int
    providers: list[str]


class ProviderThroughputBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    by_provider: dict[str, ThroughputStats]


class ProviderThroughputHistogramResponse(msgspec.Struct, kw_only=True):
    """Token-generation throughput per time bucket, by provider."""

    buckets: list[ProviderThroughputBucket]
    bucket_size_seconds: int
    providers: list[str]


def provider_cost(b: Breakdown[float], p: Plan) -> ProviderCostHistogramResponse:
    return ProviderCostHistogramResponse(
        buckets=[
            ProviderCostBucket(timestamp=timestamp(k), total_cost=_total(by), by_provider=by)
            for k, by in b.buckets
        ],
        bucket_size_seconds=p.size,
        providers=b.values,
    )


def provider_tokens(b: Breakdown[TokenStats], p: Plan) -> ProviderTokenHistogramResponse:
    return ProviderTokenHistogramResponse(
        buckets=[
            ProviderTokenBucket(timestamp=timestamp(k), by_provider=by) for k, by in b.buckets
        ],
        bucket_size_seconds=p.size,
        providers=b.values,
    )


def provider_latency(b: Breakdown[LatencyStats], p: Plan) -> ProviderLatencyHistogramResponse:
    return ProviderLatencyHistogramResponse(
        buckets=[
            ProviderLatencyBucket(timestamp=timestamp(k), by_provider=by) for k, by in b.buckets
        ],
        bucket_size_seconds=p.size,
        providers=b.values,
    )


def provider_throughput(
    b: Breakdown[ThroughputStats], p: Plan
) -> ProviderThroughputHistogramResponse:
    return ProviderThroughputHistogramResponse(
        buckets=[
            ProviderThroughputBucket(timestamp=timestamp(k), by_provider=by) for k, by in b.buckets
        ],
        bucket_size_seconds=p.size,
        providers=b.values,
    )


# --- by-dimension responses -----------------------------------------------------------


class DimensionCostBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    total_cost: float
    by_dimension: dict[str, float]


class DimensionCostHistogramResponse(msgspec.Struct, kw_only=True):
    """Cost (USD, logs with cost > 0) per time bucket, by dimension value (attributed)."""

    buckets: list[DimensionCostBucket]
    bucket_size_seconds: int
    dimension: str
    dimension_values: list[str]


class DimensionTokenBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    by_dimension: dict[str, TokenStats]


class DimensionTokenHistogramResponse(msgspec.Struct, kw_only=True):
    """Token sums per time bucket, by dimension value."""

    buckets: list[DimensionTokenBucket]
    bucket_size_seconds: int
    dimension: str
    dimension_values: list[str]


class DimensionLatencyBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    by_dimension: dict[str, LatencyStats]


class DimensionLatencyHistogramResponse(msgspec.Struct, kw_only=True):
    """Latency (ms) per time bucket, by dimension value: average and TDigest p90/p95/p99."""

    buckets: list[DimensionLatencyBucket]
    bucket_size_seconds: int
    dimension: str
    dimension_values: list[str]


def dimension_cost(b: Breakdown[float], p: Plan, dimension: str) -> DimensionCostHistogramResponse:
    return DimensionCostHistogramResponse(
        buckets=[
            DimensionCostBucket(timestamp=timestamp(k), total_cost=_total(by), by_dimension=by)
            for k, by in b.buckets
        ],
        bucket_size_seconds=p.size,
        dimension=dimension,
        dimension_values=b.values,
    )


def dimension_tokens(
    b: Breakdown[TokenStats], p: Plan, dimension: str
) -> DimensionTokenHistogramResponse:
    return DimensionTokenHistogramResponse(
        buckets=[
            DimensionTokenBucket(timestamp=timestamp(k), by_dimension=by) for k, by in b.buckets
        ],
        bucket_size_seconds=p.size,
        dimension=dimension,
        dimension_values=b.values,
    )


def dimension_latency(
    b: Breakdown[LatencyStats], p: Plan, dimension: str
) -> DimensionLatencyHistogramResponse:
    return DimensionLatencyHistogramResponse(
        buckets=[
            DimensionLatencyBucket(timestamp=timestamp(k), by_dimension=by) for k, by in b.buckets
        ],
        bucket_size_seconds=p.size,
        dimension=dimension,
        dimension_values=b.values,
    )
