"""Heimdall's API against Bifrost's own stores, on the same logs, in the same passes.

    bin/bootstrap --bench        # adds psycopg and chdb (the `bench` dependency group)
    .venv/bin/python -m bench.queries --logs 20000                          # quick
    .venv/bin/python -m bench.queries --logs 1000000 --growth-from 100000   # the real one

For each size: generates ``--logs`` realistic logs (:mod:`bench.corpus`) and loads the very
same logs into a fresh Heimdall alias in the product's layout (daily partitions,
:mod:`bench.heimdall`), Bifrost's SQLite, Postgres 15 and ClickHouse (chDB) ``logs`` tables
(:mod:`bench.anchors`), then runs every query class (:mod:`bench.classes`: the list classes
and every dashboard endpoint) interleaved: each round sends every class to every target, in a
rotating order, after ``--warmup`` unrecorded rounds. A target whose warm-up took over a
second gets ``--slow-reps`` recorded runs instead of ``--reps``; one that exceeds
``--timeout`` is reported as ``> timeout`` and not asked again. Prints the markdown tables
(latency per class, growth between the sizes, bytes per log, the API's peak RSS) and removes
everything it created: the indices, the Postgres cluster, the SQLite and ClickHouse files.

``--keep DIR`` keeps the loads (``DIR/<size>``, see :func:`bench.anchors.mark_loaded`) for
later runs. ``--heimdall-alias A,B`` (one per size) measures existing aliases holding the same
logs (``bench.corpus.generate(n)``, e.g. the shared ``shared-100k``/``shared-1m``) instead of
loading Heimdall: only the anchors are loaded then (``--load-only`` loads just them).

Heimdall runs as ``python -m api`` in its own process, reached over HTTP (httpx); "OpenSearch
direct" is the request the API sends, sent straight to OpenSearch. The bench's indices have
OpenSearch's request cache off (identical repeated aggregations would otherwise be answered
from it). Services come from the usual ``HEIMDALL_*`` settings (``bin/stack``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from bench.anchors import (
    Anchor,
    QueryTimeout,
    close_anchors,
    loaded_state,
    mark_loaded,
    open_anchors,
)
from bench.bifrost_sql import row
from bench.classes import QueryClass, classes
from bench.corpus import Log, generate
from bench.heimdall import HeimdallTarget
from bench.query_tables import (
    ANCHORS,
    DIRECT,
    HEIMDALL,
    LABELS,
    Results,
    Timing,
    growth_table,
    table,
)


async def load(
    count: int, heimdall: HeimdallTarget | None, anchors: list[Anchor], batch: int
) -> None:
    """Load ``count`` logs into the anchors and (unless ``None``: an existing alias serves
    Heimdall's side) into Heimdall's fresh index."""
    started = time.perf_counter()
    done = 0
    pending: list[Log] = []

    async def flush() -> None:
        nonlocal done
        rows = [row(log.final) for log in pending]
        writes = [asyncio.to_thread(anchor.insert, rows) for anchor in anchors]
        if heimdall is not None:
            writes.append(heimdall.insert(pending))
        await asyncio.gather(*writes)
        done += len(pending)
        pending.clear()
        if done % (batch * 20) == 0 or done == count:
            rate = done / (time.perf_counter() - started)
            print(f"  loaded {done:,} / {count:,} ({rate:,.0f} logs/s)", flush=True)

    for log in generate(count):
        pending.append(log)
        if len(pending) == batch:
            await flush()
    if pending:
        await flush()
    print("  building indexes, refreshing ...", flush=True)
    if heimdall is not None:
        await heimdall.finish_load()
    for anchor in anchors:
        t = time.perf_counter()
        await asyncio.to_thread(anchor.finish_load)
        print(f"  {anchor.dialect}: indexes in {time.perf_counter() - t:.1f} s", flush=True)


async def _cursor_at(heimdall: HeimdallTarget, qc: QueryClass) -> dict[str, str]:
    """Walk pages with ``next_cursor`` up to ``qc.search.offset``; the params of the page there."""
    params = dict(qc.params)
    position = 0
    while position < qc.search.offset:
        page = msgspec.json.decode(await heimdall.get("/api/logs", params))
        params["cursor"] = page["next_cursor"]
        position += qc.search.limit
    return params


def _requests(
    qc: QueryClass,
    params: dict[str, str],
    heimdall: HeimdallTarget,
    anchors: list[Anchor],
    timeout: float,
) -> dict[str, Callable[[], Awaitable[None]]]:
    out: dict[str, Callable[[], Awaitable[None]]] = {}
    if qc.path is not None:
        path = qc.path

        async def api() -> None:
            await heimdall.get(path, params)

        out[HEIMDALL] = api
    if qc.has_direct:
        body = qc.direct_body(params)

        async def direct() -> None:
            await heimdall.search(body)

        out[DIRECT] = direct
    for anchor in anchors:
        statements = qc.sql(anchor.dialect, qc.search)

        async def sql(anchor: Anchor = anchor, statements: list[str] = statements) -> None:
            anchor.run(statements, timeout)

        out[anchor.dialect] = sql
    return out


async def measure(
    heimdall: HeimdallTarget, anchors: list[Anchor], args: argparse.Namespace
) -> Results:
    plan = []
    for qc in classes():
        params = await _cursor_at(heimdall, qc) if qc.cursor else qc.params
        plan.append((qc, _requests(qc, params, heimdall, anchors, args.timeout)))
    results: Results = {qc.name: {t: Timing(budget=args.reps) for t in reqs} for qc, reqs in plan}
    rounds = args.warmup + args.reps
    for n in range(rounds):
        print(f"  round {n + 1} / {rounds}", flush=True)
        for qc, requests in plan:
            targets = list(requests)
            shift = n % len(targets)
            for target in targets[shift:] + targets[:shift]:
                timing = results[qc.name][target]
                if timing.timed_out is not None or len(timing.samples) >= timing.budget:
                    continue
                started = time.perf_counter()
                try:
                    await requests[target]()
                except QueryTimeout:
                    timing.timed_out = args.timeout
                    continue
                took = time.perf_counter() - started
                if n >= args.warmup:
                    timing.samples.append(took)
                elif took > 1.0:
                    timing.budget = min(timing.budget, args.slow_reps)
    return results


async def _prepare(
    count: int, alias: str | None, args: argparse.Namespace
) -> tuple[HeimdallTarget, list[Anchor], Path, Path | None]:
    """Open (and load, unless kept) the anchors and Heimdall's side for ``count`` logs.

    ``alias``: an existing alias holding the same ``count`` logs serves Heimdall's side (only
    the anchors are loaded, and the alias is never deleted); otherwise Heimdall's own index is
    loaded with the anchors."""
    keep = args.keep / str(count) if args.keep else None
    anchors, directory, fresh = open_anchors(args.anchors, keep)
    state = {} if fresh else loaded_state(directory)
    if alias is None and not fresh and state.get("alias") is None:
        close_anchors(anchors, directory, remove=False)
        raise SystemExit(f"{directory} kept only the anchors: name Heimdall's --heimdall-alias")
    heimdall = HeimdallTarget(alias or state.get("alias"), owned=alias is None)
    try:
        if fresh:
            if alias is None:
                await heimdall.create()
            await load(count, heimdall if alias is None else None, anchors, args.batch)
            if keep:
                kept = None if alias else heimdall.alias
                mark_loaded(directory, {"alias": kept, "count": count})
        else:
            print(f"  reusing the anchors kept in {directory}", flush=True)
        if (alias is None or not args.load_only) and await heimdall.count() != count:
            raise SystemExit(f"{heimdall.alias} does not hold {count:,} logs")
    except BaseException:
        await heimdall.close(delete=keep is None)
        close_anchors(anchors, directory, remove=keep is None)
        raise
    return heimdall, anchors, directory, keep


async def run_size(
    count: int, alias: str | None, args: argparse.Namespace
) -> tuple[Results, dict[str, float]]:
    print(f"## {count:,} logs", flush=True)
    heimdall, anchors, directory, keep = await _prepare(count, alias, args)
    try:
        if args.load_only:
            return {}, {}
        sizes = {"OpenSearch": await heimdall.bytes_used() / count}
        sizes |= {LABELS[a.dialect]: a.bytes_used() / count for a in anchors}
        await heimdall.start_api()
        before = os.getloadavg()
        began = time.perf_counter()
        results = await measure(heimdall, anchors, args)
        took = time.perf_counter() - began
        after = os.getloadavg()
        peak = heimdall.api_peak_mib()
    finally:
        await heimdall.close(delete=keep is None)
        close_anchors(anchors, directory, remove=keep is None)
    print()
    print(table(results, args.anchors))
    print()
    print("| store | bytes per log |\n| --- | --- |")
    for store, size in sizes.items():
        print(f"| {store} | {size:,.0f} |")
    print()
    print(f"Heimdall API ({heimdall.alias}) peak RSS (VmHWM): {peak:,.0f} MiB")
    print(
        f"measured in {took / 60:.1f} min; load average (1 min) {before[0]:.1f} before, "
        f"{after[0]:.1f} after; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    return results, sizes


def _kept(keep: Path) -> list[str]:
    runs = sorted(keep.iterdir()) if keep.exists() else []
    aliases = [loaded_state(d)["alias"] for d in runs if (d / "loaded.json").exists()]
    return [a for a in aliases if a is not None]


async def drop(keep: Path) -> None:
    """Delete what ``--keep`` kept: the indices and the directories (Postgres is stopped)."""
    for alias in _kept(keep):
        await HeimdallTarget(alias).close(delete=True)
    shutil.rmtree(keep, ignore_errors=True)
    print(f"removed {keep} and its indices")


async def run(args: argparse.Namespace) -> None:
    if args.drop:
        await drop(args.keep)
        return
    sizes = [args.growth_from, args.logs] if args.growth_from else [args.logs]
    aliases: list[str | None] = list(args.heimdall_alias) or [None] * len(sizes)
    runs = [await run_size(n, a, args) for n, a in zip(sizes, aliases, strict=True)]
    if len(runs) == 2 and not args.load_only:
        print(growth_table(runs[0][0], runs[1][0], (sizes[0], sizes[1]), args.anchors))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.queries", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--logs", type=int, default=20_000, help="logs to load (default 20,000)")
    parser.add_argument(
        "--growth-from", type=int, default=0, help="also run at this smaller size first"
    )
    parser.add_argument("--reps", type=int, default=15, help="recorded runs per class and target")
    parser.add_argument(
        "--slow-reps", type=int, default=3, help="recorded runs of a target slower than 1 s"
    )
    parser.add_argument("--warmup", type=int, default=2, help="unrecorded rounds first")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds before a query is abandoned"
    )
    parser.add_argument("--batch", type=int, default=1000, help="logs per bulk write / insert")
    parser.add_argument(
        "--anchors", default=",".join(ANCHORS), help="comma-separated: postgres,sqlite,clickhouse"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the loaded stores in this directory (and their index) and reuse them in "
        "later runs of the same sizes; remove them with --drop",
    )
    parser.add_argument(
        "--heimdall-alias",
        default="",
        help="comma-separated, one per size (smallest first): existing aliases holding the same "
        "logs (bench.corpus, seed 1) that serve as Heimdall's side; only the anchors are loaded "
        "then, and the aliases are never written or deleted",
    )
    parser.add_argument("--drop", action="store_true", help="remove what --keep kept, then exit")
    parser.add_argument(
        "--load-only", action="store_true", help="with --keep: load (or check) and exit"
    )
    args = parser.parse_args(argv)
    if (args.drop or args.load_only) and not args.keep:
        parser.error("--drop and --load-only need --keep DIR")
    args.anchors = [a for a in args.anchors.split(",") if a]
    args.heimdall_alias = [a for a in args.heimdall_alias.split(",") if a]
    if args.heimdall_alias and len(args.heimdall_alias) != 1 + bool(args.growth_from):
        parser.error("--heimdall-alias names one alias per size (two with --growth-from)")
    if unknown := set(args.anchors) - set(ANCHORS):
        parser.error(f"unknown anchors: {', '.join(sorted(unknown))}")
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
