"""What the aggregation builders and parsers share: response decoding, the per-series
``terms`` aggregation, and the metric groups (tokens, cost, latency, throughput). Pure."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any, Final, TypeVar

import msgspec

from api.aggs.buckets import Plan, bucket_key, date_histogram
from api.parsing import InvalidParameter
from shared.index import CACHED_READ_TOKENS, COMPLETION_TOKENS, PROMPT_TOKENS, TOTAL_TOKENS

#: Most distinct series values (models, providers, teams, ...) one bucket may hold. More is a
#: 400, never a silently truncated answer.
SERIES_CAP: Final = 1000
PERCENTS: Final = (90.0, 95.0, 99.0)
#: Only logs with a cost above zero count towards cost histograms (Bifrost: ``cost > 0``).
POSITIVE_COST: Final[dict[str, Any]] = {"range": {"cost": {"gt": 0}}}
HAS_LATENCY: Final[dict[str, Any]] = {"exists": {"field": "latency"}}
#: Throughput counts successful logs with a measured latency (Bifrost: ``latency > 0``).
THROUGHPUT_CLAUSES: Final[tuple[dict[str, Any], ...]] = (
    {"term": {"status": "success"}},
    {"range": {"latency": {"gt": 0}}},
)

Agg = dict[str, Any]
S = TypeVar("S", bound=msgspec.Struct)
_ZERO: Final[dict[Any, Any]] = {int: 0, float: 0.0, str: ""}


@functools.cache
def _zeros(cls: type[msgspec.Struct]) -> tuple[tuple[str, Any], ...]:
    """(field, zero) of a struct; ``None`` marks a map (a fresh ``{}`` per instance)."""
    return tuple((f.name, _ZERO.get(f.type)) for f in msgspec.structs.fields(cls))


def zeroed(cls: type[S], **given: Any) -> S:
    """A response struct with ``given`` fields and every other one zero (maps empty): an
    empty bucket. Response fields have no defaults, so the schema lists them as required."""
    values = {name: given.get(name, zero if zero is not None else {}) for name, zero in _zeros(cls)}
    return cls(**values)


class _Metric(msgspec.Struct):
    """A sub-aggregation's answer: ``value`` (sum, avg) or ``doc_count`` (filter)."""

    value: float | None = None
    doc_count: int = 0


class _Percentile(msgspec.Struct):
    key: float
    value: float | None = None


class _Percentiles(msgspec.Struct):
    values: list[_Percentile] = msgspec.field(default_factory=list)


class _Series(msgspec.Struct):
    buckets: list[Bucket] = msgspec.field(default_factory=list)
    sum_other_doc_count: int = 0


class Bucket(msgspec.Struct):
    """A time bucket or a series bucket, with every sub-aggregation the builders name."""

    key: int | str
    doc_count: int = 0
    series: _Series | None = None
    percentiles: _Percentiles | None = None
    success: _Metric | None = None
    error: _Metric | None = None
    cancelled: _Metric | None = None
    cost: _Metric | None = None
    prompt_tokens: _Metric | None = None
    completion_tokens: _Metric | None = None
    total_tokens: _Metric | None = None
    cached_read_tokens: _Metric | None = None
    avg_latency: _Metric | None = None
    latency_sum: _Metric | None = None


class _Histogram(msgspec.Struct):
    buckets: list[Bucket] = msgspec.field(default_factory=list)


class _Aggregations(msgspec.Struct):
    buckets: _Histogram = msgspec.field(default_factory=_Histogram)


class _Response(msgspec.Struct):
    aggregations: _Aggregations = msgspec.field(default_factory=_Aggregations)


_DECODER: Final = msgspec.json.Decoder(_Response)


def decode(raw: bytes) -> list[Bucket]:
    """The time buckets of a :func:`histogram_body` answer (typed decoding)."""
    return _DECODER.decode(raw).aggregations.buckets.buckets


def histogram_body(query: dict[str, Any], p: Plan, aggs: Agg) -> dict[str, Any]:
    """A search body: no hits, one epoch-aligned ``date_histogram`` named ``buckets``."""
    return {
        "size": 0,
        "track_total_hits": False,
        "query": query,
        "aggs": {"buckets": {"date_histogram": date_histogram(p.size), "aggs": aggs}},
    }


def time_buckets(raw: bytes) -> Iterator[tuple[int, Bucket]]:
    """(bucket start in epoch seconds, bucket) of a :func:`histogram_body` answer."""
    for bucket in decode(raw):
        yield bucket_key(bucket.key), bucket


def series_agg(source: Agg, aggs: Agg) -> Agg:
    """One sub-bucket per value of ``source`` (a ``field`` or ``script``), sorted by value."""
    terms = {**source, "size": SERIES_CAP, "order": {"_key": "asc"}}
    return {"terms": terms, "aggs": aggs} if aggs else {"terms": terms}


def series(bucket: Bucket, param: str, what: str) -> Iterator[tuple[str, Bucket]]:
    """(value, sub-bucket) of a :func:`series_agg` named ``series``; more values than
    :data:`SERIES_CAP` is a 400 naming ``param``."""
    found = bucket.series
    if found is None:
        return
    if found.sum_other_doc_count > 0:
        raise InvalidParameter(
            param,
            f"more than {SERIES_CAP} distinct {what} in one time bucket; narrow the filters",
        )
    for sub in found.buckets:
        yield str(sub.key), sub


def _metric(bucket: Bucket, name: str) -> _Metric | None:
    found: _Metric | None = getattr(bucket, name)
    return found


def value(bucket: Bucket, name: str) -> float:
    """A single-value metric (``sum``, ``avg``); 0 when absent or null (no values)."""
    found = _metric(bucket, name)
    return float(found.value) if found is not None and found.value is not None else 0.0


def whole(bucket: Bucket, name: str) -> int:
    """A ``sum`` of a ``long`` field, as an exact integer."""
    return round(value(bucket, name))


def count(bucket: Bucket, name: str) -> int:
    """``doc_count`` of a single-bucket sub-aggregation (``filter``)."""
    found = _metric(bucket, name)
    return found.doc_count if found is not None else 0


# --- tokens ---------------------------------------------------------------------------


class TokenStats(msgspec.Struct, kw_only=True):
    """Token sums of one series in one bucket."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


TOKEN_FIELDS: Final = (PROMPT_TOKENS, COMPLETION_TOKENS, TOTAL_TOKENS)


def token_aggs(*, cached: bool = False) -> Agg:
    fields = (*TOKEN_FIELDS, CACHED_READ_TOKENS) if cached else TOKEN_FIELDS
    return {name: {"sum": {"field": name}} for name in fields}


def token_stats(bucket: Bucket) -> TokenStats:
    return TokenStats(
        prompt_tokens=whole(bucket, PROMPT_TOKENS),
        completion_tokens=whole(bucket, COMPLETION_TOKENS),
        total_tokens=whole(bucket, TOTAL_TOKENS),
    )


# --- cost -----------------------------------------------------------------------------

COST_AGGS: Final[Agg] = {"cost": {"sum": {"field": "cost"}}}


# --- latency --------------------------------------------------------------------------


class LatencyStats(msgspec.Struct, kw_only=True):
    """Latency (ms) of one series in one bucket: average and TDigest percentiles."""

    avg_latency: float
    p90_latency: float
    p95_latency: float
    p99_latency: float
    total_requests: int


LATENCY_AGGS: Final[Agg] = {
    "avg_latency": {"avg": {"field": "latency"}},
    "percentiles": {
        "percentiles": {"field": "latency", "percents": list(PERCENTS), "keyed": False}
    },
}


def latency_stats(bucket: Bucket) -> LatencyStats:
    found = (
        {item.key: item.value for item in bucket.percentiles.values} if bucket.percentiles else {}
    )

    def pct(p: float) -> float:
        got = found.get(p)
        return float(got) if got is not None else 0.0

    return LatencyStats(
        avg_latency=value(bucket, "avg_latency"),
        p90_latency=pct(90.0),
        p95_latency=pct(95.0),
        p99_latency=pct(99.0),
        total_requests=bucket.doc_count,
    )


# --- throughput -----------------------------------------------------------------------


class ThroughputStats(msgspec.Struct, kw_only=True):
    """Token-generation throughput of one series in one bucket (successful logs with a
    latency above zero): ``tokens_per_second = completion tokens / (latency sum / 1000)``."""

    tokens_per_second: float
    total_completion_tokens: int
    total_requests: int


THROUGHPUT_AGGS: Final[Agg] = {
    COMPLETION_TOKENS: {"sum": {"field": COMPLETION_TOKENS}},
    "latency_sum": {"sum": {"field": "latency"}},
}


def tokens_per_second(completion_tokens: int, latency_ms: float) -> float:
    return completion_tokens / (latency_ms / 1000.0) if latency_ms > 0 else 0.0


def throughput_stats(bucket: Bucket) -> ThroughputStats:
    completion = whole(bucket, COMPLETION_TOKENS)
    return ThroughputStats(
        tokens_per_second=tokens_per_second(completion, value(bucket, "latency_sum")),
        total_completion_tokens=completion,
        total_requests=bucket.doc_count,
    )
