"""``GET /api/logs/stats``: filter -> OpenSearch bodies, responses -> :class:`SearchStats`. Pure.

Population: every matching log for ``total_requests`` (``processing`` included); the terminal
ones (success, error, cancelled) for every rate, average and sum, as Bifrost's ``GetStats``.
(The ``stats`` block of ``GET /api/logs`` keeps its legacy success+error population.)

User-facing success rate, exactly (no approximation):

- roots ``R``: matching logs with ``fallback_index`` 0 (or none) and a terminal status;
- a root succeeds if its status is ``success`` or a log with ``parent_request_id`` = the
  root's id succeeded within the same time window (other filters not applied to it);
- one ``_msearch`` returns ``|R|``, the successful roots, and the first page of the ids ``P``
  of parents of successful logs in the window (a ``composite`` aggregation; more pages with
  :func:`build_parents`);
- when some roots did not succeed and ``P`` is not empty, :func:`build_rescued` counts the
  unsuccessful roots whose id is in ``P`` (one ``terms`` query per chunk of ids).

With a ``parent_request_id`` filter the rate is ``success_rate`` (Bifrost) and its denominator
the terminal count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from api.aggs import groups
from api.aggs.buckets import TERMINAL_CLAUSE
from api.filters import LogFilter
from api.query import CountedHits, MetricValue, build_filter, filter_clauses
from shared.index import CACHE_HIT_TYPE, COMPLETION_TOKENS, PROMPT_TOKENS, TOTAL_TOKENS

#: Parent ids fetched per page, and ids per ``terms`` query counting rescued roots. Below
#: OpenSearch's ``search.max_buckets`` (65,535) and ``index.max_terms_count`` (65,536): a
#: million logs hold about 19,500 parents, one page (with 10,000 they took a second round
#: trip, one after the other, and two ``terms`` queries).
PAGE: Final = 50_000
_SUCCESS: Final[dict[str, Any]] = {"term": {"status": "success"}}
ROOT_CLAUSE: Final[dict[str, Any]] = {
    "bool": {
        "should": [
            {"term": {"fallback_index": 0}},
            {"bool": {"must_not": [{"exists": {"field": "fallback_index"}}]}},
        ],
        "minimum_should_match": 1,
    }
}
_UNSUCCESSFUL: Final[dict[str, Any]] = {"terms": {"status": ["error", "cancelled"]}}


class SearchStats(msgspec.Struct, kw_only=True):
    """Bifrost's ``SearchStats`` over the filtered logs (rates in percent)."""

    total_requests: int
    success_rate: float
    user_facing_success_rate: float
    user_facing_total_requests: int
    average_latency: float
    total_tokens: int
    prompt_tokens: int
    completion_tokens: int
    total_cost: float
    cache_hit_rate_total_requests: int
    direct_cache_hits: int
    semantic_cache_hits: int


class StatsResponse(SearchStats, kw_only=True):
    """``SearchStats`` plus the previous window's, when asked and comparable."""

    has_previous_period: bool
    previous: SearchStats | msgspec.UnsetType = msgspec.UNSET


def previous_window(f: LogFilter) -> LogFilter | None:
    """The same filters over ``[start - d, start - 1 ns]``, or None when there is no
    comparable window (an open end, ``end <= start``, or a ``request_id`` filter)."""
    return None if f.values("id") else groups.previous_window(f)


def _scoped_to_parent(f: LogFilter) -> bool:
    return bool(f.values("parent_request_id"))


def _rescuers(f: LogFilter) -> dict[str, Any]:
    """Successful logs with a parent within the window (no other filter applies)."""
    window = filter_clauses(LogFilter(start_ns=f.start_ns, end_ns=f.end_ns))
    clauses = [_SUCCESS, {"exists": {"field": "parent_request_id"}}, *window]
    return {"bool": {"filter": clauses}}


def _parents_agg(after: dict[str, Any] | None) -> dict[str, Any]:
    composite: dict[str, Any] = {
        "size": PAGE,
        "sources": [{"parent": {"terms": {"field": "parent_request_id"}}}],
    }
    if after is not None:
        composite["after"] = after
    return {"composite": composite}


def build_stats(f: LogFilter) -> list[dict[str, Any]]:
    """The searches of one window's stats: the aggregates, and (unless scoped to a parent)
    the first page of rescuing parents. Send them in one ``_msearch``."""
    aggs: dict[str, Any] = {
        "terminal": {
            "filter": TERMINAL_CLAUSE,
            "aggs": {
                "success": {"filter": _SUCCESS},
                "average_latency": {"avg": {"field": "latency"}},
                TOTAL_TOKENS: {"sum": {"field": TOTAL_TOKENS}},
                PROMPT_TOKENS: {"sum": {"field": PROMPT_TOKENS}},
                COMPLETION_TOKENS: {"sum": {"field": COMPLETION_TOKENS}},
                "cost": {"sum": {"field": "cost"}},
                "direct": {"filter": {"term": {CACHE_HIT_TYPE: "direct"}}},
                "semantic": {"filter": {"term": {CACHE_HIT_TYPE: "semantic"}}},
            },
        },
    }
    if _scoped_to_parent(f):
        return [{"size": 0, "track_total_hits": True, "query": build_filter(f), "aggs": aggs}]
    # Under ``terminal``: only terminal logs are tested for being roots, and their statuses
    # are not matched a second time.
    aggs["terminal"]["aggs"]["roots"] = {
        "filter": ROOT_CLAUSE,
        "aggs": {"success": {"filter": _SUCCESS}},
    }
    body = {"size": 0, "track_total_hits": True, "query": build_filter(f), "aggs": aggs}
    return [body, build_parents(f, None)]


class Partial(msgspec.Struct, kw_only=True):
    """One window's stats before the rescued roots are counted."""

    stats: SearchStats
    scoped: bool = False
    """A ``parent_request_id`` filter: the user-facing rate is ``success_rate``."""
    roots: int = 0
    roots_succeeded: int = 0
    parents: list[str] = msgspec.field(default_factory=list)
    after: dict[str, Any] | None = None
    """Where the next page of parents starts, or None when every parent is in ``parents``."""

    @property
    def needs_rescued(self) -> bool:
        return self.roots > self.roots_succeeded and bool(self.parents)


class _Count(msgspec.Struct):
    doc_count: int = 0


class _Roots(msgspec.Struct):
    doc_count: int = 0
    success: _Count = msgspec.field(default_factory=_Count)


class _Terminal(msgspec.Struct):
    doc_count: int = 0
    success: _Count = msgspec.field(default_factory=_Count)
    average_latency: MetricValue = msgspec.field(default_factory=MetricValue)
    total_tokens: MetricValue = msgspec.field(default_factory=MetricValue)
    prompt_tokens: MetricValue = msgspec.field(default_factory=MetricValue)
    completion_tokens: MetricValue = msgspec.field(default_factory=MetricValue)
    cost: MetricValue = msgspec.field(default_factory=MetricValue)
    direct: _Count = msgspec.field(default_factory=_Count)
    semantic: _Count = msgspec.field(default_factory=_Count)
    roots: _Roots = msgspec.field(default_factory=_Roots)


class _StatsAggs(msgspec.Struct):
    terminal: _Terminal = msgspec.field(default_factory=_Terminal)


class _StatsAnswer(msgspec.Struct):
    hits: CountedHits = msgspec.field(default_factory=CountedHits)
    aggregations: _StatsAggs = msgspec.field(default_factory=_StatsAggs)


class _ParentKey(msgspec.Struct):
    parent: str


class _ParentBucket(msgspec.Struct):
    key: _ParentKey


class _Composite(msgspec.Struct):
    buckets: list[_ParentBucket] = msgspec.field(default_factory=list)
    after_key: dict[str, Any] | None = None


class _ParentsAggs(msgspec.Struct):
    parents: _Composite = msgspec.field(default_factory=_Composite)


class _ParentsAnswer(msgspec.Struct):
    aggregations: _ParentsAggs = msgspec.field(default_factory=_ParentsAggs)


_STATS: Final = msgspec.json.Decoder(_StatsAnswer)
_PARENTS: Final = msgspec.json.Decoder(_ParentsAnswer)


def parse_stats(raws: Sequence[bytes], f: LogFilter) -> Partial:
    """The answers to :func:`build_stats`'s searches, in order."""
    answer = _STATS.decode(raws[0])
    terminal = answer.aggregations.terminal
    completed = terminal.doc_count
    success_rate = terminal.success.doc_count / completed * 100 if completed else 0.0
    stats = SearchStats(
        total_requests=answer.hits.total.value,
        success_rate=success_rate,
        user_facing_success_rate=0.0,
        user_facing_total_requests=0,
        average_latency=terminal.average_latency.number,
        total_tokens=round(terminal.total_tokens.number),
        prompt_tokens=round(terminal.prompt_tokens.number),
        completion_tokens=round(terminal.completion_tokens.number),
        total_cost=terminal.cost.number,
        cache_hit_rate_total_requests=completed,
        direct_cache_hits=terminal.direct.doc_count,
        semantic_cache_hits=terminal.semantic.doc_count,
    )
    if _scoped_to_parent(f):
        stats.user_facing_success_rate = success_rate
        stats.user_facing_total_requests = completed
        return Partial(stats=stats, scoped=True)
    roots = terminal.roots
    parents, after = parse_parents(raws[1])
    return Partial(
        stats=stats,
        roots=roots.doc_count,
        roots_succeeded=roots.success.doc_count,
        parents=parents,
        after=after,
    )


def build_parents(f: LogFilter, after: dict[str, Any] | None) -> dict[str, Any]:
    """A page of the ids of rescuing parents (``after``: where the page starts)."""
    return {
        "size": 0,
        "track_total_hits": False,
        "query": _rescuers(f),
        "aggs": {"parents": _parents_agg(after)},
    }


def parse_parents(raw: bytes) -> tuple[list[str], dict[str, Any] | None]:
    """A page of parent ids, and where the next page starts (None: this was the last)."""
    page = _PARENTS.decode(raw).aggregations.parents
    parents = [b.key.parent for b in page.buckets]
    return parents, page.after_key if len(parents) >= PAGE else None


def build_rescued(f: LogFilter, parents: Sequence[str]) -> list[dict[str, Any]]:
    """Bodies counting the unsuccessful roots whose id is in ``parents`` (sum the counts)."""
    chunks = [sorted(parents)[i : i + PAGE] for i in range(0, len(parents), PAGE)]
    return [
        {
            "size": 0,
            "track_total_hits": True,
            # _UNSUCCESSFUL implies TERMINAL_CLAUSE, which would only add work (a
            # disjunction over most logs' statuses, advanced to every looked-up id).
            "query": build_filter(f, ROOT_CLAUSE, _UNSUCCESSFUL, {"terms": {"id": chunk}}),
        }
        for chunk in chunks
    ]


def parse_count(raw: bytes) -> int:
    return _STATS.decode(raw).hits.total.value


def finish(partial: Partial, rescued: int = 0) -> SearchStats:
    """The window's stats once ``rescued`` (unsuccessful roots with a successful fallback)
    is known."""
    stats = msgspec.structs.replace(partial.stats)
    if not partial.scoped:
        stats.user_facing_total_requests = partial.roots
        succeeded = partial.roots_succeeded + rescued
        stats.user_facing_success_rate = succeeded / partial.roots * 100 if partial.roots else 0.0
    return stats


def response(current: SearchStats, previous: SearchStats | None) -> StatsResponse:
    fields = msgspec.structs.asdict(current)
    if previous is None:
        return StatsResponse(**fields, has_previous_period=False)
    return StatsResponse(**fields, has_previous_period=True, previous=previous)
