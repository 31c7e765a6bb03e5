"""``GET /api/logs/histogram``, ``/tokens``, ``/cost``, ``/models``, ``/latency`` and
``/throughput``: filter -> OpenSearch body, response -> typed answer. Pure.

Every body filters the terminal statuses (``processing`` is never counted) and buckets with
:func:`api.aggs.buckets.date_histogram`; every parser fills the empty buckets of a closed
window. ``models`` lists are sorted.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from api.aggs.buckets import TERMINAL, TERMINAL_CLAUSE, Plan, fill, timestamp
from api.aggs.common import (
    COST_AGGS,
    HAS_LATENCY,
    LATENCY_AGGS,
    POSITIVE_COST,
    THROUGHPUT_AGGS,
    THROUGHPUT_CLAUSES,
    count,
    histogram_body,
    latency_stats,
    series,
    series_agg,
    throughput_stats,
    time_buckets,
    token_aggs,
    value,
    whole,
    zeroed,
)
from api.filters import LogFilter
from api.query import build_filter
from shared.index import CACHED_READ_TOKENS, COMPLETION_TOKENS, PROMPT_TOKENS, TOTAL_TOKENS

MODEL_SOURCE: Final[dict[str, Any]] = {"field": "model", "missing": ""}
_BY_STATUS: Final[dict[str, Any]] = {
    status: {"filter": {"term": {"status": status}}} for status in TERMINAL
}


# --- /histogram -----------------------------------------------------------------------


class HistogramBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    count: int
    success: int
    error: int
    cancelled: int


class HistogramResponse(msgspec.Struct, kw_only=True):
    """Requests per time bucket, by terminal status."""

    buckets: list[HistogramBucket]
    bucket_size_seconds: int


def build_histogram(f: LogFilter, p: Plan) -> dict[str, Any]:
    return histogram_body(build_filter(f, TERMINAL_CLAUSE), p, dict(_BY_STATUS))


def parse_histogram(raw: bytes, p: Plan) -> HistogramResponse:
    found = {
        key: HistogramBucket(
            timestamp=timestamp(key),
            count=b.doc_count,
            success=count(b, "success"),
            error=count(b, "error"),
            cancelled=count(b, "cancelled"),
        )
        for key, b in time_buckets(raw)
    }
    buckets = fill(p, found, lambda key: zeroed(HistogramBucket, timestamp=timestamp(key)))
    return HistogramResponse(buckets=buckets, bucket_size_seconds=p.size)


# --- /histogram/tokens ----------------------------------------------------------------


class TokenBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_read_tokens: int


class TokenHistogramResponse(msgspec.Struct, kw_only=True):
    """Token sums per time bucket."""

    buckets: list[TokenBucket]
    bucket_size_seconds: int


def build_token_histogram(f: LogFilter, p: Plan) -> dict[str, Any]:
    return histogram_body(build_filter(f, TERMINAL_CLAUSE), p, token_aggs(cached=True))


def parse_token_histogram(raw: bytes, p: Plan) -> TokenHistogramResponse:
    found = {
        key: TokenBucket(
            timestamp=timestamp(key),
            prompt_tokens=whole(b, PROMPT_TOKENS),
            completion_tokens=whole(b, COMPLETION_TOKENS),
            total_tokens=whole(b, TOTAL_TOKENS),
            cached_read_tokens=whole(b, CACHED_READ_TOKENS),
        )
        for key, b in time_buckets(raw)
    }
    buckets = fill(p, found, lambda key: zeroed(TokenBucket, timestamp=timestamp(key)))
    return TokenHistogramResponse(buckets=buckets, bucket_size_seconds=p.size)


# --- /histogram/cost ------------------------------------------------------------------


class CostBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    total_cost: float
    by_model: dict[str, float]


class CostHistogramResponse(msgspec.Struct, kw_only=True):
    """Cost (USD, logs with cost > 0) per time bucket, by model."""

    buckets: list[CostBucket]
    bucket_size_seconds: int
    models: list[str]


def build_cost_histogram(f: LogFilter, p: Plan) -> dict[str, Any]:
    query = build_filter(f, TERMINAL_CLAUSE, POSITIVE_COST)
    return histogram_body(query, p, {"series": series_agg(MODEL_SOURCE, COST_AGGS)})


def parse_cost_histogram(raw: bytes, p: Plan) -> CostHistogramResponse:
    found: dict[int, CostBucket] = {}
    models: set[str] = set()
    for key, b in time_buckets(raw):
        by_model = {model: value(s, "cost") for model, s in series(b, "models", "models")}
        models.update(by_model)
        found[key] = CostBucket(
            timestamp=timestamp(key), total_cost=sum(by_model.values(), 0.0), by_model=by_model
        )
    buckets = fill(p, found, lambda key: zeroed(CostBucket, timestamp=timestamp(key)))
    return CostHistogramResponse(buckets=buckets, bucket_size_seconds=p.size, models=sorted(models))


# --- /histogram/models ----------------------------------------------------------------


class ModelUsage(msgspec.Struct, kw_only=True):
    total: int
    success: int
    error: int
    cancelled: int


class ModelBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    by_model: dict[str, ModelUsage]


class ModelHistogramResponse(msgspec.Struct, kw_only=True):
    """Requests per time bucket and model, by terminal status."""

    buckets: list[ModelBucket]
    bucket_size_seconds: int
    models: list[str]


def build_model_histogram(f: LogFilter, p: Plan) -> dict[str, Any]:
    aggs = {"series": series_agg(MODEL_SOURCE, dict(_BY_STATUS))}
    return histogram_body(build_filter(f, TERMINAL_CLAUSE), p, aggs)


def parse_model_histogram(raw: bytes, p: Plan) -> ModelHistogramResponse:
    found: dict[int, ModelBucket] = {}
    models: set[str] = set()
    for key, b in time_buckets(raw):
        by_model = {
            model: ModelUsage(
                total=s.doc_count,
                success=count(s, "success"),
                error=count(s, "error"),
                cancelled=count(s, "cancelled"),
            )
            for model, s in series(b, "models", "models")
        }
        models.update(by_model)
        found[key] = ModelBucket(timestamp=timestamp(key), by_model=by_model)
    buckets = fill(p, found, lambda key: zeroed(ModelBucket, timestamp=timestamp(key)))
    return ModelHistogramResponse(
        buckets=buckets, bucket_size_seconds=p.size, models=sorted(models)
    )


# --- /histogram/latency ---------------------------------------------------------------


class LatencyBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    avg_latency: float
    p90_latency: float
    p95_latency: float
    p99_latency: float
    total_requests: int


class LatencyHistogramResponse(msgspec.Struct, kw_only=True):
    """Latency (ms) per time bucket: average and p90/p95/p99 (TDigest, see docs/api.md)."""

    buckets: list[LatencyBucket]
    bucket_size_seconds: int


def build_latency_histogram(f: LogFilter, p: Plan) -> dict[str, Any]:
    return histogram_body(build_filter(f, TERMINAL_CLAUSE, HAS_LATENCY), p, dict(LATENCY_AGGS))


def parse_latency_histogram(raw: bytes, p: Plan) -> LatencyHistogramResponse:
    found = {
        key: LatencyBucket(timestamp=timestamp(key), **msgspec.structs.asdict(latency_stats(b)))
        for key, b in time_buckets(raw)
    }
    buckets = fill(p, found, lambda key: zeroed(LatencyBucket, timestamp=timestamp(key)))
    return LatencyHistogramResponse(buckets=buckets, bucket_size_seconds=p.size)


# --- /histogram/throughput ------------------------------------------------------------


class ThroughputBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    tokens_per_second: float
    total_completion_tokens: int
    total_requests: int


class ThroughputHistogramResponse(msgspec.Struct, kw_only=True):
    """Token-generation throughput per time bucket (successful logs with latency > 0)."""

    buckets: list[ThroughputBucket]
    bucket_size_seconds: int


def build_throughput_histogram(f: LogFilter, p: Plan) -> dict[str, Any]:
    query = build_filter(f, TERMINAL_CLAUSE, *THROUGHPUT_CLAUSES)
    return histogram_body(query, p, dict(THROUGHPUT_AGGS))


def parse_throughput_histogram(raw: bytes, p: Plan) -> ThroughputHistogramResponse:
    found = {
        key: ThroughputBucket(
            timestamp=timestamp(key), **msgspec.structs.asdict(throughput_stats(b))
        )
        for key, b in time_buckets(raw)
    }
    buckets = fill(p, found, lambda key: zeroed(ThroughputBucket, timestamp=timestamp(key)))
    return ThroughputHistogramResponse(buckets=buckets, bucket_size_seconds=p.size)
