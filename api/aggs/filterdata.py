"""``GET /api/logs/filterdata``: the values a filter dropdown offers, each with its count
under the current filters. Parameters, the OpenSearch body, and the typed answer. Pure.

One search, one aggregation per requested dimension, every value list in ascending order
(pairs by name, then id), at most :data:`DIMENSION_LIMIT` values each. Counts are the number
of matching logs (any status) carrying the value. Without ``start_time``, ``end_time`` or
``period`` only the last 30 days count, as in Bifrost.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, Final

import msgspec
from msgspec import UNSET, UnsetType

from api.aggs.groups import SEPARATOR, Owner, ci_substring_regex, split_pair
from api.filters import FILTER_PARAMS, METADATA_PREFIX, LogFilter, parse_filters
from api.parsing import InvalidParameter, QueryInput, collect, comma_list, reject_unknown, single
from api.query import build_filter
from shared.index import METADATA_KV

DIMENSION_LIMIT: Final = 1000
METADATA_VALUES_PER_KEY: Final = 100
#: Distinct metadata ``key=value`` pairs read (in key order) to build ``metadata_keys``.
METADATA_PAIRS: Final = 10_000
EXCLUDED_METADATA_KEYS: Final = ("isAsyncRequest",)
CUTOFF_NS: Final = 30 * 86400 * 1_000_000_000
FILTERDATA_PARAMS: Final = frozenset({"dimensions", "q"})
#: Longer ``q`` would exceed OpenSearch's ``index.max_regex_length`` (1000) once made a
#: case-insensitive regular expression (up to 4 characters per character of ``q``).
MAX_Q: Final = 200

#: Dimensions answered as a sorted list of strings -> stored field.
VALUE_DIMENSIONS: Final[dict[str, str]] = {
    "models": "model",
    "aliases": "alias",
    "routing_engines": "routing_engines_used",
    "stop_reasons": "stop_reason",
    "apps": "app",
    "user_agents": "user_agent",
}
#: Dimensions answered as ``{id, name, count}`` objects, sorted by name then id.
PAIR_DIMENSIONS: Final[dict[str, Owner]] = {
    "selected_keys": Owner("selected_key_id", "selected_key_name"),
    "virtual_keys": Owner("virtual_key_id", "virtual_key_name"),
    "routing_rules": Owner("routing_rule_id", "routing_rule_name"),
    "teams": Owner("team_id", "team_name", "team_owners"),
    "customers": Owner("customer_id", "customer_name", "customer_owners"),
    "users": Owner("user_id", "user_name"),
    "business_units": Owner("business_unit_id", "business_unit_name", "business_unit_owners"),
}
METADATA_KEYS: Final = "metadata_keys"
_NAME_CHAR: Final = f"[^{SEPARATOR}]*"
ALL_DIMENSIONS: Final[tuple[str, ...]] = tuple(
    sorted([*VALUE_DIMENSIONS, *PAIR_DIMENSIONS, METADATA_KEYS])
)


class FilterDataQuery(msgspec.Struct, frozen=True, kw_only=True):
    filter: LogFilter
    """The filters, with the 30-day cutoff applied when they give no window."""
    dimensions: tuple[str, ...]
    q: str | None = None


def parse_filterdata_query(query: QueryInput, *, now_ns: int | None = None) -> FilterDataQuery:
    raw = collect(query)
    reject_unknown(raw, FILTER_PARAMS | FILTERDATA_PARAMS, prefix=METADATA_PREFIX)
    now = time.time_ns() if now_ns is None else now_ns
    f = parse_filters(raw, now_ns=now)
    if f.start_ns is None and f.end_ns is None:
        f = msgspec.structs.replace(f, start_ns=now - CUTOFF_NS)
    dimensions = comma_list(raw.get("dimensions", ()))
    for name in dimensions:
        if name not in ALL_DIMENSIONS:
            raise InvalidParameter(
                "dimensions",
                f"unknown dimension {name!r}; valid dimensions: {', '.join(ALL_DIMENSIONS)}",
            )
    q = (single(raw, "q") or "").strip()
    if len(q) > MAX_Q:
        raise InvalidParameter("q", f"q is too long: at most {MAX_Q} characters")
    return FilterDataQuery(filter=f, dimensions=dimensions or ALL_DIMENSIONS, q=q or None)


def _include(q: str | None) -> str:
    return ci_substring_regex(q) if q else ".+"


def _pair_agg(owner: Owner, q: str | None) -> dict[str, Any]:
    terms: dict[str, Any] = {"size": DIMENSION_LIMIT, "order": {"_key": "asc"}}
    if owner.owners is not None:  # name<US>id: a non-empty name (containing q), any id
        name = ci_substring_regex(q, anything=_NAME_CHAR) if q else f"{_NAME_CHAR[:-1]}+"
        return {"terms": {"field": owner.owners, "include": f"{name}{SEPARATOR}.+", **terms}}
    # Names, then the ids of each: the first DIMENSION_LIMIT (name, id) pairs lie within
    # the first DIMENSION_LIMIT names. Two ``terms`` on global ordinals are about 3x faster
    # than one ``multi_terms`` (measured on 100,000 logs).
    named = {"regexp": {owner.name: {"value": _include(q)}}}
    return {
        "filter": {"bool": {"filter": [{"regexp": {owner.id: {"value": ".+"}}}, named]}},
        "aggs": {"names": {"terms": {"field": owner.name, **terms}, "aggs": _ids_agg(owner)}},
    }


def _ids_agg(owner: Owner) -> dict[str, Any]:
    ids = {"field": owner.id, "size": DIMENSION_LIMIT, "order": {"_key": "asc"}}
    return {"ids": {"terms": ids}}


def build_filterdata(query: FilterDataQuery) -> dict[str, Any]:
    aggs: dict[str, Any] = {}
    for name in query.dimensions:
        if name in VALUE_DIMENSIONS:
            aggs[name] = {
                "terms": {
                    "field": VALUE_DIMENSIONS[name],
                    "size": DIMENSION_LIMIT,
                    "order": {"_key": "asc"},
                    "include": _include(query.q),
                }
            }
        elif name in PAIR_DIMENSIONS:
            aggs[name] = _pair_agg(PAIR_DIMENSIONS[name], query.q)
        else:
            # The excluded keys are plain letters: no regex syntax to escape.
            excluded = "|".join(f"{key}{SEPARATOR}.*" for key in EXCLUDED_METADATA_KEYS)
            aggs[name] = {
                "terms": {
                    "field": METADATA_KV,
                    "size": METADATA_PAIRS,
                    "order": {"_key": "asc"},
                    "include": _include(query.q),
                    "exclude": excluded,
                }
            }
    return {"size": 0, "track_total_hits": False, "query": build_filter(query.filter), "aggs": aggs}


class IdName(msgspec.Struct, kw_only=True):
    """An id and the name the logs carry for it; ``count``: matching logs with both."""

    id: str
    name: str
    count: int


class FilterCounts(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Matching logs per value, for the string lists (one entry per listed value)."""

    aliases: dict[str, int] | UnsetType = UNSET
    apps: dict[str, int] | UnsetType = UNSET
    metadata_keys: dict[str, dict[str, int]] | UnsetType = UNSET
    models: dict[str, int] | UnsetType = UNSET
    routing_engines: dict[str, int] | UnsetType = UNSET
    stop_reasons: dict[str, int] | UnsetType = UNSET
    user_agents: dict[str, int] | UnsetType = UNSET


class FilterData(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Only the requested dimensions are present. Bifrost's keys and shapes, plus ``count``
    in every ``{id, name}`` object and the ``counts`` object for the string lists."""

    aliases: list[str] | UnsetType = UNSET
    apps: list[str] | UnsetType = UNSET
    business_units: list[IdName] | UnsetType = UNSET
    customers: list[IdName] | UnsetType = UNSET
    metadata_keys: dict[str, list[str]] | UnsetType = UNSET
    models: list[str] | UnsetType = UNSET
    routing_engines: list[str] | UnsetType = UNSET
    routing_rules: list[IdName] | UnsetType = UNSET
    selected_keys: list[IdName] | UnsetType = UNSET
    stop_reasons: list[str] | UnsetType = UNSET
    teams: list[IdName] | UnsetType = UNSET
    user_agents: list[str] | UnsetType = UNSET
    users: list[IdName] | UnsetType = UNSET
    virtual_keys: list[IdName] | UnsetType = UNSET
    counts: FilterCounts = msgspec.field(default_factory=FilterCounts)


class _Bucket(msgspec.Struct):
    key: str | list[str]
    doc_count: int


class _Terms(msgspec.Struct):
    buckets: list[_Bucket] = msgspec.field(default_factory=list)


class _Named(msgspec.Struct):
    key: str
    ids: _Terms


class _Names(msgspec.Struct):
    buckets: list[_Named] = msgspec.field(default_factory=list)


class _Agg(msgspec.Struct):
    buckets: list[_Bucket] | None = None
    names: _Names | None = None

    def all_buckets(self) -> list[_Bucket]:
        if self.names is None:
            return self.buckets or []
        pairs = (
            _Bucket(key=[named.key, str(b.key)], doc_count=b.doc_count)
            for named in self.names.buckets
            for b in named.ids.buckets
        )
        return list(itertools.islice(pairs, DIMENSION_LIMIT))


class _Response(msgspec.Struct):
    aggregations: dict[str, _Agg] = msgspec.field(default_factory=dict)


_RESPONSE: Final = msgspec.json.Decoder(_Response)


def _pairs(buckets: list[_Bucket]) -> list[IdName]:
    out = []
    for b in buckets:
        name, ident = (b.key[0], b.key[1]) if isinstance(b.key, list) else split_pair(b.key)
        if name and ident:
            out.append(IdName(id=ident, name=name, count=b.doc_count))
    return out


def _metadata(buckets: list[_Bucket]) -> dict[str, dict[str, int]]:
    keys: dict[str, dict[str, int]] = {}
    for b in buckets:
        key, value = split_pair(str(b.key))
        if not key:
            continue
        values = keys.get(key)
        if values is None:
            if len(keys) >= DIMENSION_LIMIT:
                break
            values = keys[key] = {}
        if len(values) < METADATA_VALUES_PER_KEY:
            values[value] = b.doc_count
    return keys


def parse_filterdata(query: FilterDataQuery, raw: bytes) -> FilterData:
    aggs = _RESPONSE.decode(raw).aggregations
    data = FilterData()
    for name in query.dimensions:
        buckets = aggs[name].all_buckets() if name in aggs else []
        if name in VALUE_DIMENSIONS:
            counts = {str(b.key): b.doc_count for b in buckets if b.key}
            setattr(data, name, list(counts))
            setattr(data.counts, name, counts)
        elif name in PAIR_DIMENSIONS:
            setattr(data, name, _pairs(buckets))
        else:
            metadata = _metadata(buckets)
            data.metadata_keys = {key: list(values) for key, values in metadata.items()}
            data.counts.metadata_keys = metadata
    return data
