"""End-to-end ingest throughput against a plain bulk load of the same final documents, at
several event sizes, in one run.

    .venv/bin/python -m bench.ingest_throughput            # 0.5 KB, 4 KB and 32 KB per event

For every size:

1. Generates sample logs (create, finish, sometimes a correction) padded with words to the
   average event size, and produces them to a fresh 3-partition topic (not timed).
2. Plain bulk (the baseline): writes the final documents (computed with the pure merge) to a
   fresh index, ``create`` bulk requests of ``--bulk-docs`` documents (at most 16 MiB), one
   after the other; once before and once after the end-to-end run (the mean is the
   baseline).
3. End to end: starts the worker (``python -m ingest``, its own process) and times from its
   partition assignment (``/health`` says ``ok``) until every offset is committed (decode,
   merge, ``_bulk``, reads after 409s, commit). Then reads its per-stage times from
   ``/metrics`` and its peak RSS from ``/proc``.
4. Prints a table of both rates and their ratio, deletes its topics and indices.

Stages overlap (the next batch is polled and decoded while one is written), so their sums
can exceed the wall time. Services come from the usual ``HEIMDALL_*`` settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid

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
from ingest.samples import SampleRecord, sample_records
from ingest.settings import WorkerSettings
from ingest.store import Store
from shared.opensearch import make_client
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


def final_sources(records: list[SampleRecord], max_bytes: int) -> dict[str, bytes]:
    by_id: dict[str, list[LogEvent]] = {}
    for r in records:
        event = decode_event(r.value, timestamp_ms=r.timestamp_ms, max_bytes=max_bytes)
        by_id.setdefault(event.id, []).append(event)
    out = {}
    for doc_id, events in by_id.items():
        state = merge_all(None, events)
        assert state is not None
        out[doc_id] = to_source(state)
    return out


class Result(msgspec.Struct, kw_only=True):
    label: str
    events: int
    docs: int
    event_bytes: float
    plain_seconds: float
    e2e_seconds: float
    stages: dict[str, tuple[float, int]]
    written: int
    worker_peak_kib: int

    @property
    def ratio(self) -> float:
        return self.plain_seconds / self.e2e_seconds


async def end_to_end(settings: WorkerSettings, total: int, **env: str) -> tuple[float, str, int]:
    """Seconds from assignment to the last commit, the worker's /metrics, its peak RSS
    (``env``: more ``HEIMDALL_*`` variables for the worker)."""
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
        started = time.perf_counter()
        while await committed_total(admin, settings.consumer_group) < total:
            if worker.proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{worker.log_tail()}")
            await asyncio.sleep(0.02)
        seconds = time.perf_counter() - started
        _, metrics = await asyncio.to_thread(http_get, worker.url + "/metrics")
        peak = worker.memory()["VmHWM"]
        return seconds, metrics.decode(), peak
    finally:
        await admin.close()
        worker.stop()


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


async def plain_bulk(settings: WorkerSettings, sources: dict[str, bytes], batch: int) -> float:
    store = Store(settings)
    try:
        await store.ensure_index(
            shards=settings.index_shards,
            replicas=settings.index_replicas,
            refresh_interval=settings.index_refresh_interval,
        )
        actions = [Action(op="create", id=i, source=s) for i, s in sources.items()]
        requests = chunks(actions, batch, PLAIN_BULK_BYTES)
        started = time.perf_counter()
        for request in requests:
            result = await store.write(request)
            if result.conflicts or result.rejected:
                raise RuntimeError(f"plain bulk load failed: {result}")
        return time.perf_counter() - started
    finally:
        await store.close()


async def count(settings: WorkerSettings) -> int:
    client = make_client(settings)
    try:
        await client.indices.refresh(index=settings.index_alias)
        return int((await client.count(index=settings.index_alias))["count"])
    finally:
        await client.close()


async def measure(
    base: WorkerSettings, label: str, event_bytes: int, events: int, bulk_docs: int
) -> Result:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    e2e = msgspec.structs.replace(
        base,
        topic=name,
        dlq_topic=f"{name}.dlq",
        consumer_group=f"{name}-group",
        index_alias=name,
    )
    plain = [msgspec.structs.replace(e2e, index_alias=f"{name}-plain{n}") for n in (1, 2)]
    records = records_of(events, event_bytes)
    sources = final_sources(records, base.max_event_bytes)
    aliases = [name, *(p.index_alias for p in plain)]
    async with cleaned_up(base, aliases, [name, f"{name}.dlq"]):
        await create_topics(base.kafka_bootstrap, [name, f"{name}.dlq"])
        await produce(base.kafka_bootstrap, name, records)
        # The baseline runs before and after the worker (other load on the machine varies).
        before = await plain_bulk(plain[0], sources, bulk_docs)
        e2e_seconds, metrics, peak = await end_to_end(e2e, len(records))
        after = await plain_bulk(plain[1], sources, bulk_docs)
        plain_seconds = (before + after) / 2
        for settings in (e2e, *plain):
            assert await count(settings) == len(sources), f"{settings.index_alias} is incomplete"
    return Result(
        label=label,
        events=len(records),
        docs=len(sources),
        event_bytes=sum(len(r.value) for r in records) / len(records),
        plain_seconds=plain_seconds,
        e2e_seconds=e2e_seconds,
        stages=stage_seconds(metrics),
        written=int(counter(metrics, "heimdall_ingest_indexed")),
        worker_peak_kib=peak,
    )


def table(results: list[Result], batch: int, bulk_docs: int) -> str:
    lines = [
        f"worker: max_batch {batch} records per poll; plain: {bulk_docs} documents per _bulk",
        "",
        "| event size | events | logs | plain _bulk docs/s | end to end docs/s | events/s "
        "| ratio | writes per log | worker peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.label} ({r.event_bytes:,.0f} B) | {r.events:,} | {r.docs:,} "
            f"| {r.docs / r.plain_seconds:,.0f} | {r.docs / r.e2e_seconds:,.0f} "
            f"| {r.events / r.e2e_seconds:,.0f} | **{r.ratio:.2f}x** | {r.written / r.docs:.2f} "
            f"| {r.worker_peak_kib / 1024:.0f} MB |"
        )
    lines += [
        "",
        "Worker time per stage, total seconds (share of the end-to-end wall time) and batches:",
        "",
        "| event size | wall | " + " | ".join(STAGES) + " |",
        "| --- | --- | " + " | ".join("---" for _ in STAGES) + " |",
    ]
    for r in results:
        cells = []
        for stage in STAGES:
            total, n = r.stages.get(stage, (0.0, 0))
            cells.append(f"{total:.2f} s ({total / r.e2e_seconds:.0%}, {n})")
        lines.append(f"| {r.label} | {r.e2e_seconds:.2f} s | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _size(text: str) -> tuple[str, int]:
    kb = float(text)
    return f"{text} KB", round(kb * 1024)


async def run(
    sizes: list[str], events: int, max_mb: float, batch: int, bulk_docs: int
) -> list[Result]:
    base = msgspec.structs.replace(load(WorkerSettings), max_batch=batch, opensearch_timeout=120.0)
    results = []
    for text in sizes:
        label, event_bytes = _size(text)
        n = max(1, min(events, int(max_mb * 1024 * 1024 / event_bytes)))
        print(f"{label}: {n:,} events ...", file=sys.stderr, flush=True)
        results.append(await measure(base, label, event_bytes, n, bulk_docs))
        print(table(results[-1:], batch, bulk_docs), file=sys.stderr, flush=True)
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
    args = parser.parse_args(argv)
    batch = args.batch or load(WorkerSettings).max_batch
    results = asyncio.run(
        run(args.sizes.split(","), args.events, args.max_mb, batch, args.bulk_docs)
    )
    print(table(results, batch, args.bulk_docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
