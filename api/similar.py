"""``GET /api/logs/{id}/similar``: the logs whose content is most like one log's. Pure.

Routing: ``/logs/{id:path}`` is a catch-all (ids may contain ``/``, sent as ``%2F``), so the
request path decides: a *literal* ``/similar`` at the end of the raw (undecoded) path asks
for similar logs of the id before it; ``%2Fsimilar`` is part of the id. So the log whose id
is ``x/similar`` is ``GET /api/logs/x%2Fsimilar`` and its kin ``/api/logs/x%2Fsimilar/similar``.

Query: ``more_like_this`` over ``search_text`` liking the stored document itself (found by
id first: an unknown id is a 404), every filter of ``GET /api/logs`` in filter context, the
log itself left out, ordered by score then id; items have the list's shape.
"""

from __future__ import annotations

import time
from typing import Any, Final

import msgspec

from api.filters import FILTER_PARAMS, METADATA_PREFIX, LogFilter, parse_filters
from api.parsing import Raw, bounded_integer, reject_unknown
from api.query import LIST_EXCLUDES, TIEBREAKER, filter_clauses
from shared.index import SEARCH_TEXT

SUFFIX: Final = "/similar"
DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 100
PARAMS: Final = FILTER_PARAMS | {"limit"}


def similar_target(log_id: str, raw_path: bytes | None) -> str | None:
    """The id whose similar logs are asked for, or None for a plain ``GET /api/logs/{id}``.
    ``log_id`` is the decoded path parameter; ``raw_path`` the request's undecoded path
    (without it, a decoded ``/similar`` suffix counts)."""
    if not log_id.endswith(SUFFIX) or len(log_id) == len(SUFFIX):
        return None
    # ASGI's raw_path has no query string, but some servers (httpx's test transport) add it.
    if raw_path is not None and not raw_path.partition(b"?")[0].endswith(SUFFIX.encode()):
        return None
    return log_id[: -len(SUFFIX)]


class SimilarQuery(msgspec.Struct, frozen=True, kw_only=True):
    filter: LogFilter
    limit: int


def parse_similar(raw: Raw, *, now_ns: int | None = None) -> SimilarQuery:
    reject_unknown(raw, PARAMS, prefix=METADATA_PREFIX)
    log_filter = parse_filters(raw, now_ns=time.time_ns() if now_ns is None else now_ns)
    limit = bounded_integer(
        raw, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT, example="10"
    )
    return SimilarQuery(filter=log_filter, limit=limit)


def build_locate(log_id: str) -> dict[str, Any]:
    """Finds which index holds the log (the alias may span several)."""
    return {
        "query": {"bool": {"filter": [{"term": {TIEBREAKER: log_id}}]}},
        "size": 1,
        "_source": False,
    }


class _Located(msgspec.Struct):
    index: str = msgspec.field(name="_index")
    id: str = msgspec.field(name="_id")


class _LocatedHits(msgspec.Struct):
    hits: list[_Located] = msgspec.field(default_factory=list)


class _LocateResponse(msgspec.Struct):
    hits: _LocatedHits = msgspec.field(default_factory=_LocatedHits)


_LOCATE: Final = msgspec.json.Decoder(_LocateResponse)


def parse_locate(raw: bytes) -> tuple[str, str] | None:
    """``(index, document id)`` of the log, or None when no log has the id."""
    hits = _LOCATE.decode(raw).hits.hits
    return (hits[0].index, hits[0].id) if hits else None


def build_similar(q: SimilarQuery, index: str, doc_id: str) -> dict[str, Any]:
    like = {
        "more_like_this": {
            "fields": [SEARCH_TEXT],
            "like": [{"_index": index, "_id": doc_id}],
            "min_term_freq": 1,
            "min_doc_freq": 1,
            "max_query_terms": 50,
            "minimum_should_match": "30%",
            "include": False,
        }
    }
    return {
        "query": {"bool": {"must": [like], "filter": filter_clauses(q.filter)}},
        "sort": [{"_score": {"order": "desc"}}, {TIEBREAKER: {"order": "asc"}}],
        "size": q.limit,
        "track_total_hits": False,
        "_source": {"excludes": LIST_EXCLUDES},
    }


class SimilarLogs(msgspec.Struct, kw_only=True):
    """The most similar logs first; each item has the shape of a ``GET /api/logs`` item."""

    id: str
    logs: list[msgspec.Raw]
    count: int


class _Hit(msgspec.Struct):
    source: msgspec.Raw = msgspec.field(name="_source", default=msgspec.Raw(b"{}"))


class _Hits(msgspec.Struct):
    hits: list[_Hit] = msgspec.field(default_factory=list)


class _Response(msgspec.Struct):
    hits: _Hits = msgspec.field(default_factory=_Hits)


_SIMILAR: Final = msgspec.json.Decoder(_Response)


def parse_similar_response(raw: bytes, log_id: str) -> SimilarLogs:
    logs = [hit.source for hit in _SIMILAR.decode(raw).hits.hits]
    return SimilarLogs(id=log_id, logs=logs, count=len(logs))
