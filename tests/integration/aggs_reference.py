"""Plain-Python reference of the stats and histogram endpoints over seeded documents.

Everything here reads the decoded ``_source`` documents directly: a filter is the parsed
:class:`api.filters.LogFilter` evaluated on each document, buckets are ``floor(epoch/b)*b``,
percentiles are Postgres' ``percentile_cont`` (linear interpolation at rank ``q*(n-1)``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from api.aggs.buckets import NANOS, TERMINAL, Plan, timestamp
from api.filters import LogFilter
from api.parsing import parse_time
from api.query import MULTI_VALUED
from shared.index import (
    CACHE_HIT_TYPE,
    CACHED_READ_TOKENS,
    COMPLETION_TOKENS,
    METADATA_KV,
    METADATA_SEPARATOR,
    PROMPT_TOKENS,
    TOTAL_TOKENS,
)

Doc = Mapping[str, Any]


def _values(doc: Doc, field: str) -> set[str]:
    got = doc.get(field)
    if got is None:
        return set()
    return {str(v) for v in got} if isinstance(got, list) else {str(got)}


def ts_ns(doc: Doc) -> int | None:
    return parse_time("timestamp", doc["timestamp"]) if "timestamp" in doc else None


def matches(doc: Doc, f: LogFilter) -> bool:
    for field, wanted in f.filters:
        have = _values(doc, field)
        if field in MULTI_VALUED:
            have |= _values(doc, MULTI_VALUED[field])
        if not have & set(wanted):
            return False
    ts = ts_ns(doc)
    if f.start_ns is not None and (ts is None or ts < f.start_ns):
        return False
    if f.end_ns is not None and (ts is None or ts > f.end_ns):
        return False
    for field, low, high in (
        ("latency", f.min_latency, f.max_latency),
        ("cost", f.min_cost, f.max_cost),
        (TOTAL_TOKENS, f.min_tokens, f.max_tokens),
    ):
        value = doc.get(field)
        if low is not None and (value is None or value < low):
            return False
        if high is not None and (value is None or value > high):
            return False
    if f.missing_cost_only:
        cost = doc.get("cost")
        if not (cost is None or cost <= 0) or doc.get("status") == "error":
            return False
    if f.roots_only and doc.get("parent_request_id") is not None:
        return False
    for key, value in f.metadata:
        if f"{key}{METADATA_SEPARATOR}{value}" not in doc.get(METADATA_KV, ()):
            return False
    return True


def percentile_cont(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rank_bounds(values: Sequence[float], q: float, error: float) -> tuple[float, float]:
    """Where an estimate of the ``q`` quantile may lie when its rank (0-based, of ``n``
    sorted values) is off by at most ``max(1, error * n)`` from ``q * (n - 1)``."""
    ordered = sorted(values)
    n = len(ordered)
    slack = max(1.0, error * n)
    centre = q * (n - 1)
    low = ordered[max(0, math.floor(centre - slack))]
    high = ordered[min(n - 1, math.ceil(centre + slack))]
    return low, high


class Reference:
    """Stats and histograms of the documents matching one filter."""

    def __init__(self, docs: Iterable[Doc], f: LogFilter, everything: Sequence[Doc]) -> None:
        self.f = f
        self.everything = everything
        self.docs = [d for d in docs if matches(d, f)]
        self.terminal = [d for d in self.docs if d.get("status") in TERMINAL]

    # --- stats ------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        t = self.terminal
        latencies = [d["latency"] for d in t if d.get("latency") is not None]
        success = sum(d["status"] == "success" for d in t)
        rate = success / len(t) * 100 if t else 0.0
        out: dict[str, Any] = {
            "total_requests": len(self.docs),
            "success_rate": rate,
            "average_latency": sum(latencies) / len(latencies) if latencies else 0.0,
            "total_tokens": sum(d.get(TOTAL_TOKENS, 0) for d in t),
            "prompt_tokens": sum(d.get(PROMPT_TOKENS, 0) for d in t),
            "completion_tokens": sum(d.get(COMPLETION_TOKENS, 0) for d in t),
            "total_cost": sum(d.get("cost") or 0.0 for d in t),
            "cache_hit_rate_total_requests": len(t),
            "direct_cache_hits": sum(d.get(CACHE_HIT_TYPE) == "direct" for d in t),
            "semantic_cache_hits": sum(d.get(CACHE_HIT_TYPE) == "semantic" for d in t),
        }
        if self.f.values("parent_request_id"):
            out["user_facing_success_rate"] = rate
            out["user_facing_total_requests"] = len(t)
            return out
        roots = [d for d in t if (d.get("fallback_index") or 0) == 0]
        rescuers = {
            d["parent_request_id"]
            for d in self.everything
            if d.get("status") == "success"
            and d.get("parent_request_id") is not None
            and self._in_window(d)
        }
        good = sum(d["status"] == "success" or d["id"] in rescuers for d in roots)
        out["user_facing_total_requests"] = len(roots)
        out["user_facing_success_rate"] = good / len(roots) * 100 if roots else 0.0
        return out

    def _in_window(self, d: Doc) -> bool:
        ts = ts_ns(d)
        if self.f.start_ns is not None and (ts is None or ts < self.f.start_ns):
            return False
        return not (self.f.end_ns is not None and (ts is None or ts > self.f.end_ns))

    # --- histograms -------------------------------------------------------------------

    def grouped(self, p: Plan, docs: Iterable[Doc]) -> dict[int, list[Doc]]:
        out: dict[int, list[Doc]] = defaultdict(list)
        for d in docs:
            ts = ts_ns(d)
            assert ts is not None
            out[(ts // NANOS) // p.size * p.size].append(d)
        if p.keys is not None:
            assert set(out) <= set(p.keys), "a log outside the window's buckets"
            return {key: out.get(key, []) for key in p.keys}
        return {key: out[key] for key in sorted(out)}

    def counts(self, p: Plan) -> list[dict[str, Any]]:
        return [
            {
                "timestamp": timestamp(k),
                "count": len(ds),
                **{s: sum(d["status"] == s for d in ds) for s in TERMINAL},
            }
            for k, ds in self.grouped(p, self.terminal).items()
        ]

    def tokens(self, p: Plan) -> list[dict[str, Any]]:
        fields = (PROMPT_TOKENS, COMPLETION_TOKENS, TOTAL_TOKENS, CACHED_READ_TOKENS)
        return [
            {"timestamp": timestamp(k), **{f: sum(d.get(f, 0) for d in ds) for f in fields}}
            for k, ds in self.grouped(p, self.terminal).items()
        ]

    def costed(self) -> list[Doc]:
        return [d for d in self.terminal if (d.get("cost") or 0) > 0]

    def timed(self) -> list[Doc]:
        return [d for d in self.terminal if d.get("latency") is not None]

    def fast(self) -> list[Doc]:
        return [d for d in self.terminal if d["status"] == "success" and d.get("latency", 0) > 0]

    def series(self, p: Plan, docs: Iterable[Doc], key: str) -> dict[int, dict[str, list[Doc]]]:
        out: dict[int, dict[str, list[Doc]]] = {}
        for k, ds in self.grouped(p, docs).items():
            by: dict[str, list[Doc]] = defaultdict(list)
            for d in ds:
                for name in dimension_values(d, key):
                    by[name].append(d)
            out[k] = dict(by)
        return out


def dimension_values(doc: Doc, dimension: str) -> list[str]:
    """Bifrost's fan-out: every id of the multi-valued companion, else the single id."""
    many = MULTI_VALUED.get(dimension)
    if many is not None and doc.get(many):
        return sorted(set(doc[many]))
    value = doc.get(dimension)
    return [str(value) if value is not None else ""]


def latency_stats(ds: Sequence[Doc]) -> dict[str, Any]:
    values = [d["latency"] for d in ds]
    return {
        "avg_latency": sum(values) / len(values) if values else 0.0,
        "p90_latency": percentile_cont(values, 0.90),
        "p95_latency": percentile_cont(values, 0.95),
        "p99_latency": percentile_cont(values, 0.99),
        "total_requests": len(values),
    }


def throughput_stats(ds: Sequence[Doc]) -> dict[str, Any]:
    completion = sum(d.get(COMPLETION_TOKENS, 0) for d in ds)
    latency = sum(d["latency"] for d in ds)
    return {
        "tokens_per_second": completion / (latency / 1000) if latency > 0 else 0.0,
        "total_completion_tokens": completion,
        "total_requests": len(ds),
    }


def token_stats(ds: Sequence[Doc]) -> dict[str, int]:
    return {
        f: sum(d.get(f, 0) for d in ds) for f in (PROMPT_TOKENS, COMPLETION_TOKENS, TOTAL_TOKENS)
    }
