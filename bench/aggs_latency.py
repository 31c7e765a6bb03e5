"""Latency of the stats and histogram endpoints against the same OpenSearch requests sent
directly, in the same run.

    .venv/bin/python -m bench.aggs_latency --logs 100000 --runs 30

1. Bulk-loads ``--logs`` sample logs (final documents of :func:`ingest.samples.sample_records`,
   one log every 1-500 ms) into a fresh alias (not timed).
2. For every endpoint: ``--runs`` requests through the API (in-process ASGI client: query
   parsing, building, the OpenSearch round trip, parsing, JSON encoding) and ``--runs`` of the
   identical search bodies sent straight to OpenSearch with the same client (the baseline),
   interleaved so both see the same machine load. The index's request cache is off, so
   every search is computed.
3. Prints p50 and p95 of both and their ratio, then deletes the index.

Services come from the usual ``HEIMDALL_*`` settings (OpenSearch of ``bin/stack``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient

from api.aggs import breakdowns as bd
from api.aggs import histograms as h
from api.aggs.buckets import plan
from api.aggs.stats import build_stats
from api.app import create_app
from api.filters import parse_filters
from api.parsing import collect
from api.settings import ApiSettings
from api.store import LogStore
from bench.ingest_throughput import final_sources
from ingest.samples import sample_records
from shared.index import ensure_index
from shared.settings import load

Build = Callable[[Any, Any], dict[str, Any]]
_PLAIN: dict[str, Build] = {
    "/histogram": h.build_histogram,
    "/histogram/tokens": h.build_token_histogram,
    "/histogram/cost": h.build_cost_histogram,
    "/histogram/models": h.build_model_histogram,
    "/histogram/latency": h.build_latency_histogram,
    "/histogram/throughput": h.build_throughput_histogram,
}
_METRICS: dict[str, bd.Metric[Any]] = {
    "cost": bd.COST,
    "tokens": bd.TOKENS,
    "latency": bd.LATENCY,
    "throughput": bd.THROUGHPUT,
}


async def load_sample(store: LogStore, logs: int) -> tuple[str, str, str]:
    """Bulk-load ``logs`` sample logs (the last 2 days) into ``store``'s alias with the
    request cache off; (index, first time, now) as RFC 3339."""
    start = datetime.now(UTC) - timedelta(days=2)
    records = [r for log in sample_records(logs, seed=5, start=start) for r in log]
    sources = final_sources(records, max_bytes=1 << 22)
    index = await ensure_index(store.client, store.alias)
    # Every request is computed, not answered from the shard request cache (a dashboard
    # polling with ``period`` never repeats a window either).
    no_cache = {"index": {"requests": {"cache": {"enable": False}}}}
    await store.client.indices.put_settings(index=index, body=no_cache)
    ids = list(sources)
    for i in range(0, len(ids), 2000):
        lines = bytearray()
        for doc_id in ids[i : i + 2000]:
            lines += msgspec.json.encode({"create": {"_index": index, "_id": doc_id}}) + b"\n"
            lines += sources[doc_id] + b"\n"
        await store.client.bulk(body=bytes(lines))
    await store.client.indices.refresh(index=index)
    first = start.isoformat().replace("+00:00", "Z")
    last = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return index, first, last


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _time(call: Callable[[], Awaitable[Any]]) -> float:
    began = time.perf_counter()
    await call()
    return (time.perf_counter() - began) * 1000


async def _measure(
    client: AsyncTestClient[Any],
    store: LogStore,
    path: str,
    params: dict[str, str],
    bodies: list[dict[str, Any]],
    runs: int,
) -> tuple[list[float], list[float]]:
    """(API ms, direct ms) of ``runs`` interleaved requests, after 3 warm-ups of each."""

    async def through_api() -> None:
        response = await client.get(f"/api/logs{path}", params=params)
        assert response.status_code == 200, response.text

    async def straight() -> None:
        if len(bodies) == 1:
            await store.query("bench", bodies[0])
        else:
            await store.multi_query("bench", bodies)

    for _ in range(3):
        await through_api()
        await straight()
    api: list[float] = []
    direct: list[float] = []
    for _ in range(runs):
        api.append(await _time(through_api))
        direct.append(await _time(straight))
    return api, direct


async def main_async(logs: int, runs: int) -> None:
    alias = f"t-bench-aggs-{uuid.uuid4().hex[:8]}"
    settings = msgspec.structs.replace(load(ApiSettings), index_alias=alias)
    store = LogStore(settings)
    index, first, last = await load_sample(store, logs)
    window = {"start_time": first, "end_time": last}
    f = parse_filters(collect(window))
    p = plan(f)
    cases: list[tuple[str, dict[str, str], list[dict[str, Any]]]] = [
        ("/stats", window, build_stats(f))
    ]
    cases += [(path, window, [build(f, p)]) for path, build in _PLAIN.items()]
    for kind, metric in _METRICS.items():
        cases.append(
            (
                f"/histogram/{kind}/by-provider",
                window,
                [bd.build_breakdown(f, p, metric, "provider")],
            )
        )
    for kind in ("cost", "tokens", "latency"):
        query = {**window, "dimension": "provider"}
        body = bd.build_breakdown(f, p, _METRICS[kind], "provider")
        cases.append((f"/histogram/{kind}/by-dimension", query, [body]))
    print(f"{logs} logs, window {first} .. {last}, bucket {p.size} s, {runs} runs each")
    print(
        f"{'endpoint':42} {'api p50':>8} {'p95':>8} {'direct p50':>11} {'p95':>8}"
        f" {'p50 x':>6} {'p95 x':>6}"
    )
    try:
        async with AsyncTestClient(create_app(settings, store=LogStore(settings))) as client:
            for path, params, bodies in cases:
                api, direct = await _measure(client, store, path, params, bodies, runs)
                a50, a95 = _pct(api, 0.5), _pct(api, 0.95)
                d50, d95 = _pct(direct, 0.5), _pct(direct, 0.95)
                print(
                    f"{path:42} {a50:8.1f} {a95:8.1f} {d50:11.1f} {d95:8.1f}"
                    f" {a50 / d50:6.2f} {a95 / d95:6.2f}"
                )
    finally:
        await store.client.indices.delete(index=index, ignore_unavailable=True)
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.aggs_latency", description=__doc__)
    parser.add_argument("--logs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.logs, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
