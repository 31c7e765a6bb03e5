"""``GET /api/logs/dropped``: what the worker could not index, counted from the
``<alias>-dropped`` index (one document per dead-lettered record). Pure.

Parameters: ``start_time``/``end_time`` or ``period`` (the one filter parser's window, over
the Kafka record's timestamp) and ``bucket_size_seconds``. Without it the bucket size is the
smallest of :data:`AUTO_BUCKETS` giving at most :data:`AUTO_MAX_BUCKETS` buckets over a
window with a start, and one hour otherwise. With a start, every bucket of the window is
present (empty ones with 0); without one, only buckets holding a dropped record.
"""

from __future__ import annotations

import time
from typing import Any, Final

import msgspec

from api.filters import LogFilter, parse_filters
from api.parsing import InvalidParameter, Raw, integer, reject_unknown
from api.query import CountedHits, format_nanos

PARAMS: Final = frozenset({"start_time", "end_time", "period", "bucket_size_seconds"})
AUTO_BUCKETS: Final = (60, 300, 900, 3600, 10800, 21600, 43200, 86400, 604800, 2592000)
AUTO_MAX_BUCKETS: Final = 200
MAX_BUCKETS: Final = 10_000
MIN_BUCKET: Final = 60
MAX_BUCKET: Final = 2_592_000
_MS: Final = 1_000_000


class DroppedQuery(msgspec.Struct, frozen=True, kw_only=True):
    start_ms: int | None
    end_ms: int | None
    bucket_seconds: int

    @property
    def dense(self) -> bool:
        return self.start_ms is not None and self.end_ms is not None


def parse_dropped(raw: Raw, *, now_ns: int | None = None) -> DroppedQuery:
    reject_unknown(raw, PARAMS)
    now_ns = time.time_ns() if now_ns is None else now_ns
    window: LogFilter = parse_filters(raw, now_ns=now_ns)
    # Record timestamps are milliseconds: the window's bounds in whole milliseconds.
    start_ms = None if window.start_ns is None else -(-window.start_ns // _MS)
    end_ms = None if window.end_ns is None else window.end_ns // _MS
    if start_ms is not None and end_ms is None:
        end_ms = now_ns // _MS
    span_s = None if start_ms is None or end_ms is None else max(end_ms - start_ms, 0) / 1000
    bucket = integer(raw, "bucket_size_seconds", "3600")
    if bucket is None:
        bucket = 3600
        if span_s is not None:
            bucket = next((b for b in AUTO_BUCKETS if span_s / b < AUTO_MAX_BUCKETS), MAX_BUCKET)
    elif not MIN_BUCKET <= bucket <= MAX_BUCKET:
        raise InvalidParameter(
            "bucket_size_seconds",
            f"bucket_size_seconds must be between {MIN_BUCKET} and {MAX_BUCKET}; got {bucket}",
        )
    elif span_s is not None and span_s / bucket >= MAX_BUCKETS:
        raise InvalidParameter(
            "bucket_size_seconds",
            f"bucket_size_seconds={bucket} makes more than {MAX_BUCKETS} buckets over the"
            " window; give a larger one",
        )
    return DroppedQuery(start_ms=start_ms, end_ms=end_ms, bucket_seconds=bucket)


_REASONS: Final = {"terms": {"field": "reason", "size": 100, "order": [{"_key": "asc"}]}}


def build_dropped(q: DroppedQuery) -> dict[str, Any]:
    """One search over ``<alias>-dropped``: the total, by reason, and by time bucket."""
    bounds: dict[str, Any] = {}
    if q.start_ms is not None:
        bounds["gte"] = q.start_ms
    if q.end_ms is not None:
        bounds["lte"] = q.end_ms
    histogram: dict[str, Any] = {
        "field": "timestamp",
        "fixed_interval": f"{q.bucket_seconds}s",
        "min_doc_count": 1,
    }
    if q.dense:
        histogram["min_doc_count"] = 0
        histogram["extended_bounds"] = {"min": q.start_ms, "max": q.end_ms}
    query: dict[str, Any] = {"match_all": {}}
    if bounds:
        query = {"range": {"timestamp": {**bounds, "format": "epoch_millis"}}}
    return {
        "size": 0,
        "track_total_hits": True,
        "query": query,
        "aggs": {
            "by_reason": _REASONS,
            "over_time": {"date_histogram": histogram, "aggs": {"by_reason": _REASONS}},
        },
    }


class ReasonCount(msgspec.Struct, kw_only=True):
    reason: str
    count: int


class DroppedBucket(msgspec.Struct, kw_only=True):
    timestamp: str
    """Start of the bucket (RFC 3339, UTC), aligned to the Unix epoch."""
    count: int
    by_reason: list[ReasonCount]


class DroppedResponse(msgspec.Struct, kw_only=True):
    """Bifrost's ``dropped_requests`` and, beyond Bifrost, the same count by reason
    (``undecodable``, ``invalid``, ``missing_id``, ``too_large``, ``rejected``, ``expired``)
    and over time."""

    dropped_requests: int
    by_reason: list[ReasonCount]
    buckets: list[DroppedBucket]
    bucket_size_seconds: int
    start_time: str | None
    end_time: str | None


class _Term(msgspec.Struct):
    key: str
    doc_count: int


class _Terms(msgspec.Struct):
    buckets: list[_Term] = msgspec.field(default_factory=list)


class _TimeBucket(msgspec.Struct):
    key: int
    doc_count: int
    by_reason: _Terms = msgspec.field(default_factory=_Terms)


class _Histogram(msgspec.Struct):
    buckets: list[_TimeBucket] = msgspec.field(default_factory=list)


class _Aggs(msgspec.Struct):
    by_reason: _Terms = msgspec.field(default_factory=_Terms)
    over_time: _Histogram = msgspec.field(default_factory=_Histogram)


class _Response(msgspec.Struct):
    hits: CountedHits = msgspec.field(default_factory=CountedHits)
    aggregations: _Aggs = msgspec.field(default_factory=_Aggs)


_DECODER: Final = msgspec.json.Decoder(_Response)


def _reasons(terms: _Terms) -> list[ReasonCount]:
    return [ReasonCount(reason=t.key, count=t.doc_count) for t in terms.buckets]


def _ms_time(ms: int | None) -> str | None:
    return None if ms is None else format_nanos(ms * _MS)


def parse_dropped_response(raw: bytes, q: DroppedQuery) -> DroppedResponse:
    response = _DECODER.decode(raw)
    aggs = response.aggregations
    return DroppedResponse(
        dropped_requests=response.hits.total.value,
        by_reason=_reasons(aggs.by_reason),
        buckets=[
            DroppedBucket(
                timestamp=format_nanos(b.key * _MS),
                count=b.doc_count,
                by_reason=_reasons(b.by_reason),
            )
            for b in aggs.over_time.buckets
        ],
        bucket_size_seconds=q.bucket_seconds,
        start_time=_ms_time(q.start_ms),
        end_time=_ms_time(q.end_ms),
    )
