"""The list pages sorted by time on a partitioned alias: before and after the window of
time (:mod:`api.timepage`), in the same run, interleaved, each page checked identical
(items, total, next cursor).

Two ways to compare:

- by default, through one :class:`api.store.LogStore` (the API's adapter, no HTTP): the
  single search over every partition (the store's path before the window) against
  ``LogStore.search``; the table is what the list route waits for OpenSearch;
- with ``--apis A B``: two running APIs on the same alias (e.g. main's and this branch's,
  each ``python -m api``), ``GET /api/logs`` over HTTP.

The alias must already hold the logs (e.g. the lead's shared data); nothing is written.

    .venv/bin/python -m bench.time_pages --url http://127.0.0.1:9250 --alias shared-1m
    .venv/bin/python -m bench.time_pages --apis http://127.0.0.1:8301 http://127.0.0.1:8302
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import msgspec

from api.params import parse_params
from api.query import build_search, parse_search
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

#: What is compared of a page: its items, total and next cursor.
Answer = tuple[Any, int, str | None]
Path = Callable[[dict[str, str]], Awaitable[Answer]]


def store_paths(store: LogStore) -> tuple[Path, Path]:
    async def single(params: dict[str, str]) -> Answer:
        """The page as the store read it before the window: one search, every partition."""
        q = parse_params({k: [v] for k, v in params.items()})
        page = parse_search(q, await store._search("search", build_search(q)))
        return [bytes(log) for log in page.logs], page.total, page.next_cursor

    async def windowed(params: dict[str, str]) -> Answer:
        page = await store.search(parse_params({k: [v] for k, v in params.items()}))
        return [bytes(log) for log in page.logs], page.total, page.next_cursor

    return single, windowed


def api_path(client: httpx.AsyncClient, base: str) -> Path:
    async def get(params: dict[str, str]) -> Answer:
        response = await client.get(f"{base}/api/logs", params=params)
        response.raise_for_status()
        body = msgspec.json.decode(response.content)
        return body["logs"], body["total"], body["next_cursor"]

    return get


def same(a: Answer, b: Answer, label: str) -> None:
    if a != b:
        raise SystemExit(f"{label}: the two paths answered different pages")


async def walk(paths: tuple[Path, Path], params: dict[str, str], position: int) -> dict[str, str]:
    """``params`` continued with cursors up to ``position`` (each step checked identical)."""
    at, current = 0, params
    while at < position:
        a, b = await paths[0](current), await paths[1](current)
        same(a, b, "cursor walk")
        if a[2] is None:
            raise SystemExit(f"the alias holds fewer than {position} logs")
        at += len(a[0])
        current = {**params, "cursor": a[2]}
    return current


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


async def measure(
    paths: tuple[Path, Path], rounds: int, warmup: int
) -> dict[str, tuple[list[float], list[float]]]:
    queries = [(label, await walk(paths, params, at)) for label, params, at in CLASSES]
    times: dict[str, tuple[list[float], list[float]]] = {lb: ([], []) for lb, _ in queries}
    for round_ in range(warmup + rounds):
        for i, (label, params) in enumerate(queries):
            answers: list[Answer] = []
            order = (0, 1) if (round_ + i) % 2 == 0 else (1, 0)
            for which in order:
                start = time.perf_counter()
                answers.append(await paths[which](params))
                if round_ >= warmup:
                    times[label][which].append((time.perf_counter() - start) * 1000)
            same(answers[0], answers[1], label)
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:9200", help="OpenSearch")
    parser.add_argument("--alias", help="the log alias (without --apis)")
    parser.add_argument("--apis", nargs=2, metavar=("BEFORE", "AFTER"), help="two API URLs")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    if args.apis:
        names = ("API before", "API after")
        async with httpx.AsyncClient(timeout=120) as client:
            paths = (api_path(client, args.apis[0]), api_path(client, args.apis[1]))
            times = await measure(paths, args.rounds, args.warmup)
        title = f"{args.apis[0]} against {args.apis[1]}"
    else:
        if not args.alias:
            parser.error("--alias is needed without --apis")
        names = ("single search", "time window")
        settings = ApiSettings(opensearch_url=args.url, index_alias=args.alias)
        store = LogStore(msgspec.structs.replace(settings, opensearch_timeout=120))
        try:
            times = await measure(store_paths(store), args.rounds, args.warmup)
        finally:
            await store.close()
        title = args.alias
    print(f"{title}: p50 / p95 in ms, {args.rounds} interleaved rounds, pages identical")
    print(f"| class | {names[0]} p50 / p95 | {names[1]} p50 / p95 | ratio of p50s |")
    print("| --- | --- | --- | --- |")
    for label, (a, b) in times.items():
        ratio = statistics.median(a) / statistics.median(b)
        print(
            f"| {label} | {statistics.median(a):.1f} / {p95(a):.1f} "
            f"| {statistics.median(b):.1f} / {p95(b):.1f} | {ratio:.2f}× |"
        )


if __name__ == "__main__":
    asyncio.run(main())
