"""Helpers for the ingest integration tests: topics, producing, expected state, polling."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import msgspec
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from opensearchpy import AsyncOpenSearch

from ingest.decode import LogEvent, decode_event
from ingest.demo import produce
from ingest.merge import merge_all, to_source
from ingest.samples import SampleRecord, sample_records
from ingest.settings import WorkerSettings
from ingest.worker import Worker
from shared.index import INDEXED_AT

T = TypeVar("T")
WAIT_SECONDS = 60.0


async def create_topics(bootstrap: str, *names: str, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name=n, num_partitions=partitions, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


async def produce_records(bootstrap: str, topic: str, records: Sequence[SampleRecord]) -> None:
    await produce(bootstrap, topic, records)


def stream_of(count: int, seed: int) -> list[SampleRecord]:
    """The events of ``count`` sample logs in time order, as a gateway would publish them."""
    records = [r for log in sample_records(count, seed=seed) for r in log]
    return sorted(records, key=lambda r: r.timestamp_ms)


async def indexed_count(client: AsyncOpenSearch, alias: str) -> int:
    """Logs behind ``alias`` after a refresh (0 before the index exists)."""
    if not await client.indices.exists_alias(name=alias):
        return 0
    await client.indices.refresh(index=alias)
    return int((await client.count(index=alias))["count"])


def events_of(records: Iterable[SampleRecord], max_bytes: int = 4 << 20) -> list[LogEvent]:
    return [
        decode_event(r.value, timestamp_ms=r.timestamp_ms, max_bytes=max_bytes) for r in records
    ]


def expected_sources(records: Iterable[SampleRecord]) -> dict[str, dict[str, Any]]:
    """The ``_source`` of every log after merging all its events (pure merge/to_source)."""
    by_id: dict[str, list[LogEvent]] = {}
    for event in events_of(records):
        by_id.setdefault(event.id, []).append(event)
    out: dict[str, dict[str, Any]] = {}
    for doc_id, events in by_id.items():
        state = merge_all(None, events)
        assert state is not None
        out[doc_id] = msgspec.json.decode(to_source(state))
    return out


async def indexed_sources(client: AsyncOpenSearch, alias: str) -> dict[str, dict[str, Any]]:
    """Every stored ``_source`` by id, without its ``indexed_at``."""
    await client.indices.refresh(index=alias)
    found: dict[str, dict[str, Any]] = {}
    response = await client.search(
        index=alias, body={"query": {"match_all": {}}, "size": 10_000, "seq_no_primary_term": True}
    )
    for hit in response["hits"]["hits"]:
        assert hit["_id"] not in found
        # The change marker is the worker's clock at write time: no test can expect it.
        found[hit["_id"]] = {k: v for k, v in hit["_source"].items() if k != INDEXED_AT}
    return found


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, what: str, within: float = WAIT_SECONDS
) -> T:
    """Poll ``check`` until it returns something other than None/False (bounded)."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(0.25)


async def wait_for_index(
    client: AsyncOpenSearch, alias: str, expected: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Wait until the index holds exactly ``expected`` (compared as decoded JSON)."""
    last: dict[str, dict[str, Any]] = {}

    async def check() -> dict[str, dict[str, Any]] | None:
        nonlocal last
        if not await client.indices.exists_alias(name=alias):
            return None
        last = await indexed_sources(client, alias)
        return last if last == expected else None

    try:
        return await eventually(check, what=f"{len(expected)} documents in {alias}")
    except AssertionError:
        missing = sorted(set(expected) - set(last))[:5]
        extra = sorted(set(last) - set(expected))[:5]
        differ = sorted(i for i in set(expected) & set(last) if expected[i] != last[i])[:5]
        raise AssertionError(
            f"index {alias}: {len(last)} docs, expected {len(expected)}; missing {missing}, "
            f"unexpected {extra}, different {differ}"
        ) from None


async def read_topic(
    bootstrap: str, topic: str, count: int, within: float = WAIT_SECONDS
) -> list[Any]:
    """Read exactly ``count`` records from the start of ``topic`` (bounded wait)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + within
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
        # Give a moment for any unexpected extra record to show up.
        for part in (await consumer.getmany(timeout_ms=1000)).values():
            records.extend(part)
    finally:
        await consumer.stop()
    return records


def worker_settings(
    bootstrap: str, opensearch_url: str, name: str, **overrides: Any
) -> WorkerSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "opensearch_url": opensearch_url,
        "topic": name,
        "dlq_topic": f"{name}.dlq",
        "consumer_group": f"{name}-group",
        "index_alias": name,
        "worker_port": 0,
        "poll_timeout_ms": 200,
        "backoff_initial_seconds": 0.2,
        "backoff_max_seconds": 2.0,
        "opensearch_timeout": 5.0,
        # The tests place logs in daily partitions (the product's default is 7 days).
        "partition_days": 1,
    }
    values.update(overrides)
    return msgspec.convert(values, WorkerSettings)


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run ``worker`` as a task; stop it cleanly at exit (and surface its failure)."""
    task = asyncio.create_task(worker.run())
    try:
        yield worker
        assert not task.done() or task.exception() is None, task.exception()
    finally:
        worker.stop()
        await asyncio.wait_for(task, 60)


def by_key(records: Iterable[SampleRecord]) -> dict[bytes, list[SampleRecord]]:
    out: dict[bytes, list[SampleRecord]] = {}
    for r in records:
        out.setdefault(r.key, []).append(r)
    return out


async def produce_located(
    bootstrap: str, topic: str, items: Sequence[tuple[bytes | None, bytes | None, int]]
) -> list[tuple[int, int]]:
    """Produce ``(key, value, timestamp_ms)`` items in order; return each one's
    ``(partition, offset)``."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, key=k, value=v, timestamp_ms=ts) for k, v, ts in items
        ]
        return [(m.partition, m.offset) for m in await asyncio.gather(*futures)]
    finally:
        await producer.stop()


async def committed_offsets(bootstrap: str, group: str) -> dict[int, int]:
    """The group's committed offsets as Kafka has them, by partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
