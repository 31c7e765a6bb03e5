"""``GET /api/logs/sessions/{session_id}`` and ``.../summary``. Pure.

A session is every log whose ``parent_request_id`` is the session id (Bifrost's definition:
the root log itself is not part of it), whatever its status and time. Pages are sorted by
``timestamp`` then ``id``, both in ``order``; items leave out the heavy payloads like the list.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec
from msgspec import UNSET, UnsetType

from api.params import ORDER_VALUES
from api.parsing import QueryInput, bounded_integer, collect, enum, reject_unknown
from api.query import LIST_EXCLUDES, TIEBREAKER, MetricValue, format_nanos
from shared.index import MAX_RESULT_WINDOW, TOTAL_TOKENS

SESSION_LIMIT: Final = 500
SESSION_PARAMS: Final = frozenset({"limit", "offset", "order"})


class SessionPage(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    limit: int = SESSION_LIMIT
    offset: int = 0
    order: Literal["asc", "desc"] = "asc"


def parse_session_page(session_id: str, query: QueryInput) -> SessionPage:
    raw = collect(query)
    reject_unknown(raw, SESSION_PARAMS)
    limit = bounded_integer(
        raw, "limit", default=SESSION_LIMIT, low=1, high=SESSION_LIMIT, example="100"
    )
    offset = bounded_integer(
        raw, "offset", default=0, low=0, high=MAX_RESULT_WINDOW - limit, example="500"
    )
    order = enum(raw, "order", ORDER_VALUES, "asc")
    return SessionPage(session_id=session_id, limit=limit, offset=offset, order=order)  # type: ignore[arg-type]


def _session(session_id: str) -> dict[str, Any]:
    return {"bool": {"filter": [{"term": {"parent_request_id": session_id}}]}}


def build_session(page: SessionPage) -> dict[str, Any]:
    # A log without timestamp sorts last both ways (see api.query.sort_clause for why the
    # descending order substitutes the epoch rather than "_last").
    missing: str | int = 0 if page.order == "desc" else "_last"
    return {
        "query": _session(page.session_id),
        "sort": [
            {"timestamp": {"order": page.order, "missing": missing}},
            {TIEBREAKER: {"order": page.order}},
        ],
        "size": page.limit,
        "from": page.offset,
        "track_total_hits": True,
        "_source": {"excludes": LIST_EXCLUDES},
    }


def build_session_summary(session_id: str) -> dict[str, Any]:
    def edge(order: str) -> dict[str, Any]:
        return {
            "top_hits": {"size": 1, "sort": [{"timestamp": {"order": order}}], "_source": False}
        }

    return {
        "query": _session(session_id),
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "cost": {"sum": {"field": "cost"}},
            "tokens": {"sum": {"field": TOTAL_TOKENS}},
            "stamped": {
                "filter": {"exists": {"field": "timestamp"}},
                "aggs": {"first": edge("asc"), "last": edge("desc")},
            },
        },
    }


class SessionPagination(msgspec.Struct, kw_only=True):
    limit: int
    offset: int
    sort_by: str
    order: str
    total_count: int


class SessionLogs(msgspec.Struct, kw_only=True):
    """One page of a session; the log items are the stored bytes (see :class:`SessionDoc`)."""

    session_id: str
    logs: list[msgspec.Raw]
    pagination: SessionPagination
    count: int
    """Logs in the session."""
    returned_count: int
    has_more: bool
    """``offset + returned_count < count``."""


class SessionSummary(msgspec.Struct, kw_only=True):
    session_id: str
    count: int
    total_cost: float
    total_tokens: int
    started_at: str | UnsetType = UNSET
    """Earliest ``timestamp`` (RFC 3339, nanoseconds, UTC); absent for an empty session."""
    latest_at: str | UnsetType = UNSET
    duration_ms: int
    """``latest_at - started_at`` in whole milliseconds (0 for an empty session)."""


class _Total(msgspec.Struct):
    value: int


class _Hit(msgspec.Struct):
    source: msgspec.Raw = msgspec.field(name="_source", default=msgspec.Raw(b"{}"))
    sort: list[Any] = msgspec.field(default_factory=list)


class _Hits(msgspec.Struct):
    total: _Total
    hits: list[_Hit] = msgspec.field(default_factory=list)


class _TopHits(msgspec.Struct):
    hits: _Hits


class _Stamped(msgspec.Struct):
    first: _TopHits | None = None
    last: _TopHits | None = None


class _Aggs(msgspec.Struct):
    cost: MetricValue = msgspec.field(default_factory=MetricValue)
    tokens: MetricValue = msgspec.field(default_factory=MetricValue)
    stamped: _Stamped = msgspec.field(default_factory=_Stamped)


class _Response(msgspec.Struct):
    hits: _Hits
    aggregations: _Aggs = msgspec.field(default_factory=_Aggs)


_RESPONSE: Final = msgspec.json.Decoder(_Response)


def parse_session(page: SessionPage, raw: bytes) -> SessionLogs:
    hits = _RESPONSE.decode(raw).hits
    count = hits.total.value
    returned = len(hits.hits)
    return SessionLogs(
        session_id=page.session_id,
        logs=[hit.source for hit in hits.hits],
        pagination=SessionPagination(
            limit=page.limit,
            offset=page.offset,
            sort_by="timestamp",
            order=page.order,
            total_count=count,
        ),
        count=count,
        returned_count=returned,
        has_more=page.offset + returned < count,
    )


def _edge_ns(top: _TopHits | None) -> int | None:
    if top is None or not top.hits.hits or not top.hits.hits[0].sort:
        return None
    return int(top.hits.hits[0].sort[0])


def parse_session_summary(session_id: str, raw: bytes) -> SessionSummary:
    response = _RESPONSE.decode(raw)
    aggs = response.aggregations
    first, last = _edge_ns(aggs.stamped.first), _edge_ns(aggs.stamped.last)
    summary = SessionSummary(
        session_id=session_id,
        count=response.hits.total.value,
        total_cost=aggs.cost.value or 0.0,
        total_tokens=round(aggs.tokens.value or 0),
        duration_ms=0,
    )
    if first is not None and last is not None:
        summary.started_at = format_nanos(first)
        summary.latest_at = format_nanos(last)
        summary.duration_ms = max(0, (last - first) // 1_000_000)
    return summary
