"""What the aggregation builders and parsers share: response decoding, the per-series
``terms`` aggregation, and the metric groups (tokens, cost, latency, throughput). Pure."""

from __future__ import annotations

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


def zeroed(cls: type[S], **given: Any) -> S:
    """A response struct with ``given`` fields and every other one zero (maps empty): an
    empty bucket. Response fields have no defaults, so the schema lists them as required."""
    values = {
        f.name: given[f.name] if f.name in given else _ZERO.get(f.type, {})
        for f in msgspec.structs.fields(cls)
    }
    return cls(**values)


def decode(raw: bytes) -> dict[str, Any]:
    """A search response's ``aggregations`` object (empty when there is none)."""
    body = msgspec.json.decode(raw)
    aggs: dict[str, Any] = body.get("aggregations") or {}
    return aggs


def histogram_body(query: dict[str, Any], p: Plan, aggs: Agg) -> dict[str, Any]:
    """A search body: no hits, one epoch-aligned ``date_histogram`` named ``buckets``."""
    return {
        "size": 0,
        "track_total_hits": False,
        "query": query,
        "aggs": {"buckets": {"date_histogram": date_histogram(p.size), "aggs": aggs}},
    }


def time_buckets(aggs: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(bucket start in epoch seconds, bucket) of a :func:`histogram_body` answer."""
    for bucket in (aggs.get("buckets") or {}).get("buckets", ()):
        yield bucket_key(bucket["key"]), bucket


def series_agg(source: Agg, aggs: Agg) -> Agg:
    """One sub-bucket per value of ``source`` (a ``field`` or ``script``), sorted by value."""
    terms = {**source, "size": SERIES_CAP, "order": {"_key": "asc"}}
    return {"terms": terms, "aggs": aggs} if aggs else {"terms": terms}


def series(bucket: dict[str, Any], param: str, what: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(value, sub-bucket) of a :func:`series_agg` named ``series``; more values than
    :data:`SERIES_CAP` is a 400 naming ``param``."""
    found = bucket.get("series") or {}
    if found.get("sum_other_doc_count", 0) > 0:
        raise InvalidParameter(
            param,
            f"more than {SERIES_CAP} distinct {what} in one time bucket; narrow the filters",
        )
    for sub in found.get("buckets", ()):
        yield str(sub["key"]), sub


def value(bucket: dict[str, Any], name: str) -> float:
    """A single-value metric (``sum``, ``avg``); 0 when absent or null (no values)."""
    got = (bucket.get(name) or {}).get("value")
    return float(got) if got is not None else 0.0


def whole(bucket: dict[str, Any], name: str) -> int:
    """A ``sum`` of a ``long`` field, as an exact integer."""
    return round(value(bucket, name))


def count(bucket: dict[str, Any], name: str) -> int:
    """``doc_count`` of a single-bucket sub-aggregation (``filter``)."""
    return int((bucket.get(name) or {}).get("doc_count", 0))


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


def token_stats(bucket: dict[str, Any]) -> TokenStats:
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


def latency_stats(bucket: dict[str, Any]) -> LatencyStats:
    found = {
        float(item["key"]): item.get("value")
        for item in (bucket.get("percentiles") or {}).get("values", ())
    }

    def pct(p: float) -> float:
        got = found.get(p)
        return float(got) if got is not None else 0.0

    return LatencyStats(
        avg_latency=value(bucket, "avg_latency"),
        p90_latency=pct(90.0),
        p95_latency=pct(95.0),
        p99_latency=pct(99.0),
        total_requests=int(bucket.get("doc_count", 0)),
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


def throughput_stats(bucket: dict[str, Any]) -> ThroughputStats:
    completion = whole(bucket, COMPLETION_TOKENS)
    return ThroughputStats(
        tokens_per_second=tokens_per_second(completion, value(bucket, "latency_sum")),
        total_completion_tokens=completion,
        total_requests=int(bucket.get("doc_count", 0)),
    )
