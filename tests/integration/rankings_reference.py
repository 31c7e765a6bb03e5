"""Plain-Python reference of rankings, filter data and sessions over the seeded documents
(:mod:`tests.support.dashboard_seed`): what each number means, written the obvious way."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from api.aggs.filterdata import (
    CUTOFF_NS,
    DIMENSION_LIMIT,
    EXCLUDED_METADATA_KEYS,
    METADATA_PAIRS,
    METADATA_VALUES_PER_KEY,
    PAIR_DIMENSIONS,
    VALUE_DIMENSIONS,
)
from api.aggs.groups import Owner
from api.aggs.rankings import RANKING_DIMENSIONS
from api.filters import ARRAY_FILTERS, LIST_FILTERS
from api.parsing import parse_time
from api.query import MULTI_VALUED, format_nanos
from shared.index import METADATA_KV, METADATA_SEPARATOR, OWNER_FIELDS, TOTAL_TOKENS
from tests.integration.api_seed import value_filters_match

Doc = Mapping[str, Any]
Window = tuple[int | None, int | None]
TERMINAL = {"success", "error", "cancelled"}


def timestamp(doc: Doc) -> int | None:
    return parse_time("timestamp", doc["timestamp"]) if "timestamp" in doc else None


def _values(doc: Doc, field: str) -> set[str]:
    out: set[str] = set()
    for name in (field, MULTI_VALUED.get(field)):
        value = doc.get(name) if name else None
        if isinstance(value, str):
            out.add(value)
        elif isinstance(value, list):
            out.update(v for v in value if isinstance(v, str))
    return out


def matches(doc: Doc, params: Mapping[str, str], window: Window) -> bool:
    """The filters of ``params`` (times are given as ``window``, nanoseconds, inclusive)."""
    lists = {**LIST_FILTERS, **ARRAY_FILTERS, "session_id": "parent_request_id"}
    for param, field in lists.items():
        if param in params:
            wanted = {v.strip() for v in params[param].split(",") if v.strip()}
            if not _values(doc, field) & wanted:
                return False
    start, end = window
    ts = timestamp(doc)
    if (start is not None or end is not None) and ts is None:
        return False
    if ts is not None and ((start is not None and ts < start) or (end is not None and ts > end)):
        return False
    if params.get("roots_only") == "true" and "parent_request_id" in doc:
        return False
    return value_filters_match(doc, params)


def select(docs: Iterable[Doc], params: Mapping[str, str], window: Window) -> list[Doc]:
    return [d for d in docs if matches(d, params, window)]


def pct(old: float, new: float) -> float:
    return (new - old) / old * 100 if old else 0.0


def _trend(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    if old is None:
        return {"has_previous_period": False} | dict.fromkeys(
            ("requests_trend", "tokens_trend", "cost_trend"), 0.0
        )
    return {
        "has_previous_period": True,
        "requests_trend": pct(old["requests"], new["requests"]),
        "tokens_trend": pct(old["tokens"], new["tokens"]),
        "cost_trend": pct(old["cost"], new["cost"]),
    }


def _model_groups(docs: Iterable[Doc]) -> dict[tuple[str, str], dict[str, Any]]:
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for d in docs:
        if d.get("status") not in TERMINAL or not d.get("model") or "provider" not in d:
            continue
        g = groups.setdefault(
            (d["model"], d["provider"]),
            {"requests": 0, "success": 0, "tokens": 0, "cost": 0.0, "lat": [], "canon": ""},
        )
        g["requests"] += 1
        g["success"] += d["status"] == "success"
        g["tokens"] += d.get(TOTAL_TOKENS, 0)
        g["cost"] += d.get("cost", 0.0)
        if "latency" in d:
            g["lat"].append(d["latency"])
        g["canon"] = max(g["canon"], d.get("canonical_model_name") or "")
    for g in groups.values():
        g["avg_latency"] = sum(g["lat"]) / len(g["lat"]) if g["lat"] else 0.0
    return groups


def model_rankings(
    current: list[Doc], previous: list[Doc] | None, limit: int | None
) -> list[dict[str, Any]]:
    now, before = _model_groups(current), _model_groups(previous or [])
    keys = sorted(now, key=lambda k: (-now[k]["requests"], k))
    out = []
    for key in keys[:limit] if limit is not None else keys:
        g, old = now[key], before.get(key)
        trend = _trend(old, g)
        trend["latency_trend"] = 0.0
        if old is not None and old["avg_latency"] > 0:
            trend["latency_trend"] = pct(old["avg_latency"], g["avg_latency"])
        row = {
            "model": key[0],
            "provider": key[1],
            "total_requests": g["requests"],
            "success_count": g["success"],
            "success_rate": g["success"] / g["requests"] * 100,
            "total_tokens": g["tokens"],
            "total_cost": g["cost"],
            "avg_latency": g["avg_latency"],
            "trend": trend,
        }
        if g["canon"]:
            row["canonical_model_name"] = g["canon"]
        out.append(row)
    return out


def owners(doc: Doc, owner: Owner) -> dict[str, str]:
    """id -> name of every owner of ``doc`` (scalar pair and, positionally, the arrays),
    from the stored fields themselves (not from the derived field the API reads)."""
    found: dict[str, str] = {}
    if doc.get(owner.id):
        found[doc[owner.id]] = doc.get(owner.name) or ""
    if owner.owners is not None:
        _, _, ids_field, names_field = OWNER_FIELDS[owner.owners]
        ids = doc.get(ids_field) or []
        names = doc.get(names_field) or []
        for k, ident in enumerate(ids):
            if ident:
                name = names[k] if k < len(names) and isinstance(names[k], str) else ""
                found[ident] = max(found.get(ident, ""), name)
    return found


def _owner_groups(docs: Iterable[Doc], owner: Owner) -> tuple[dict[str, dict[str, Any]], int]:
    groups: dict[str, dict[str, Any]] = {}
    owned = 0
    for d in docs:
        if d.get("status") not in TERMINAL:
            continue
        found = owners(d, owner)
        owned += bool(found)
        for ident, name in found.items():
            g = groups.setdefault(ident, {"requests": 0, "tokens": 0, "cost": 0.0, "name": ""})
            g["requests"] += 1
            g["tokens"] += d.get(TOTAL_TOKENS, 0)
            g["cost"] += d.get("cost", 0.0)
            g["name"] = max(g["name"], name)
    return groups, owned


def dimension_rankings(
    dimension: str, current: list[Doc], previous: list[Doc] | None, limit: int | None
) -> dict[str, Any]:
    owner = RANKING_DIMENSIONS[dimension]
    now, owned = _owner_groups(current, owner)
    before = _owner_groups(previous or [], owner)[0]
    ids = sorted(now, key=lambda i: (-now[i]["requests"], i))
    rows = []
    for ident in ids[:limit] if limit is not None else ids:
        g, old = now[ident], before.get(ident)
        trend = _trend(old, g)
        row = {"id": ident, "total_requests": g["requests"], "total_tokens": g["tokens"]}
        row |= {"total_cost": g["cost"], "trend": trend}
        if g["name"]:
            row["name"] = g["name"]
        rows.append(row)
    out: dict[str, Any] = {"rankings": rows, "dimension": dimension}
    if owner.owners is not None:
        out["total_actual_requests"] = owned
        out["total_attributed_requests"] = sum(g["requests"] for g in now.values())
    return out


def filter_window(params: Mapping[str, str], now_ns: int) -> Window:
    start = parse_time("s", params["start_time"]) if "start_time" in params else None
    end = parse_time("e", params["end_time"]) if "end_time" in params else None
    if start is None and end is None:
        return now_ns - CUTOFF_NS, None
    return start, end


def filter_data(docs: list[Doc], dimensions: Iterable[str], q: str | None) -> dict[str, Any]:
    def hit(text: str) -> bool:
        return q is None or q.lower() in text.lower()

    out: dict[str, Any] = {"counts": {}}
    for name in dimensions:
        if name in VALUE_DIMENSIONS:
            values = Counter(
                v for d in docs for v in _plain(d, VALUE_DIMENSIONS[name]) if v and hit(v)
            )
            listed = sorted(values)[:DIMENSION_LIMIT]
            out[name] = listed
            out["counts"][name] = {k: values[k] for k in listed}
        elif name in PAIR_DIMENSIONS:
            pairs = Counter(
                (n, i)
                for d in docs
                for i, n in owners(d, PAIR_DIMENSIONS[name]).items()
                if n and hit(n)
            )
            out[name] = [
                {"id": i, "name": n, "count": pairs[(n, i)]}
                for n, i in sorted(pairs)[:DIMENSION_LIMIT]
            ]
        else:
            kv = Counter(
                p
                for d in docs
                for p in d.get(METADATA_KV, ())
                if hit(p) and p.split(METADATA_SEPARATOR)[0] not in EXCLUDED_METADATA_KEYS
            )
            keys: dict[str, dict[str, int]] = {}
            for pair in sorted(kv)[:METADATA_PAIRS]:
                key, _, value = pair.partition(METADATA_SEPARATOR)
                if key not in keys and len(keys) >= DIMENSION_LIMIT:
                    break
                values_of = keys.setdefault(key, {})
                if len(values_of) < METADATA_VALUES_PER_KEY:
                    values_of[value] = kv[pair]
            out[name] = {k: list(v) for k, v in keys.items()}
            out["counts"][name] = keys
    return out


def _plain(doc: Doc, field: str) -> list[str]:
    value = doc.get(field)
    if isinstance(value, list):
        return sorted({v for v in value if isinstance(v, str)})
    return [value] if isinstance(value, str) else []


def session(docs: Iterable[Doc], session_id: str) -> list[Doc]:
    return [d for d in docs if d.get("parent_request_id") == session_id]


def session_order(logs: list[Doc], order: str) -> list[str]:
    stamped = sorted(
        (d for d in logs if "timestamp" in d),
        key=lambda d: (timestamp(d), d["id"]),
        reverse=order == "desc",
    )
    unstamped = sorted((d for d in logs if "timestamp" not in d), key=lambda d: d["id"])
    return [d["id"] for d in stamped] + [
        d["id"] for d in (unstamped if order == "asc" else unstamped[::-1])
    ]


def session_summary(logs: list[Doc], session_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "session_id": session_id,
        "count": len(logs),
        "total_cost": sum(d.get("cost", 0.0) for d in logs),
        "total_tokens": sum(d.get(TOTAL_TOKENS, 0) for d in logs),
        "duration_ms": 0,
    }
    times = [t for t in map(timestamp, logs) if t is not None]
    if times:
        out["started_at"] = format_nanos(min(times))
        out["latest_at"] = format_nanos(max(times))
        out["duration_ms"] = (max(times) - min(times)) // 1_000_000
    return out
