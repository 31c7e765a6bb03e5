"""api.timepage: the bounds, the windows and when a windowed page is the page."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from api import timepage
from api.params import Cursor, LogQuery, encode_cursor, fingerprint, parse_params
from api.query import NANOS_FORMAT, build_filter, build_search, decode_search, parse_search
from shared.index import format_nanos

DAY = 86_400 * 10**9
OLDEST = 1_700_000_000 * 10**9
NEWEST = OLDEST + 30 * DAY
MS = 1_000_000


def query(**params: str) -> LogQuery:
    return parse_params({k: [v] for k, v in params.items()})


def bounds(total: int = 1_000_000) -> timepage.Bounds:
    return timepage.Bounds(total, OLDEST, NEWEST)


def edges(q: LogQuery, b: timepage.Bounds) -> list[tuple[str, str]]:
    out = []
    for clause in timepage.windows(q, b):
        bound = dict(clause["range"]["timestamp"])
        assert bound.pop("format") == NANOS_FORMAT
        ((op, value),) = bound.items()
        out.append((op, value))
    return out


def test_bounds_count_exactly_and_ask_the_time_range_of_every_log() -> None:
    q = query(providers="openai", status="error")
    count, time_range = timepage.build_bounds(q)
    assert count == {"query": build_filter(q), "size": 0, "track_total_hits": True}
    assert "query" not in time_range  # every log: min/max come from the points
    assert time_range["size"] == 0
    assert time_range["aggs"] == {
        "oldest": {"min": {"field": "timestamp"}},
        "newest": {"max": {"field": "timestamp"}},
    }


def answers(total: int, oldest: float | None, newest: float | None) -> tuple[bytes, bytes]:
    count = {"hits": {"total": {"value": total, "relation": "eq"}, "hits": []}}
    time_range = {
        "hits": {"hits": []},
        "aggregations": {"oldest": {"value": oldest}, "newest": {"value": newest}},
    }
    return msgspec.json.encode(count), msgspec.json.encode(time_range)


def test_parse_bounds() -> None:
    b = timepage.parse_bounds(query(), *answers(42, 1700000000123.0, 1700000500000.5))
    assert b == timepage.Bounds(42, 1_700_000_000_123 * MS, 1_700_000_500_000_500_000)


def test_parse_bounds_narrows_to_the_query_time_range() -> None:
    q = query(start_time="2023-11-14T22:14:00Z", end_time="2023-11-14T22:15:00Z")
    assert q.start_ns is not None
    assert q.end_ns is not None
    b = timepage.parse_bounds(q, *answers(5, 1600000000000.0, 1800000000000.0))
    assert b == timepage.Bounds(5, q.start_ns, q.end_ns)


def test_parse_bounds_without_any_timestamp() -> None:
    b = timepage.parse_bounds(query(), *answers(3, None, None))
    assert b == timepage.Bounds(3, None, None)
    assert list(timepage.windows(query(), b)) == []


def test_no_window_when_the_query_range_misses_every_log() -> None:
    q = query(start_time="2030-01-01T00:00:00Z")
    b = timepage.parse_bounds(q, *answers(0, 1600000000000.0, 1800000000000.0))
    assert list(timepage.windows(q, b)) == []


def test_newest_first_windows_start_at_the_newest_and_widen() -> None:
    span = NEWEST - OLDEST + MS
    first = -(-span * 50 * 2 // 1_000_000)  # ceil(span * needed * SLACK / total)
    got = edges(query(), bounds())
    assert got == [
        ("gte", format_nanos(NEWEST - first * timepage.GROWTH**i)) for i in range(timepage.ATTEMPTS)
    ]


def test_oldest_first_windows_start_at_the_oldest() -> None:
    got = edges(query(sort_by="timestamp", order="asc"), bounds())
    assert len(got) == timepage.ATTEMPTS
    assert all(op == "lte" for op, _ in got)
    assert got[0][1] < got[1][1]
    assert got[0][1] > format_nanos(OLDEST)


def test_an_offset_widens_the_window_to_hold_it() -> None:
    plain = edges(query(), bounds())[0][1]
    deep = edges(query(offset="5000"), bounds())[0][1]
    assert deep < plain  # further back in time


def test_no_window_when_it_would_hold_everything() -> None:
    # 60 logs: the page needs 50, twice that is more than there are
    assert list(timepage.windows(query(), bounds(total=60))) == []
    # the windows stop widening once one would reach the far end
    assert len(edges(query(), bounds(total=3_000))) < timepage.ATTEMPTS
    assert list(timepage.windows(query(), timepage.Bounds(0, None, None))) == []


def cursor_query(after: Any, order: str = "desc") -> LogQuery:
    base = query(sort_by="timestamp", order=order, limit="500")
    c = Cursor(fingerprint=fingerprint(base), after=(after, "id-1"), position=10_000)
    return query(sort_by="timestamp", order=order, limit="500", cursor=encode_cursor(c))


def test_a_cursor_anchors_the_window_at_its_position() -> None:
    middle = OLDEST + 10 * DAY
    got = edges(cursor_query(middle), bounds())
    span = NEWEST - OLDEST + MS
    assert got[0] == ("gte", format_nanos(middle - -(-span * 500 * 2 // 1_000_000)))
    assert edges(cursor_query(middle, "asc"), bounds())[0][0] == "lte"


@pytest.mark.parametrize("after", [0, OLDEST - 2 * MS, NEWEST + 2 * MS, 2**63 - 1])
def test_no_window_for_a_cursor_outside_the_range(after: int) -> None:
    # 0 (newest first) and the long maximum (oldest first) are logs without timestamp
    assert list(timepage.windows(cursor_query(after), bounds())) == []


def test_windowed_body_is_the_page_with_one_more_filter_and_no_total() -> None:
    q = query(content_search="hello", highlight="true", offset="100", providers="openai")
    clause = {"range": {"timestamp": {"gte": "2026-01-01T00:00:00Z", "format": NANOS_FORMAT}}}
    body = timepage.build_windowed(q, clause)
    plain = build_search(q)
    assert body["track_total_hits"] is False
    assert body["query"]["bool"]["filter"] == [*plain["query"]["bool"]["filter"], clause]
    for key in ("sort", "size", "from", "_source", "highlight"):
        assert body[key] == plain[key]
    c = cursor_query(OLDEST + DAY)
    assert timepage.build_windowed(c, clause)["search_after"] == build_search(c)["search_after"]


def test_a_full_page_is_exact() -> None:
    assert timepage.exact(query(), 50, 10_000)
    assert timepage.exact(cursor_query(OLDEST), 500, 20_000)


def test_a_short_offset_page_is_exact_only_at_the_end() -> None:
    assert timepage.exact(query(offset="100"), 20, 120)
    assert timepage.exact(query(offset="200"), 0, 120)  # past the end
    assert not timepage.exact(query(offset="100"), 20, 121)


def test_a_short_cursor_page_is_never_taken() -> None:
    assert not timepage.exact(cursor_query(OLDEST), 499, 10_499)


def test_parse_search_takes_the_total_counted_apart() -> None:
    hit = {"_id": "a", "_source": {"id": "a"}, "sort": [5, "a"]}
    untracked = msgspec.json.encode({"hits": {"hits": [hit]}})
    page = parse_search(query(limit="1"), decode_search(untracked), total=7)
    assert page.total == 7
    assert page.stats.total_requests == 7
    assert page.next_cursor is not None
    with pytest.raises(ValueError, match="total"):
        parse_search(query(), decode_search(untracked))


def test_recent_bounds_forget_the_oldest_query_first() -> None:
    recent = timepage.RecentBounds(size=2)
    one, two, three = (timepage.Bounds(n, OLDEST, NEWEST) for n in (1, 2, 3))
    recent.put("a", one, 0.0)
    recent.put("b", two, 0.0)
    recent.put("a", one, 0.0)  # asked again: now the most recent
    recent.put("c", three, 0.0)
    assert recent.get("b", 0.0) is None
    assert recent.get("a", 0.0) == one
    assert recent.get("c", 0.0) == three


def test_recent_bounds_expire() -> None:
    recent = timepage.RecentBounds(max_age=60.0)
    recent.put("a", bounds(), 100.0)
    assert recent.get("a", 160.0) == bounds()
    assert recent.get("a", 160.5) is None


def test_parse_count() -> None:
    assert timepage.parse_count(answers(7, None, None)[0]) == 7
    assert timepage.build_bounds(query())[0] == timepage.build_count(query())


def test_a_guess_is_the_first_window_of_known_bounds() -> None:
    assert timepage.guess(query(), None) is None
    assert timepage.guess(query(), bounds()) == next(timepage.windows(query(), bounds()))
    assert timepage.guess(query(), bounds(total=10)) is None
