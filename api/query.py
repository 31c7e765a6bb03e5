""":class:`api.params.LogQuery` -> OpenSearch search body, and search response -> page. Pure.

- Filters go in ``bool.filter`` (no scoring: results are sorted by field).
- ``content_search`` only ever becomes ``match`` (operator ``and``) and ``match_phrase`` on the
  analysed ``search_text``: the input is analysed as literal text, never parsed as syntax.
  Input with no searchable word (``*``, ``"``) adds no condition (``zero_terms_query: all``).
- Sort: ``[{field: {order, missing: _last}}, {id: asc}]``: logs without the sort value come
  last in both directions, ties are broken by the unique ``id``.
- A list request computes no aggregation: ``stats`` holds only ``total_requests`` (the exact
  total, ``track_total_hits``), as Bifrost's own list does, and ``has_logs`` is ``total > 0``
  unless nothing matched, when one cheap request asks whether any log exists at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from api.filters import LogFilter
from api.params import NANOS_MAX, Cursor, LogQuery, encode_cursor, fingerprint
from shared.index import (
    DERIVED_FIELDS,
    METADATA_KV,
    METADATA_SEPARATOR,
    SEARCH_TEXT,
    TOTAL_TOKENS,
)
from shared.index import format_nanos as format_nanos  # re-exported: its old home
from shared.schema import HEAVY_FIELDS, STRING_PAYLOADS, as_json_text

#: ``sort_by`` value -> indexed field.
SORT_FIELDS: Final[dict[str, str]] = {
    "timestamp": "timestamp",
    "latency": "latency",
    "tokens": TOTAL_TOKENS,
    "cost": "cost",
}
TIEBREAKER: Final = "id"
LIST_EXCLUDES: Final[list[str]] = sorted(DERIVED_FIELDS) + sorted(HEAVY_FIELDS)
NANOS_FORMAT: Final = "strict_date_optional_time_nanos"
_MATCH_NONE: Final[dict[str, Any]] = {"match_none": {}}


def _time_range(start_ns: int | None, end_ns: int | None) -> dict[str, Any] | None:
    """``timestamp`` bounds clamped to what ``date_nanos`` can hold (1970 .. 2262)."""
    if start_ns is None and end_ns is None:
        return None
    if (end_ns is not None and end_ns < 0) or (start_ns is not None and start_ns > NANOS_MAX):
        return _MATCH_NONE
    bounds: dict[str, Any] = {}
    if start_ns is not None and start_ns > 0:
        bounds["gte"] = format_nanos(start_ns)
    if end_ns is not None and end_ns < NANOS_MAX:
        bounds["lte"] = format_nanos(end_ns)
    if not bounds:
        # A bound beyond what date_nanos holds still excludes logs without a timestamp,
        # as a narrower bound would (and as SQL's ``timestamp >= x`` never matches NULL).
        return {"exists": {"field": "timestamp"}}
    return {"range": {"timestamp": {**bounds, "format": NANOS_FORMAT}}}


def _range(field: str, low: float | None, high: float | None) -> dict[str, Any] | None:
    bounds: dict[str, Any] = {}
    if low is not None:
        bounds["gte"] = low
    if high is not None:
        bounds["lte"] = high
    return {"range": {field: bounds}} if bounds else None


def content_clauses(words: str, phrases: tuple[str, ...]) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    if words:
        clauses.append(
            {"match": {SEARCH_TEXT: {"query": words, "operator": "and", "zero_terms_query": "all"}}}
        )
    clauses.extend(
        {"match_phrase": {SEARCH_TEXT: {"query": phrase, "zero_terms_query": "all"}}}
        for phrase in phrases
    )
    return clauses


MISSING_COST: Final[dict[str, Any]] = {
    "bool": {
        "should": [
            {"bool": {"must_not": [{"exists": {"field": "cost"}}]}},
            {"range": {"cost": {"lte": 0}}},
        ],
        "minimum_should_match": 1,
        "must_not": [{"term": {"status": "error"}}],
    }
}


#: Filtered fields that also match a multi-valued companion (a log attributed to several
#: teams, customers or business units matches any of them, as on Bifrost's Postgres store).
MULTI_VALUED: Final[dict[str, str]] = {
    "team_id": "team_ids",
    "customer_id": "customer_ids",
    "business_unit_id": "business_unit_ids",
}
ROOTS_ONLY: Final[dict[str, Any]] = {
    "bool": {"must_not": [{"exists": {"field": "parent_request_id"}}]}
}


def _terms(field: str, values: tuple[str, ...]) -> dict[str, Any]:
    companion = MULTI_VALUED.get(field)
    if companion is None:
        return {"terms": {field: list(values)}}
    return {
        "bool": {
            "should": [{"terms": {field: list(values)}}, {"terms": {companion: list(values)}}],
            "minimum_should_match": 1,
        }
    }


def filter_clauses(q: LogFilter) -> list[dict[str, Any]]:
    """Every condition of ``q``, as ``bool.filter`` clauses (empty: every log)."""
    clauses: list[dict[str, Any]] = [_terms(field, values) for field, values in q.filters]
    optional = [
        _time_range(q.start_ns, q.end_ns),
        _range("latency", q.min_latency, q.max_latency),
        _range("cost", q.min_cost, q.max_cost),
        _range(TOTAL_TOKENS, q.min_tokens, q.max_tokens),
    ]
    clauses.extend(c for c in optional if c is not None)
    if q.missing_cost_only:
        clauses.append(MISSING_COST)
    if q.roots_only:
        clauses.append(ROOTS_ONLY)
    clauses.extend(
        {"term": {METADATA_KV: f"{key}{METADATA_SEPARATOR}{value}"}} for key, value in q.metadata
    )
    clauses.extend(content_clauses(q.content_words, q.content_phrases))
    return clauses


def build_filter(q: LogFilter, *extra: dict[str, Any]) -> dict[str, Any]:
    """The query part: every condition of ``q`` (not the page), plus ``extra`` clauses."""
    clauses = [*filter_clauses(q), *extra]
    if not clauses:
        return {"match_all": {}}
    return {"bool": {"filter": clauses}}


def sort_clause(q: LogQuery) -> list[dict[str, Any]]:
    missing: str | int = "_last"
    if q.sort_by == "timestamp" and q.order == "desc":
        # "_last" would substitute Long.MIN_VALUE, which date_nanos cannot format (OpenSearch
        # answers 500 for from > 0 or search_after). The epoch is the smallest storable
        # date_nanos, so a log without timestamp still sorts after every real one.
        missing = 0
    return [
        {SORT_FIELDS[q.sort_by]: {"order": q.order, "missing": missing}},
        {TIEBREAKER: {"order": "asc"}},
    ]


#: Snippets of the content text around the matched words, HTML-escaped, words marked.
HIGHLIGHT: Final[dict[str, Any]] = {
    "encoder": "html",
    "pre_tags": ["<mark>"],
    "post_tags": ["</mark>"],
    "fields": {SEARCH_TEXT: {"fragment_size": 160, "number_of_fragments": 3}},
}
HIGHLIGHTS_KEY: Final = "highlights"


def with_highlights(source: msgspec.Raw, snippets: list[str]) -> msgspec.Raw:
    """``source`` (a JSON object) with ``"highlights": [...]`` as its first key. The stored
    bytes are spliced, not re-encoded, so every other value stays byte for byte."""
    body = bytes(source).lstrip()
    rest = body[1:].lstrip()
    head = b'{"' + HIGHLIGHTS_KEY.encode() + b'":' + msgspec.json.encode(snippets)
    return msgspec.Raw(head + (b"}" if rest.startswith(b"}") else b"," + rest))


def build_search(q: LogQuery) -> dict[str, Any]:
    """The OpenSearch request body for one ``GET /api/logs`` page."""
    body: dict[str, Any] = {
        "query": build_filter(q),
        "sort": sort_clause(q),
        "size": q.limit,
        "track_total_hits": True,
        "_source": {"excludes": LIST_EXCLUDES},
    }
    if q.highlight and (q.content_words or q.content_phrases):
        body["highlight"] = HIGHLIGHT
    if q.cursor is not None:
        body["search_after"] = list(q.cursor.after)
    else:
        body["from"] = q.offset
    return body


#: Asked only when a list request matched nothing: does the store hold any log at all?
ANY_LOG: Final[dict[str, Any]] = {
    "query": {"match_all": {}},
    "size": 0,
    "track_total_hits": 1,
    "terminate_after": 1,
}


def build_get(log_id: str) -> dict[str, Any]:
    """Body finding one log by its id (through the alias, whatever index holds it).

    The whole ``_source`` is fetched: any ``_source`` filtering makes OpenSearch re-serialise
    the document (``1e16`` would come back as ``1.0E16``); :func:`stored_log` strips the
    derived fields instead, leaving every ingested value byte for byte."""
    return {"query": {"bool": {"filter": [{"term": {TIEBREAKER: log_id}}]}}, "size": 1}


def build_mget(log_id: str, indices: Sequence[str] = ()) -> dict[str, Any]:
    """Body of a realtime ``_mget`` of one log: it sees a log as soon as its write returned
    (no refresh needed) and keeps ``_source`` byte for byte. With ``indices`` (the
    partitions behind the alias), the id is asked of each, since an ``_mget`` through an
    alias over several indices fails; without, through the request's index. The id travels
    in the body, so any id (``/`` included) needs no escaping in the URL."""
    if not indices:
        return {"ids": [log_id]}
    return {"docs": [{"_index": index, "_id": log_id} for index in indices]}


_ALIAS_DECODER: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])


def alias_indices(body: str | bytes) -> list[str]:
    """The indices of a ``GET /<alias>/_alias`` response, newest name first (a log is most
    often in the newest partition; the order only matters for reading)."""
    return sorted(_ALIAS_DECODER.decode(body), reverse=True)


class _MgetError(msgspec.Struct):
    type: str = ""
    reason: str = ""


class _MgetDoc(msgspec.Struct):
    found: bool = False
    source: msgspec.Raw = msgspec.field(name="_source", default=msgspec.Raw(b"{}"))
    error: _MgetError | None = None


class _Mget(msgspec.Struct):
    docs: list[_MgetDoc]


_MGET_DECODER: Final = msgspec.json.Decoder(_Mget)


class MgetFailed(Exception):
    """The ``_mget`` answered an error for the document (e.g. an alias over two indices)."""


def parse_mget(body: str | bytes) -> msgspec.Raw | None:
    """The log of a :func:`build_mget` response (as :func:`stored_log`; the first found, as
    a log lives in one partition), or None when it is not there (or no index is)."""
    for doc in _MGET_DECODER.decode(body).docs:
        if doc.error is not None:
            if doc.error.type == "index_not_found_exception":
                continue  # no index yet, or a partition deleted meanwhile
            raise MgetFailed(f"{doc.error.type}: {doc.error.reason}")
        if doc.found:
            return stored_log(doc.source)
    return None


_TOP_LEVEL: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])
_DERIVED: Final = frozenset(DERIVED_FIELDS)


def stored_log(source: msgspec.Raw) -> msgspec.Raw:
    """A stored ``_source`` without Heimdall's derived fields: the log as ingested, with its
    string-typed payloads as strings (:func:`shared.schema.as_json_text`; the worker stores
    them so, this covers logs indexed before it did)."""
    fields = _TOP_LEVEL.decode(source)
    return msgspec.Raw(
        msgspec.json.encode(
            {
                k: as_json_text(v) if k in STRING_PAYLOADS else v
                for k, v in fields.items()
                if k not in _DERIVED
            }
        )
    )


class Stats(msgspec.Struct, kw_only=True):
    """The list's ``stats``, as Bifrost's own list fills it: ``total_requests`` is the exact
    number of matching logs; the other keys are kept for Bifrost's clients and are always 0
    (Bifrost serves them from ``GET /api/logs/stats``, never computed per page)."""

    total_requests: int
    success_rate: float = 0.0
    average_latency: float = 0.0
    total_tokens: int = 0
    total_cost: float = 0.0


class Page(msgspec.Struct, kw_only=True):
    """One page of logs; every ``_source`` is the store's bytes, untouched."""

    logs: list[msgspec.Raw]
    total: int
    offset: int
    stats: Stats
    has_logs: bool
    next_cursor: str | None


class _Total(msgspec.Struct):
    value: int


class CountedTotal(msgspec.Struct):
    value: int = 0


class CountedHits(msgspec.Struct):
    """``hits`` of a search that only counts (``size: 0``): its total, 0 when absent."""

    total: CountedTotal = msgspec.field(default_factory=CountedTotal)


class MetricValue(msgspec.Struct):
    """The answer of a single-value metric aggregation (``min``, ``max``, ``avg``,
    ``sum``): ``None`` when no matching log had the field."""

    value: float | None = None

    @property
    def number(self) -> float:
        return float(self.value) if self.value is not None else 0.0


class _Hit(msgspec.Struct):
    source: msgspec.Raw = msgspec.field(name="_source", default=msgspec.Raw(b"{}"))
    sort: list[Any] = msgspec.field(default_factory=list)
    highlight: dict[str, list[str]] | None = None

    def item(self, highlighting: bool) -> msgspec.Raw:
        if not highlighting:
            return self.source
        snippets = (self.highlight or {}).get(SEARCH_TEXT, [])
        return with_highlights(self.source, snippets)


class _Hits(msgspec.Struct):
    hits: list[_Hit]
    total: _Total | None = None  # absent when the search did not track it


class _Shards(msgspec.Struct):
    failed: int = 0


class SearchResponse(msgspec.Struct):
    """The parts of an OpenSearch search response the API reads; ``_source`` stays raw."""

    hits: _Hits
    timed_out: bool = False
    shards: _Shards = msgspec.field(name="_shards", default_factory=_Shards)

    @property
    def partial(self) -> bool:
        return self.timed_out or self.shards.failed > 0

    @property
    def total(self) -> int:
        """The tracked total (0 when the search did not track it)."""
        return self.hits.total.value if self.hits.total is not None else 0


_SEARCH_DECODER: Final = msgspec.json.Decoder(SearchResponse)


def decode_search(body: str | bytes) -> SearchResponse:
    return _SEARCH_DECODER.decode(body)


def parse_search(q: LogQuery, response: SearchResponse, total: int | None = None) -> Page:
    """OpenSearch search response -> :class:`Page` (with the cursor of the next page).
    ``total``: the exact total when counted apart (the search then did not track it)."""
    hits = response.hits.hits
    highlighting = q.highlight and bool(q.content_words or q.content_phrases)
    if total is None:
        if response.hits.total is None:
            raise ValueError("a search without track_total_hits needs its total counted apart")
        total = response.hits.total.value
    offset = q.cursor.position if q.cursor is not None else q.offset
    next_position = offset + len(hits)
    next_cursor = None
    if hits and len(hits) == q.limit and next_position < total:
        first, tiebreak = hits[-1].sort
        next_cursor = encode_cursor(
            Cursor(fingerprint=fingerprint(q), after=(first, str(tiebreak)), position=next_position)
        )
    return Page(
        logs=[hit.item(highlighting) for hit in hits],
        total=total,
        offset=offset,
        stats=Stats(total_requests=total),
        has_logs=total > 0,
        next_cursor=next_cursor,
    )
