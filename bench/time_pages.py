"""The list pages sorted by time on a partitioned alias: the single search over every
partition (the store's path before :mod:`api.timepage`) against the window of time, in the
same run, interleaved, each page checked identical (items, total, next cursor).

Both paths go through one :class:`api.store.LogStore` (the API's own adapter, no HTTP), so
the table is what the list route waits for OpenSearch. The alias must already hold the
logs (e.g. the lead's shared data, or ``bench.page_load --keep``); nothing is written.

    .venv/bin/python -m bench.time_pages --url http://127.0.0.1:9250 --alias shared-1m
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from api.params import LogQuery, parse_params
from api.query import Page, build_search, parse_search
from api.settings import ApiSettings
from api.store import LogStore
from bench.classes import COMMON_WORD, WEEK, _iso

#: (label, query string, walk to this position with cursors first)
CLASSES: list[tuple[str, dict[str, str], int]] = [
    ("default page (50 newest, with total)", {}, 0),
    ("sort by timestamp asc", {"sort_by": "timestamp", "order": "asc"}, 0),
    ("offset 5,000", {"offset": "5000"}, 0),
    ("cursor page of 500 at 10,000", {"limit": "500"}, 10_000),
    ("limit=1000", {"limit": "1000"}, 0),
    (
        "2 providers + error + 7 days",
        {
            "providers": "openai,anthropic",
            "status": "error",
            "start_time": _iso(WEEK[0]),
            "end_time": _iso(WEEK[1]),
        },
        0,
    ),
    (f"search one common word ({COMMON_WORD!r})", {"content_search": COMMON_WORD}, 0),
    ("sort by latency desc (unchanged path)", {"sort_by": "latency", "order": "desc"}, 0),
]


async def single(store: LogStore, q: LogQuery) -> Page:
    """The list page as the store read it before the window: one search, every partition."""
    return parse_search(q, await store._search("search", build_search(q)))


async def walk(store: LogStore, params: dict[str, str], position: int) -> LogQuery:
    """The query of ``params``, continued with cursors up to ``position`` (each step
    checked identical on both paths)."""
    raw = {k: [v] for k, v in params.items()}
    q = parse_params(raw)
    while (q.cursor.position if q.cursor else 0) < position:
        a, b = await single(store, q), await store.search(q)
        same(a, b, "cursor walk")
        if a.next_cursor is None:
            raise SystemExit(f"the alias holds fewer than {position} logs")
        q = parse_params({**raw, "cursor": [a.next_cursor]})
    return q


def same(a: Page, b: Page, label: str) -> None:
    if (a.logs, a.total, a.next_cursor) != (b.logs, b.total, b.next_cursor):
        raise SystemExit(f"{label}: the window's page differs from the single search's")


async def timed(call: Callable[[], Awaitable[Page]]) -> tuple[float, Page]:
    start = time.perf_counter()
    page = await call()
    return (time.perf_counter() - start) * 1000, page


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument("--alias", required=True)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    settings = ApiSettings(opensearch_url=args.url, index_alias=args.alias, opensearch_timeout=60)
    store = LogStore(settings)
    try:
        queries = [(lb, await walk(store, params, at)) for lb, params, at in CLASSES]
        times: dict[str, tuple[list[float], list[float]]] = {lb: ([], []) for lb, _ in queries}
        for round_ in range(args.warmup + args.rounds):
            for i, (label, q) in enumerate(queries):
                paths = [lambda q=q: single(store, q), lambda q=q: store.search(q)]
                order = (0, 1) if (round_ + i) % 2 == 0 else (1, 0)
                pages: list[Page | None] = [None, None]
                for which in order:
                    ms, pages[which] = await timed(paths[which])
                    if round_ >= args.warmup:
                        times[label][which].append(ms)
                before, windowed = pages
                assert before is not None
                assert windowed is not None
                same(before, windowed, label)
    finally:
        await store.close()
    print(f"{args.alias}: p50 / p95 in ms, {args.rounds} interleaved rounds, pages identical")
    print("| class | single search p50 / p95 | time window p50 / p95 | single ÷ window (p50) |")
    print("| --- | --- | --- | --- |")
    for label, (a, b) in times.items():
        ratio = statistics.median(a) / statistics.median(b)
        print(
            f"| {label} | {statistics.median(a):.1f} / {p95(a):.1f} "
            f"| {statistics.median(b):.1f} / {p95(b):.1f} | {ratio:.2f}× |"
        )


if __name__ == "__main__":
    asyncio.run(main())
