"""Scopes: which logs a caller may see, written in the API's own filter syntax. Pure.

A scope is a query string of log filters (``virtual_key_ids=vk-1,vk-2&team_ids=search``),
parsed by THE filter parser (:func:`api.filters.parse_filters`) when the tokens are loaded,
and turned into OpenSearch ``bool.filter`` clauses by the same :func:`api.query.filter_clauses`
every endpoint uses, so a scope means exactly what the same filter means on ``GET /api/logs``.

:func:`scoped_body` and :func:`scoped_query` AND those clauses with any search body; the log
store (:meth:`api.store.LogStore.scoped`) applies them to every request it sends, which is
the one place every endpoint's query goes through.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

import msgspec

from api.filters import FILTER_PARAMS, METADATA_PREFIX, parse_filters
from api.parsing import InvalidParameter, Raw, collect, reject_unknown
from api.query import filter_clauses

#: Filters a scope may use: every log filter except ``period`` (it moves with the clock, a
#: scope is fixed when loaded) and ``content_search`` (text relevance, not a log's owner; a
#: query without searchable words would match everything).
SCOPE_PARAMS: Final[frozenset[str]] = FILTER_PARAMS - {"period", "content_search"}


class Scope(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed scope: as written (for ``/api/whoami``) and as OpenSearch clauses."""

    params: dict[str, str] = msgspec.field(default_factory=dict)
    """Filter parameter -> value, as written (a comma list stays one string)."""
    clauses: tuple[dict[str, Any], ...] = ()
    """The ``bool.filter`` clauses; empty: every log (an unscoped caller)."""

    @property
    def unscoped(self) -> bool:
        return not self.clauses

    @property
    def text(self) -> str:
        """The scope as a query string (``''`` when unscoped)."""
        return urlencode(sorted(self.params.items()), safe=",")


UNSCOPED: Final = Scope()


def parse_scope(text: str) -> Scope:
    """``team_ids=search&virtual_key_ids=vk-1,vk-2`` -> :class:`Scope`. ``''`` is unscoped.

    Raises :class:`InvalidParameter` naming the offending filter: an unknown name, a value
    the filter parser refuses, a filter given twice or with an empty value (a scope must
    never end up wider than written)."""
    pairs = parse_qsl(text.strip(), keep_blank_values=True)
    raw: Raw = collect(pairs)
    reject_unknown(raw, SCOPE_PARAMS, prefix=METADATA_PREFIX)
    for name, values in raw.items():
        if len(values) > 1:
            raise InvalidParameter(name, f"{name} is given {len(values)} times in the scope")
        if not values[0].strip().strip(","):
            raise InvalidParameter(name, f"{name} has an empty value in the scope")
    clauses = tuple(filter_clauses(parse_filters(raw)))
    if raw and not clauses:
        name = sorted(raw)[0]
        raise InvalidParameter(name, "the scope sets no condition; leave it out to see every log")
    return Scope(params={name: values[0] for name, values in sorted(raw.items())}, clauses=clauses)


def scoped_query(query: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """``query`` AND the scope. The original stays a ``must`` so its scores are kept
    (``more_like_this``); the scope is a filter (no score, cached by OpenSearch)."""
    if scope.unscoped:
        return query
    return {"bool": {"must": [query], "filter": list(scope.clauses)}}


class UnscopableBody(ValueError):
    """A search body whose results a top-level query cannot restrict (a ``global``
    aggregation): refused rather than sent with the scope silently ignored."""


def _check_aggs(aggs: Any) -> None:
    if not isinstance(aggs, dict):
        return
    for agg in aggs.values():
        if not isinstance(agg, dict):
            continue
        if "global" in agg:
            raise UnscopableBody("a global aggregation ignores the query (and the scope)")
        _check_aggs(agg.get("aggs"))
        _check_aggs(agg.get("aggregations"))


def scoped_body(body: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """A search body restricted to ``scope``: its ``query`` (``match_all`` when absent) AND
    the scope. Everything computed from the query (hits, totals, aggregations, highlights,
    ``more_like_this`` results, ``search_after`` pages) stays inside the scope."""
    if scope.unscoped:
        return body
    _check_aggs(body.get("aggs"))
    _check_aggs(body.get("aggregations"))
    return {**body, "query": scoped_query(body.get("query", {"match_all": {}}), scope)}
