"""Pages sorted by time, read only from the partitions that can hold them. Pure.

Logs live in time partitions (:mod:`shared.partitions`), but a partition's logs are not
strictly within its day (:mod:`ingest.router` homes a log by its first writer's wanted key,
and the legacy index holds any time), so nothing here trusts partition names. Instead, a
``GET /api/logs`` sorted by ``timestamp`` is answered in two steps:

1. :func:`build_bounds`: the exact total of the query, and the oldest and newest
   ``timestamp`` of all logs (one ``_msearch`` of two ``size: 0`` searches, both cheap).
   When the same query was asked in the last minute (:class:`RecentBounds`), the first
   window by its bounds then (:func:`guess`) is sent with the count alone instead, in one
   ``_msearch``: one round trip.
2. :func:`build_windowed`: the page itself, with one more filter, a *window*
   ``timestamp >= T`` (newest first) or ``<= T`` (oldest first), sized to hold about
   :data:`SLACK` times the logs the page needs at the query's average rate
   (:func:`windows`; wider ones follow when it comes back short).
   OpenSearch's can-match phase then skips every partition whose real ``timestamp`` range
   (its points' min/max, not its name) lies outside the window, and within the others the
   sort sees only the window's logs. The page does not track its total (step 1 has it).

The windowed page is the exact page whenever :func:`exact` says so: every log outside the
window sorts after every log inside it (strictly older, resp. newer, or without a
timestamp, which sorts last both ways), so when the window holds the whole page (it came
back full) or everything that is left (its end is the query's end), no log outside it can
belong to the page. Otherwise (a gap in time past every window, concurrent writes) the
store sends the single request of :func:`api.query.build_search`, as for the other sorts.

The total and the page are two searches, so a refresh in between can make them see the
store a moment apart (the single request saw one snapshot); a short page is taken as the
end only by its offset, never by a cursor's remembered position.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Final

import msgspec

from api.params import LogQuery
from api.query import (
    NANOS_FORMAT,
    CountedHits,
    MetricValue,
    build_filter,
    build_search,
    decode_search,
    format_nanos,
)

#: The first window holds this many times the logs a page needs, at the average rate.
SLACK: Final = 2.0
#: Each next window is this many times wider than the one before, ...
GROWTH: Final = 4
#: ... up to this many windows; then the page is one search over everything.
ATTEMPTS: Final = 4
_NS_PER_MS: Final = 1_000_000


#: The page of a query that matched nothing (its count said so): no search needed.
NOTHING: Final = decode_search(b'{"hits": {"hits": []}}')


def applies(q: LogQuery) -> bool:
    """Whether ``q`` is served by a window (sorted by time, either way)."""
    return q.sort_by == "timestamp"


def build_count(q: LogQuery) -> dict[str, Any]:
    """The exact total of ``q``."""
    return {"query": build_filter(q), "size": 0, "track_total_hits": True}


def parse_count(body: bytes) -> int:
    return _COUNT.decode(body).hits.total.value


def build_bounds(q: LogQuery) -> list[dict[str, Any]]:
    """Two bodies for one ``_msearch``: the exact total of ``q``, and the oldest and newest
    ``timestamp`` of every log. The time range of all logs is read from each segment's
    points, nearly free; that of the matching logs would visit every match (a common word
    matches nearly all). The store's scope applies to both."""
    return [
        build_count(q),
        {
            "size": 0,
            "track_total_hits": False,
            "aggs": {
                "oldest": {"min": {"field": "timestamp"}},
                "newest": {"max": {"field": "timestamp"}},
            },
        },
    ]


class Bounds(msgspec.Struct, frozen=True):
    """What :func:`build_bounds` found: the total of the query, and the time range in ns
    its logs can lie in (``None``: no log has a timestamp). ``min``/``max`` answer in ms:
    the range only sizes the windows, it never decides what is in a page."""

    total: int
    oldest_ns: int | None
    newest_ns: int | None


class _Aggs(msgspec.Struct):
    oldest: MetricValue = msgspec.field(default_factory=MetricValue)
    newest: MetricValue = msgspec.field(default_factory=MetricValue)


class _Count(msgspec.Struct):
    hits: CountedHits = msgspec.field(default_factory=CountedHits)


class _Range(msgspec.Struct):
    aggregations: _Aggs = msgspec.field(default_factory=_Aggs)


_COUNT: Final = msgspec.json.Decoder(_Count)
_RANGE: Final = msgspec.json.Decoder(_Range)


def _ns(ms: float | None) -> int | None:
    # via whole microseconds: exact in a double for any date_nanos (ns would not be)
    return None if ms is None else round(ms * 1000) * 1000


def parse_bounds(q: LogQuery, count: bytes, time_range: bytes) -> Bounds:
    """The answers of :func:`build_bounds`; the time range narrowed to ``q``'s own."""
    aggs = _RANGE.decode(time_range).aggregations
    oldest, newest = _ns(aggs.oldest.value), _ns(aggs.newest.value)
    if oldest is not None and q.start_ns is not None:
        oldest = max(oldest, q.start_ns)
    if newest is not None and q.end_ns is not None:
        newest = min(newest, q.end_ns)
    return Bounds(parse_count(count), oldest, newest)


class RecentBounds:
    """The bounds found per query (:func:`api.params.fingerprint`: filters and sort, not
    the page) in the last ``max_age`` seconds, at most ``size`` queries, the oldest
    forgotten first. They only size a first window, sent with the exact count alone (one
    round trip, no time range asked); a stale one costs a window that comes back short,
    then the fresh bounds are asked, never a wrong page (:func:`exact` decides)."""

    def __init__(self, size: int = 512, max_age: float = 60.0) -> None:
        self.size = size
        self.max_age = max_age
        self._bounds: dict[str, tuple[float, Bounds]] = {}

    def get(self, key: str, now: float) -> Bounds | None:
        found = self._bounds.get(key)
        if found is None or now - found[0] > self.max_age:
            return None
        return found[1]

    def put(self, key: str, bounds: Bounds, now: float) -> None:
        self._bounds.pop(key, None)
        if len(self._bounds) >= self.size:
            del self._bounds[next(iter(self._bounds))]
        self._bounds[key] = (now, bounds)


def guess(q: LogQuery, known: Bounds | None) -> dict[str, Any] | None:
    """The first window by bounds found before (None: none known, or no window)."""
    return None if known is None else next(windows(q, known), None)


def windows(q: LogQuery, bounds: Bounds) -> Iterator[dict[str, Any]]:
    """The window filters to try for ``q``'s page, narrowest first: the first is sized to
    hold :data:`SLACK` times the logs the page needs at the average rate, each next one
    :data:`GROWTH` times wider (a gap near the anchor, e.g. one log dated tomorrow, leaves
    the first one short), at most :data:`ATTEMPTS`. None at all when a window would not
    narrow the search (no timed log, a small store, a cursor in the logs without a
    timestamp): the caller then searches everything."""
    oldest, newest = bounds.oldest_ns, bounds.newest_ns
    if oldest is None or newest is None or oldest > newest or bounds.total == 0:
        return
    desc = q.order == "desc"
    if q.cursor is None:
        needed = q.offset + q.limit
        anchor = newest if desc else oldest
    else:
        needed = q.limit
        after = q.cursor.after[0]
        # The bounds are in ms: a cursor in the last ms of the range is still inside it.
        if not isinstance(after, int) or not oldest - _NS_PER_MS <= after <= newest + _NS_PER_MS:
            return  # a log without timestamp (they sort last), or the store has changed
        anchor = after
    span = newest - oldest + _NS_PER_MS
    width = math.ceil(span * needed * SLACK / bounds.total)
    for _ in range(ATTEMPTS):
        if desc:
            edge = anchor - width
            if edge <= oldest:
                return
            bound = {"gte": format_nanos(edge)}
        else:
            edge = anchor + width
            if edge >= newest:
                return
            bound = {"lte": format_nanos(edge)}
        yield {"range": {"timestamp": {**bound, "format": NANOS_FORMAT}}}
        width *= GROWTH


def build_windowed(q: LogQuery, window_filter: dict[str, Any]) -> dict[str, Any]:
    """The page of ``q`` (as :func:`api.query.build_search`) within ``window_filter``,
    without a total (:func:`build_bounds` counts it)."""
    return {
        **build_search(q),
        "query": build_filter(q, window_filter),
        "track_total_hits": False,
    }


def exact(q: LogQuery, hits: int, total: int) -> bool:
    """Whether a windowed page of ``hits`` logs is the page of ``q``: it is full, or (an
    offset page) it reaches the query's last log (``total``, counted by
    :func:`build_bounds`). A short cursor page is never taken as exact: the cursor's
    position is where its page ended, before whatever the store got since."""
    if hits >= q.limit:
        return True
    return q.cursor is None and q.offset + hits >= total
