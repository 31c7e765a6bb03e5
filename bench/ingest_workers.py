"""Ingest throughput of several workers in one consumer group against one worker, on the same
stack, in one run; and the index's bytes per log.

    .venv/bin/python -m bench.ingest_workers                 # 3 workers vs 1, 4 KB events
    .venv/bin/python -m bench.ingest_workers --workers 2 --events 20000

Each pass produces the same sample events (padded to ``--kb`` per event on average, as
``bench.ingest_throughput`` does) to a fresh topic of ``--partitions`` partitions, starts the
workers (``python -m ingest``, one process each, one group), waits until every one of them
owns partitions, and times from then until the group has committed every offset. One worker
runs before and after the group (the mean is the baseline, since other load on the machine
varies); the ratio is the group's events/s over the baseline's. The index of each pass is
then refreshed and its primary store size divided by its logs (``_stats``: what a log costs
on disk before any replica). Topics and indices are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid

import msgspec
from aiokafka.admin import AIOKafkaAdminClient

from bench.ingest_throughput import count, final_sources, records_of
from bench.services import assigned, cleaned_up, committed_total, create_topics
from bench.services import worker as worker_process
from ingest.demo import produce
from ingest.samples import SampleRecord
from ingest.settings import WorkerSettings
from shared.opensearch import make_client
from shared.settings import load


class Pass(msgspec.Struct, kw_only=True):
    workers: int
    events: int
    logs: int
    seconds: float
    store_bytes: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


async def _primary_store_bytes(settings: WorkerSettings) -> int:
    client = make_client(settings)
    try:
        await client.indices.refresh(index=settings.index_alias)
        stats = await client.indices.stats(index=settings.index_alias, metric="store")
        return int(stats["_all"]["primaries"]["store"]["size_in_bytes"])
    finally:
        await client.close()


async def one_pass(
    base: WorkerSettings, records: list[SampleRecord], logs: int, workers: int, partitions: int
) -> Pass:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    settings = msgspec.structs.replace(
        base,
        topic=name,
        dlq_topic=f"{name}.dlq",
        consumer_group=f"{name}-group",
        index_alias=name,
    )
    async with cleaned_up(base, [name], [name, f"{name}.dlq"]):
        await create_topics(base.kafka_bootstrap, [name], partitions=partitions)
        await create_topics(base.kafka_bootstrap, [f"{name}.dlq"])
        await produce(base.kafka_bootstrap, name, records)
        group = [
            worker_process(
                settings,
                HEIMDALL_MAX_BATCH=str(settings.max_batch),
                HEIMDALL_OPENSEARCH_TIMEOUT=str(settings.opensearch_timeout),
            )
            for _ in range(workers)
        ]
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            # Timed from the moment every worker owns partitions (the group has settled).
            await asyncio.gather(*(assigned(w) for w in group))
            started = time.perf_counter()
            while await committed_total(admin, settings.consumer_group) < len(records):
                for w in group:
                    if w.proc.poll() is not None:
                        raise RuntimeError(f"a worker exited:\n{w.log_tail()}")
                await asyncio.sleep(0.02)
            seconds = time.perf_counter() - started
        finally:
            await admin.close()
            for w in group:
                w.stop()
        stored = await count(settings)
        if stored != logs:
            raise RuntimeError(f"{name}: {stored} logs indexed, expected {logs}")
        store_bytes = await _primary_store_bytes(settings)
    return Pass(
        workers=workers, events=len(records), logs=logs, seconds=seconds, store_bytes=store_bytes
    )


def table(passes: list[Pass], workers: int, kb: float, partitions: int) -> str:
    single = [p for p in passes if p.workers == 1]
    group = next(p for p in passes if p.workers == workers)
    baseline = sum(p.events_per_second for p in single) / len(single)
    lines = [
        f"{kb:g} KB events, a {partitions}-partition topic; 1 worker before and after "
        f"{workers} (the mean is the baseline)",
        "",
        "| workers | events | logs | seconds | events/s | ratio to 1 worker | bytes per log |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in passes:
        lines.append(
            f"| {p.workers} | {p.events:,} | {p.logs:,} | {p.seconds:.2f} "
            f"| {p.events_per_second:,.0f} | **{p.events_per_second / baseline:.2f}x** "
            f"| {p.store_bytes / p.logs:,.0f} |"
        )
    lines += ["", f"{workers} workers ÷ 1 worker: {group.events_per_second / baseline:.2f}x"]
    return "\n".join(lines)


async def run(workers: int, events: int, kb: float, partitions: int, batch: int) -> list[Pass]:
    base = msgspec.structs.replace(load(WorkerSettings), max_batch=batch, opensearch_timeout=120.0)
    records = records_of(events, round(kb * 1024))
    logs = len(final_sources(records, base.max_event_bytes))
    passes = []
    for n in (1, workers, 1):
        print(f"{n} worker(s): {len(records):,} events ...", file=sys.stderr, flush=True)
        passes.append(await one_pass(base, records, logs, n, partitions))
    return passes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_workers")
    parser.add_argument("--workers", type=int, default=3, help="workers in the group (3)")
    parser.add_argument("--events", type=int, default=20_000, help="events per pass (20,000)")
    parser.add_argument("--kb", type=float, default=4, help="average event size in KB (4)")
    parser.add_argument("--partitions", type=int, default=6, help="topic partitions (6)")
    parser.add_argument(
        "--batch", type=int, default=None, help="the worker's max_batch (default: its setting)"
    )
    args = parser.parse_args(argv)
    batch = args.batch or load(WorkerSettings).max_batch
    passes = asyncio.run(run(args.workers, args.events, args.kb, args.partitions, batch))
    print(table(passes, args.workers, args.kb, args.partitions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
