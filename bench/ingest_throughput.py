"""End-to-end ingest throughput against a plain bulk load of the same final documents, at
several event sizes, in one run.

    .venv/bin/python -m bench.ingest_throughput            # 0.5 KB, 4 KB and 32 KB per event

For every size:

1. Generates sample logs (create, finish, sometimes a correction) padded with words to the
   average event size, and produces them to a fresh 3-partition topic (not timed).
2. Plain bulk (the baseline): writes the final documents (computed with the pure merge)
   into the same daily partitions the worker homes them in (:func:`ingest.router.wanted_key`
   of all a log's events), fresh ones, with ``create`` bulk requests of ``--bulk-docs``
   documents (at most 16 MiB), one after the other; once before and once after the
   end-to-end runs (the mean is the baseline). It writes no id directory: the directory is
   part of what the worker's ratio pays for.
3. End to end: starts the worker (``python -m ingest``, its own process) and times from its
   partition assignment (``/health`` says ``ok``) until every offset is committed (decode,
   merge, ``_bulk``, reads after 409s, commit). Then reads its per-stage times from
   ``/metrics``, and its peak RSS and the CPU time it used meanwhile from ``/proc``: on
   this 2-core machine every CPU second the worker spends is taken from OpenSearch.
4. Prints a table of both rates and their ratio, deletes its topics and indices.

``--compare DIR --rounds N`` measures another worker's code as well (``DIR`` holds its
``ingest`` and ``shared`` packages, e.g. ``git archive main | tar -x -C DIR``), on the same
records, in the same rounds, the order of the two alternating from round to round; each
round has its own plain baseline around both workers.

Stages overlap (the next batch is polled and decoded while one is written), so their sums
can exceed the wall time. Services come from the usual ``HEIMDALL_*`` settings.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import msgspec
from aiokafka.admin import AIOKafkaAdminClient

from bench.services import (
    assigned,
    cleaned_up,
    committed_total,
    counter,
    create_topics,
    http_get,
    stage_seconds,
)
from bench.services import worker as worker_process
from ingest.decode import LogEvent, decode_event
from ingest.demo import produce
from ingest.merge import merge_all, to_source
from ingest.metrics import STAGES
from ingest.plan import Action
from ingest.router import wanted_key
from ingest.samples import SampleRecord, sample_records
from ingest.settings import WorkerSettings
from ingest.store import Store
from shared.opensearch import make_client
from shared.partitions import directory_index, partition_index
from shared.settings import load


def _average_size(pad: int) -> float:
    records = [r for log in sample_records(200, seed=1, pad=pad) for r in log]
    return sum(len(r.value) for r in records) / len(records)


def pad_for(event_bytes: int) -> int:
    """The ``pad`` that makes events ``event_bytes`` long on average (linear fit)."""
    base, probe = _average_size(0), _average_size(20_000)
    return max(0, round((event_bytes - base) * 20_000 / (probe - base)))


def records_of(events: int, event_bytes: int) -> list[SampleRecord]:
    logs = sample_records(max(events // 2, 1), seed=42, pad=pad_for(event_bytes))
    records = sorted((r for log in logs for r in log), key=lambda r: r.timestamp_ms)
    return records[:events]


class Final(msgspec.Struct, frozen=True):
    """A log's final document and the partition key the worker homes it in."""

    source: bytes
    key: str


def final_documents(records: list[SampleRecord], max_bytes: int, days: int) -> dict[str, Final]:
    by_id: dict[str, list[LogEvent]] = {}
    for r in records:
        event = decode_event(r.value, timestamp_ms=r.timestamp_ms, max_bytes=max_bytes)
        by_id.setdefault(event.id, []).append(event)
    out = {}
    for doc_id, events in by_id.items():
        state = merge_all(None, events)
        assert state is not None
        out[doc_id] = Final(to_source(state), wanted_key(events, days))
    return out


def final_sources(records: list[SampleRecord], max_bytes: int) -> dict[str, bytes]:
    """The final ``_source`` of every log of ``records`` (pure merge)."""
    return {i: d.source for i, d in final_documents(records, max_bytes, 1).items()}


class Result(msgspec.Struct, kw_only=True):
    label: str
    worker: str
    round: int
    events: int
    docs: int
    event_bytes: float
    plain_seconds: float
    e2e_seconds: float
    stages: dict[str, tuple[float, int]]
    written: int
    worker_peak_kib: int
    worker_cpu_seconds: float
    #: OpenSearch's work (:func:`opensearch_seconds`): the plain load's (mean), the
    #: worker's in the logs' indices, the worker's in the id directory.
    plain_os_seconds: float
    logs_os_seconds: float
    directory_os_seconds: float

    @property
    def ratio(self) -> float:
        return self.plain_seconds / self.e2e_seconds


async def end_to_end(
    settings: WorkerSettings, total: int, **env: str
) -> tuple[float, str, int, float]:
    """Seconds from assignment to the last commit, the worker's /metrics, its peak RSS and
    the CPU seconds it used meanwhile (``env``: more variables for the worker's process)."""
    worker = worker_process(
        settings,
        HEIMDALL_MAX_BATCH=str(settings.max_batch),
        HEIMDALL_OPENSEARCH_TIMEOUT=str(settings.opensearch_timeout),
        **env,
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await assigned(worker)
        started, cpu = time.perf_counter(), worker.cpu()
        while await committed_total(admin, settings.consumer_group) < total:
            if worker.proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{worker.log_tail()}")
            await asyncio.sleep(0.02)
        seconds, cpu = time.perf_counter() - started, worker.cpu() - cpu
        _, metrics = await asyncio.to_thread(http_get, worker.url + "/metrics")
        peak = worker.memory()["VmHWM"]
        return seconds, metrics.decode(), peak, cpu
    finally:
        await admin.close()
        worker.stop()


def code_env(root: str | None) -> dict[str, str]:
    """The worker's process environment for the code in ``root`` (None: this checkout):
    ``root`` first on the path, the working directory not on it at all."""
    return {} if root is None else {"PYTHONSAFEPATH": "1", "PYTHONPATH": root}


#: The plain load's largest bulk request (OpenSearch's guidance: 5-15 MB per bulk).
PLAIN_BULK_BYTES = 16 * 1024 * 1024


def chunks(actions: list[Action], batch: int, max_bytes: int) -> list[list[Action]]:
    """Bulk requests of at most ``batch`` documents and ``max_bytes`` of sources."""
    out: list[list[Action]] = [[]]
    size = 0
    for action in actions:
        if out[-1] and (len(out[-1]) >= batch or size + len(action.source) > max_bytes):
            out.append([])
            size = 0
        out[-1].append(action)
        size += len(action.source)
    return out


async def plain_bulk(settings: WorkerSettings, docs: dict[str, Final], batch: int) -> float:
    """Seconds to ``create`` ``docs`` in their partitions (fresh ones), ``batch`` at a time."""
    store = Store(settings)
    try:
        await store.ensure_index(
            shards=settings.index_shards,
            replicas=settings.index_replicas,
            refresh_interval=settings.index_refresh_interval,
            partition_days=settings.partition_days,
        )
        alias, version = settings.index_alias, store.version
        actions = [
            Action(op="create", id=i, source=d.source, index=partition_index(alias, d.key, version))
            for i, d in docs.items()
        ]
        requests = chunks(actions, batch, PLAIN_BULK_BYTES)
        started = time.perf_counter()
        for request in requests:
            result = await store.write(request)
            if result.conflicts or result.rejected:
                raise RuntimeError(f"plain bulk load failed: {result}")
        return time.perf_counter() - started
    finally:
        await store.close()


_WORK = (
    ("indexing", "index_time_in_millis"),
    ("refresh", "total_time_in_millis"),
    ("merges", "total_time_in_millis"),
)


async def opensearch_seconds(settings: WorkerSettings, pattern: str) -> float:
    """The time OpenSearch spent indexing, refreshing and merging in the indices of
    ``pattern`` (``_stats``, primaries): this run's own server work, which other users of
    the node do not inflate (their indices are not counted)."""
    client = make_client(settings)
    try:
        stats = await client.indices.stats(index=pattern, metric="indexing,refresh,merge")
    finally:
        await client.close()
    primaries = stats["_all"]["primaries"]
    return sum(float(primaries[group][key]) for group, key in _WORK) / 1000


async def count(settings: WorkerSettings) -> int:
    client = make_client(settings)
    try:
        await client.indices.refresh(index=settings.index_alias)
        return int((await client.count(index=settings.index_alias))["count"])
    finally:
        await client.close()


async def measure(
    base: WorkerSettings,
    label: str,
    event_bytes: int,
    events: int,
    bulk_docs: int,
    workers: dict[str, str | None],
    rounds: int,
) -> list[Result]:
    """``rounds`` rounds on the same records: plain, every worker (their order alternating
    between rounds), plain."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    topics = [name, f"{name}.dlq"]
    records = records_of(events, event_bytes)
    docs = final_documents(records, base.max_event_bytes, base.partition_days)
    results: list[Result] = []
    aliases: list[str] = []
    async with cleaned_up(base, aliases, topics):
        await create_topics(base.kafka_bootstrap, topics)
        await produce(base.kafka_bootstrap, name, records)
        for n in range(rounds):
            order = list(workers) if n % 2 == 0 else list(reversed(workers))
            runs = {
                worker: msgspec.structs.replace(
                    base,
                    topic=name,
                    dlq_topic=f"{name}.dlq",
                    consumer_group=f"{name}-{n}{i}-group",
                    index_alias=f"{name}-{n}{i}",
                )
                for i, worker in enumerate(order)
            }
            plain = [msgspec.structs.replace(base, index_alias=f"{name}-{n}p{p}") for p in (1, 2)]
            aliases += [s.index_alias for s in (*runs.values(), *plain)]
            # The baseline runs before and after the workers (other load on the machine varies).
            before = await plain_bulk(plain[0], docs, bulk_docs)
            measured = {
                worker: await end_to_end(settings, len(records), **code_env(workers[worker]))
                for worker, settings in runs.items()
            }
            after = await plain_bulk(plain[1], docs, bulk_docs)
            for settings in (*runs.values(), *plain):
                assert await count(settings) == len(docs), f"{settings.index_alias} is incomplete"
            plain_os = [await opensearch_seconds(p, f"{p.index_alias}-v*") for p in plain]
            for worker, (seconds, metrics, peak, cpu) in measured.items():
                results.append(
                    Result(
                        label=label,
                        worker=worker,
                        round=n + 1,
                        events=len(records),
                        docs=len(docs),
                        event_bytes=sum(len(r.value) for r in records) / len(records),
                        plain_seconds=(before + after) / 2,
                        e2e_seconds=seconds,
                        stages=stage_seconds(metrics),
                        written=int(counter(metrics, "heimdall_ingest_indexed")),
                        worker_peak_kib=peak,
                        worker_cpu_seconds=cpu,
                        plain_os_seconds=sum(plain_os) / 2,
                        logs_os_seconds=await opensearch_seconds(
                            runs[worker], f"{runs[worker].index_alias}-v*"
                        ),
                        directory_os_seconds=await opensearch_seconds(
                            runs[worker], directory_index(runs[worker].index_alias)
                        ),
                    )
                )
    return results


def table(results: list[Result], batch: int, bulk_docs: int) -> str:
    lines = [
        f"worker: max_batch {batch} records per poll; plain: {bulk_docs} documents per _bulk"
        " into the same partitions",
        "",
        "| event size | worker | round | events | logs | plain _bulk docs/s | end to end docs/s "
        "| events/s | ratio | writes per log | worker peak RSS | worker CPU per event "
        "| OpenSearch work per log: plain / worker's logs + directory |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.label} ({r.event_bytes:,.0f} B) | {r.worker} | {r.round} | {r.events:,} "
            f"| {r.docs:,} | {r.docs / r.plain_seconds:,.0f} | {r.docs / r.e2e_seconds:,.0f} "
            f"| {r.events / r.e2e_seconds:,.0f} | **{r.ratio:.2f}x** | {r.written / r.docs:.2f} "
            f"| {r.worker_peak_kib / 1024:.0f} MB "
            f"| {r.worker_cpu_seconds * 1e6 / r.events:,.0f} µs "
            f"| {r.plain_os_seconds * 1e6 / r.docs:,.0f} / {r.logs_os_seconds * 1e6 / r.docs:,.0f}"
            f" + {r.directory_os_seconds * 1e6 / r.docs:,.0f} µs |"
        )
    stages = sorted({s for r in results for s in r.stages}, key=_stage_order)
    lines += [
        "",
        "Worker time per stage, total seconds (share of the end-to-end wall time) and count:",
        "",
        "| event size | worker | round | wall | " + " | ".join(stages) + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in stages) + " |",
    ]
    for r in results:
        cells = []
        for stage in stages:
            total, n = r.stages.get(stage, (0.0, 0))
            cells.append(f"{total:.2f} s ({total / r.e2e_seconds:.0%}, {n})")
        lines.append(
            f"| {r.label} | {r.worker} | {r.round} | {r.e2e_seconds:.2f} s | "
            + " | ".join(cells)
            + " |"
        )
    workers = list(dict.fromkeys(r.worker for r in results))
    if len(workers) > 1:
        lines += ["", comparison(results, workers)]
    return "\n".join(lines)


def _stage_order(stage: str) -> int:
    return STAGES.index(stage) if stage in STAGES else len(STAGES)


def comparison(results: list[Result], workers: list[str]) -> str:
    """Per size: each worker's median ratio (min-max), and the first worker's end-to-end
    speed over the second's within each round (median, min-max)."""
    first, second = workers[:2]
    lines = [
        f"| event size | rounds | ratio {first} | ratio {second} "
        f"| {first} ÷ {second}, same round |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label in dict.fromkeys(r.label for r in results):
        mine = {r.round: r for r in results if r.label == label and r.worker == first}
        other = {r.round: r for r in results if r.label == label and r.worker == second}
        paired = [other[n].e2e_seconds / mine[n].e2e_seconds for n in mine if n in other]
        lines.append(
            f"| {label} | {len(paired)} | {_spread([r.ratio for r in mine.values()])} "
            f"| {_spread([r.ratio for r in other.values()])} | {_spread(paired)} |"
        )
    return "\n".join(lines)


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def _size(text: str) -> tuple[str, int]:
    kb = float(text)
    return f"{text} KB", round(kb * 1024)


async def run(
    sizes: list[str],
    events: int,
    max_mb: float,
    batch: int,
    bulk_docs: int,
    workers: dict[str, str | None],
    rounds: int,
) -> list[Result]:
    base = msgspec.structs.replace(load(WorkerSettings), max_batch=batch, opensearch_timeout=120.0)
    results = []
    for text in sizes:
        label, event_bytes = _size(text)
        n = max(1, min(events, int(max_mb * 1024 * 1024 / event_bytes)))
        print(f"{label}: {n:,} events ...", file=sys.stderr, flush=True)
        found = await measure(base, label, event_bytes, n, bulk_docs, workers, rounds)
        results += found
        print(table(found, batch, bulk_docs), file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_throughput")
    parser.add_argument(
        "--sizes", default="0.5,4,32", help="average event sizes in KB (default 0.5,4,32)"
    )
    parser.add_argument("--events", type=int, default=20_000, help="events per size at most")
    parser.add_argument(
        "--max-mb", type=float, default=160, help="event bytes per size at most (MB)"
    )
    parser.add_argument(
        "--batch", type=int, default=None, help="the worker's max_batch (default: its setting)"
    )
    parser.add_argument(
        "--bulk-docs", type=int, default=1000, help="documents per plain _bulk (default 1000)"
    )
    parser.add_argument(
        "--compare",
        metavar="DIR",
        help="also measure the worker whose code is in DIR (its ingest/ and shared/)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="rounds per size, on the same records (default 1)"
    )
    args = parser.parse_args(argv)
    batch = args.batch or load(WorkerSettings).max_batch
    workers: dict[str, str | None] = {"this": None}
    if args.compare:
        workers[Path(args.compare).name or args.compare] = str(Path(args.compare).resolve())
    results = asyncio.run(
        run(
            args.sizes.split(","),
            args.events,
            args.max_mb,
            batch,
            args.bulk_docs,
            workers,
            args.rounds,
        )
    )
    print(table(results, batch, args.bulk_docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
