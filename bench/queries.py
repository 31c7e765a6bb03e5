"""Heimdall's API against Bifrost's own stores, on the same logs, in the same passes.

    bin/bootstrap --bench        # adds psycopg and chdb (the `bench` dependency group)
    .venv/bin/python -m bench.queries --logs 20000                          # quick
    .venv/bin/python -m bench.queries --logs 1000000 --growth-from 100000   # the real one

For each size: generates ``--logs`` realistic logs (:mod:`bench.corpus`) and loads the very
same logs into a fresh Heimdall index (the worker's pure functions, bulk writes), Bifrost's
SQLite, Postgres 15 and ClickHouse (chDB) ``logs`` tables (:mod:`bench.anchors`), then runs
every query class (:mod:`bench.classes`) interleaved: each round sends every class to every
target, in a rotating order, after ``--warmup`` unrecorded rounds. A target whose warm-up took
over a second gets ``--slow-reps`` recorded runs instead of ``--reps``; one that exceeds
``--timeout`` is reported as ``> timeout`` and not asked again. Prints the markdown tables
(latency per class, growth between the sizes, bytes per log) and removes everything it
created: the index, the Postgres cluster, the SQLite and ClickHouse files.

Heimdall runs as ``python -m api`` in its own process, reached over HTTP (httpx); "OpenSearch
direct" is the request the API sends, sent straight to OpenSearch. The bench index has
OpenSearch's request cache off (identical repeated aggregations would otherwise be answered
from it). Services come from the usual ``HEIMDALL_*`` settings (``bin/stack``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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
from bench.heimdall import HeimdallTarget, sources

HEIMDALL = "Heimdall API"
DIRECT = "OpenSearch direct"
ANCHORS = ("postgres", "sqlite", "clickhouse")
LABELS = {"postgres": "Postgres", "sqlite": "SQLite", "clickhouse": "ClickHouse"}


@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)
    timed_out: float | None = None
    budget: int = 0

    def p(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def cell(self) -> str:
        if self.timed_out is not None:
            return f"> {self.timed_out:g} s"
        if not self.samples:
            return "n/a"
        return f"{_ms(self.p(0.5))} / {_ms(self.p(0.95))}"


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.0f} ms" if ms >= 100 else f"{ms:.1f} ms" if ms >= 1 else f"{ms:.2f} ms"


Results = dict[str, dict[str, Timing]]  # class name -> target -> timing


async def load(count: int, heimdall: HeimdallTarget, anchors: list[Anchor], batch: int) -> None:
    started = time.perf_counter()
    done = 0
    pending: list[Log] = []

    async def flush() -> None:
        nonlocal done
        rows = [row(log.final) for log in pending]
        write = asyncio.create_task(heimdall.insert(sources(pending)))
        for anchor in anchors:
            await asyncio.to_thread(anchor.insert, rows)
        await write
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


def _ratio(heimdall: Timing, anchors: list[Timing]) -> str:
    """Heimdall's p50 against the fastest anchor's (a timed-out anchor counts as its limit,
    so the ratio is then a lower bound)."""
    values = [(t.p(0.5), "") if t.samples else (t.timed_out, ">") for t in anchors]
    known = [(v, mark) for v, mark in values if v is not None]
    if not heimdall.samples or not known:
        return "n/a"
    best, mark = min(known)
    ratio = heimdall.p(0.5) / best
    if ratio >= 1:
        return f"{ratio:.1f}× slower"
    return f"{mark}{1 / ratio:,.1f}× faster"


def table(results: Results, anchors: list[str]) -> str:
    header = ["class", f"{HEIMDALL} p50 / p95", f"{DIRECT} p50 / p95"]
    header += [f"{LABELS[a]} p50 / p95" for a in anchors]
    header += ["Heimdall ÷ the faster SQL store", "Heimdall ÷ ClickHouse"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, by_target in results.items():
        main = by_target.get(HEIMDALL) or by_target[DIRECT]
        cells = [name, by_target[HEIMDALL].cell() if HEIMDALL in by_target else "(direct)"]
        cells.append(by_target[DIRECT].cell() if DIRECT in by_target else "(several requests)")
        cells += [by_target[a].cell() for a in anchors]
        sql = [by_target[a] for a in anchors if a in ("postgres", "sqlite")]
        cells.append(_ratio(main, sql))
        cells.append(_ratio(main, [by_target[a] for a in anchors if a == "clickhouse"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth_table(small: Results, large: Results, sizes: tuple[int, int], anchors: list[str]) -> str:
    targets = [HEIMDALL, DIRECT, *anchors]
    names = [LABELS.get(t, t) for t in targets]
    lines = [
        f"| class, p50 growth {sizes[0]:,} -> {sizes[1]:,} | " + " | ".join(names) + " |",
        "|" + " --- |" * (len(targets) + 1),
    ]
    for name, by_target in large.items():
        cells = [name]
        for t in targets:
            a, b = small[name].get(t), by_target.get(t)
            if a is None or b is None or not a.samples or not b.samples:
                cells.append("n/a" if a is None or b is None else "timeout")
            else:
                cells.append(f"{b.p(0.5) / a.p(0.5):.1f}×")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def run_size(count: int, args: argparse.Namespace) -> tuple[Results, dict[str, float]]:
    print(f"## {count:,} logs", flush=True)
    keep = args.keep / str(count) if args.keep else None
    anchors, directory, fresh = open_anchors(args.anchors, keep)
    heimdall = HeimdallTarget(None if fresh else loaded_state(directory)["alias"])
    try:
        if fresh:
            await heimdall.create()
            await load(count, heimdall, anchors, args.batch)
            if keep:
                mark_loaded(directory, {"alias": heimdall.alias, "count": count})
        elif await heimdall.count() != count:
            raise SystemExit(f"{directory} holds no complete load any more: --drop it first")
        else:
            print(f"  reusing the load kept in {directory}", flush=True)
        if args.load_only:
            return {}, {}
        sizes = {"OpenSearch": await heimdall.bytes_used() / count}
        sizes |= {LABELS[a.dialect]: a.bytes_used() / count for a in anchors}
        await heimdall.start_api()
        results = await measure(heimdall, anchors, args)
    finally:
        await heimdall.close(delete=keep is None)
        close_anchors(anchors, directory, remove=keep is None)
    print()
    print(table(results, args.anchors))
    print()
    print("| store | bytes per log |\n| --- | --- |")
    for store, size in sizes.items():
        print(f"| {store} | {size:,.0f} |")
    print(flush=True)
    return results, sizes


def _kept(keep: Path) -> list[str]:
    runs = sorted(keep.iterdir()) if keep.exists() else []
    return [loaded_state(d)["alias"] for d in runs if (d / "loaded.json").exists()]


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
    runs = [await run_size(n, args) for n in sizes]
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
    parser.add_argument("--drop", action="store_true", help="remove what --keep kept, then exit")
    parser.add_argument(
        "--load-only", action="store_true", help="with --keep: load (or check) and exit"
    )
    args = parser.parse_args(argv)
    if (args.drop or args.load_only) and not args.keep:
        parser.error("--drop and --load-only need --keep DIR")
    args.anchors = [a for a in args.anchors.split(",") if a]
    if unknown := set(args.anchors) - set(ANCHORS):
        parser.error(f"unknown anchors: {', '.join(sorted(unknown))}")
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
