"""End-to-end ingest throughput against a plain bulk load of the same final documents.

    .venv/bin/python -m bench.ingest_throughput --events 20000

1. Produces ``--events`` sample events (creates, finishes, corrections) to a fresh 3-partition
   topic (not timed).
2. End to end: runs the worker in-process and times from partition assignment until every
   offset is committed (decode, _mget, merge, _bulk, commit).
3. Plain bulk: writes the same final documents (computed with the pure merge) to a fresh
   index with one ``create`` bulk request per ``--batch`` documents.
4. Prints both rates and the ratio, then deletes the topics and indices it created.

Services come from the usual ``HEIMDALL_*`` settings (Kafka and OpenSearch of ``bin/stack``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid

import msgspec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ingest.decode import LogEvent, decode_event
from ingest.demo import SampleRecord, produce, sample_records
from ingest.merge import merge_all, to_source
from ingest.plan import Action
from ingest.settings import WorkerSettings
from ingest.store import Store
from ingest.worker import Worker
from shared.opensearch import make_client
from shared.settings import load


def _records(events: int, pad: int) -> list[SampleRecord]:
    logs = sample_records(max(events // 2, 1), seed=42, pad=pad)
    records = sorted((r for log in logs for r in log), key=lambda r: r.timestamp_ms)
    return records[:events]


def _final_sources(records: list[SampleRecord], max_bytes: int) -> dict[str, bytes]:
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


async def _end_to_end(settings: WorkerSettings, total: int) -> float:
    worker = Worker(settings)
    task = asyncio.create_task(worker.run())
    try:
        while not worker.consumer_assigned():
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        started = time.perf_counter()
        while sum(worker.committed.values()) < total:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        return time.perf_counter() - started
    finally:
        worker.stop()
        await task


async def _plain_bulk(settings: WorkerSettings, sources: dict[str, bytes], batch: int) -> float:
    store = Store(settings)
    try:
        await store.ensure_index(
            shards=settings.index_shards,
            replicas=settings.index_replicas,
            refresh_interval=settings.index_refresh_interval,
        )
        actions = [Action(op="create", id=i, source=s) for i, s in sources.items()]
        started = time.perf_counter()
        for n in range(0, len(actions), batch):
            result = await store.write(actions[n : n + batch])
            if result.conflicts or result.rejected:
                raise RuntimeError(f"plain bulk load failed: {result}")
        return time.perf_counter() - started
    finally:
        await store.close()


async def _count(settings: WorkerSettings) -> int:
    client = make_client(settings)
    try:
        await client.indices.refresh(index=settings.index_alias)
        return int((await client.count(index=settings.index_alias))["count"])
    finally:
        await client.close()


async def _cleanup(settings: WorkerSettings, aliases: list[str], topics: list[str]) -> None:
    client = make_client(settings)
    try:
        for alias in aliases:
            # The log index and the worker's side indices (-dropped, -progress).
            await client.indices.delete(index=f"{alias}-*", ignore_unavailable=True)
    finally:
        await client.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


async def run(events: int, batch: int, pad: int) -> None:
    base = load(WorkerSettings)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    e2e = msgspec.structs.replace(
        base,
        topic=name,
        dlq_topic=f"{name}.dlq",
        consumer_group=f"{name}-group",
        index_alias=name,
        max_batch=batch,
        worker_port=0,
        poll_timeout_ms=100,
        log_level="WARNING",
    )
    plain = msgspec.structs.replace(e2e, index_alias=f"{name}-plain")
    records = _records(events, pad)
    sources = _final_sources(records, base.max_event_bytes)
    admin = AIOKafkaAdminClient(bootstrap_servers=base.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name=name, num_partitions=3, replication_factor=1),
                NewTopic(name=f"{name}.dlq", num_partitions=1, replication_factor=1),
            ]
        )
    finally:
        await admin.close()
    try:
        await produce(base.kafka_bootstrap, name, records)
        payload = sum(len(r.value) for r in records)
        print(
            f"{len(records)} events ({payload / len(records):.0f} B avg) for "
            f"{len(sources)} logs; batch {batch}"
        )
        e2e_seconds = await _end_to_end(e2e, len(records))
        assert await _count(e2e) == len(sources), "end-to-end index is incomplete"
        plain_seconds = await _plain_bulk(plain, sources, batch)
        assert await _count(plain) == len(sources), "plain bulk index is incomplete"
    finally:
        await _cleanup(base, [name, f"{name}-plain"], [name, f"{name}.dlq"])

    e2e_events = len(records) / e2e_seconds
    e2e_docs = len(sources) / e2e_seconds
    plain_docs = len(sources) / plain_seconds
    print(f"end to end : {e2e_seconds:7.2f} s  {e2e_events:9.0f} events/s  {e2e_docs:9.0f} docs/s")
    print(
        f"plain bulk : {plain_seconds:7.2f} s  {len(records) / plain_seconds:9.0f} events/s"
        f"  {plain_docs:9.0f} docs/s  (same final documents)"
    )
    print(f"ratio      : end to end = {e2e_docs / plain_docs:.2f} x plain bulk")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_throughput")
    parser.add_argument("--events", type=int, default=10_000, help="events to ingest")
    parser.add_argument("--batch", type=int, default=500, help="max_batch / bulk size")
    parser.add_argument("--pad", type=int, default=0, help="extra input bytes per log")
    args = parser.parse_args(argv)
    asyncio.run(run(args.events, args.batch, args.pad))
    return 0


if __name__ == "__main__":
    sys.exit(main())
