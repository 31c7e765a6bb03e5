"""Time partitions: a log's create and its later updates reach the same document, in the
one partition that holds it, whatever boundary or days lie between them, in any order, on
one worker or two at once; a late event of a partition past retention is dead-lettered."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from opensearchpy import AsyncOpenSearch

from api.settings import ApiSettings
from api.store import LogStore
from ingest.batch import Batch, decode_batch
from ingest.cache import WriteCache
from ingest.kafka import TP
from ingest.metrics import Metrics
from ingest.router import Router
from ingest.samples import SampleRecord
from ingest.schedule import run_lifecycle
from ingest.settings import WorkerSettings
from ingest.store import Store
from ingest.worker import Worker
from ingest.writer import BatchWriter
from shared.index import MAPPING_VERSION
from shared.partitions import key_of_day, partition_index
from tests.conftest import Services
from tests.support.ingest import (
    create_topics,
    eventually,
    expected_sources,
    indexed_sources,
    produce_records,
    read_topic,
    running,
    wait_for_index,
    worker_settings,
)

TODAY = datetime.now(UTC).date()
#: Two days ago, so every record time stays within Kafka's 7-day retention.
DAY = TODAY - timedelta(days=2)
MIDNIGHT = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) + timedelta(days=1)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def record(log_id: str, payload: dict[str, Any], at: datetime, op: str) -> SampleRecord:
    body = {"type": "log", "operation": op, "payload": {"id": log_id, **payload}}
    return SampleRecord(log_id.encode(), msgspec.json.encode(body), ms(at))


def create(log_id: str, started: datetime) -> SampleRecord:
    stamp = started.isoformat(timespec="microseconds").replace("+00:00", "Z")
    payload = {
        "status": "processing",
        "model": "gpt-4o",
        "provider": "openai",
        "timestamp": stamp,
        "created_at": stamp,
        "input_history": [{"role": "user", "content": "ping"}],
    }
    return record(log_id, payload, started, "create")


def finish(log_id: str, at: datetime) -> SampleRecord:
    payload = {"status": "success", "latency": 900.0, "cost": 0.5}
    return record(log_id, payload, at, "update")


def correction(log_id: str, at: datetime) -> SampleRecord:
    return record(log_id, {"cost": 0.25}, at, "update")


def partition(alias: str, day: date) -> str:
    return partition_index(alias, key_of_day(day, 1), MAPPING_VERSION)


async def where(client: AsyncOpenSearch, alias: str) -> dict[str, str]:
    """Every log id behind the alias -> the index holding it (a duplicate fails)."""
    await client.indices.refresh(index=alias)
    response = await client.search(index=alias, body={"size": 10_000, "_source": False})
    found: dict[str, str] = {}
    for hit in response["hits"]["hits"]:
        assert hit["_id"] not in found, (
            f"{hit['_id']} is in {found[hit['_id']]} and {hit['_index']}"
        )
        found[hit["_id"]] = hit["_index"]
    return found


async def test_updates_straddling_a_boundary_or_days_late_reach_the_created_log(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    """One event per batch and no write cache: every event finds its log through the
    directory, never through this worker's memory."""
    await create_topics(services.kafka_bootstrap, unique_name, f"{unique_name}.dlq")
    before = MIDNIGHT - timedelta(milliseconds=5)
    after = MIDNIGHT + timedelta(seconds=2)
    late = datetime.now(UTC) - timedelta(minutes=1)
    records = [
        # created a moment before midnight, finished after it, corrected two days later
        create("straddle", before),
        finish("straddle", after),
        correction("straddle", late),
        # the finish seen first (after midnight), its create after it
        finish("reversed", after),
        create("reversed", before),
        # the update days late, then the create (it was lost, then replayed)
        correction("replayed", late),
        create("replayed", before),
    ]
    await produce_records(services.kafka_bootstrap, unique_name, records)
    settings = worker_settings(
        services.kafka_bootstrap,
        services.opensearch_url,
        unique_name,
        max_batch=1,
        write_cache_bytes=0,
    )
    async with running(Worker(settings)):
        found = await wait_for_index(opensearch, unique_name, expected_sources(records))
    assert found["straddle"]["status"] == "success"
    assert found["straddle"]["cost"] == 0.25
    homes = await where(opensearch, unique_name)
    # Each log lives where its first writer homed it: the create's day, or (update first)
    # the day of that update's record time.
    assert homes == {
        "straddle": partition(unique_name, DAY),
        "reversed": partition(unique_name, DAY + timedelta(days=1)),
        "replayed": partition(unique_name, late.date()),
    }
    api = LogStore(ApiSettings(opensearch_url=services.opensearch_url, index_alias=unique_name))
    try:
        got = await api.get("straddle")  # realtime, across partitions
        assert got is not None
        assert msgspec.json.decode(got)["cost"] == 0.25
    finally:
        await api.close()


async def test_two_workers_on_two_topics_write_one_log_each(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    """Creates on one topic, their updates on another (as OTLP spans and log records are),
    consumed at once by two workers: each log still has one document, although its two
    events want homes on two different days."""
    spans, details = f"{unique_name}.a", f"{unique_name}.b"
    await create_topics(services.kafka_bootstrap, spans, details, f"{spans}.dlq", f"{details}.dlq")
    ids = [f"log-{n}" for n in range(300)]
    creates = [create(i, MIDNIGHT - timedelta(milliseconds=1)) for i in ids]
    finishes = [finish(i, MIDNIGHT + timedelta(seconds=1)) for i in ids]
    await asyncio.gather(
        produce_records(services.kafka_bootstrap, spans, creates),
        produce_records(services.kafka_bootstrap, details, finishes),
    )
    common = {"write_cache_bytes": 0, "max_batch": 50, "index_alias": unique_name}
    first = worker_settings(services.kafka_bootstrap, services.opensearch_url, spans, **common)
    second = worker_settings(services.kafka_bootstrap, services.opensearch_url, details, **common)
    async with running(Worker(first)), running(Worker(second)):
        found = await wait_for_index(
            opensearch, unique_name, expected_sources([*creates, *finishes])
        )
    assert len(found) == 300
    homes = set((await where(opensearch, unique_name)).values())
    assert homes <= {partition(unique_name, DAY), partition(unique_name, DAY + timedelta(1))}


async def test_a_late_event_of_a_deleted_partition_is_dead_lettered_not_resurrected(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    await create_topics(services.kafka_bootstrap, unique_name, f"{unique_name}.dlq")
    old = datetime.now(UTC) - timedelta(days=5)
    settings = worker_settings(
        services.kafka_bootstrap, services.opensearch_url, unique_name, retention_days=3
    )
    # Written while young enough (no retention yet), then retention drops its partition.
    young = msgspec.structs.replace(settings, retention_days=0)
    await produce_records(services.kafka_bootstrap, unique_name, [create("old", old)])
    async with running(Worker(young)):
        await wait_for_index(opensearch, unique_name, expected_sources([create("old", old)]))
    report = await run_lifecycle(settings)
    assert report.deleted == [partition(unique_name, old.date())]

    late = finish("old", datetime.now(UTC))
    await produce_records(services.kafka_bootstrap, unique_name, [late, create("new", old)])
    async with running(Worker(settings)):
        dead = await read_topic(services.kafka_bootstrap, f"{unique_name}.dlq", 2)
    reasons = sorted(dict(r.headers)["x-heimdall-reason"].decode() for r in dead)
    assert reasons == ["expired", "expired"]  # the late update, and a create past retention
    assert await indexed_sources(opensearch, unique_name) == {}

    async def recorded() -> int | None:
        await opensearch.indices.refresh(index=f"{unique_name}-dropped")
        count = (await opensearch.count(index=f"{unique_name}-dropped"))["count"]
        return count if count == 2 else None

    await eventually(recorded, what="2 dropped records")


class ClaimNoting(Store):
    """The real store, noting the ids it claims in the directory."""

    def __init__(self, settings: WorkerSettings) -> None:
        super().__init__(settings)
        self.claimed: list[str] = []

    async def claim(self, wanted: Mapping[str, str]) -> dict[str, str]:
        self.claimed += wanted
        return await super().claim(wanted)


@dataclasses.dataclass(frozen=True)
class Consumed:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


def consumed(tp: TP, first: int, records: list[SampleRecord]) -> Batch:
    found = [
        Consumed(tp.topic, tp.partition, first + n, r.timestamp_ms, r.key, r.value)
        for n, r in enumerate(records)
    ]
    return Batch({tp: list(found)}, decode_batch(found, 1 << 20))


async def test_a_log_whose_source_left_the_write_cache_is_updated_in_its_home_without_a_claim(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    """The worker remembers the home of what it wrote longer than its source: the update
    reads the log where it is (one _mget), and claims nothing (not even a claim refused
    with 409); the log stays one document, in its home."""
    settings = worker_settings(services.kafka_bootstrap, services.opensearch_url, unique_name)
    store = ClaimNoting(settings)
    tp = TP(unique_name, 0)
    cache = WriteCache(1 << 20)
    router = Router(store, partition_days=1, retention_days=30)
    writer = BatchWriter(store, cache, Metrics(), lambda: {tp}, router)
    started = datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC)
    now = datetime.now(UTC)
    first = [create("cached", started), create("evicted", started)]
    second = [finish("cached", now), finish("evicted", now), create("new", now)]
    try:
        await store.ensure_index(shards=1, replicas=0, refresh_interval="1s")
        assert await writer.write(consumed(tp, 0, first)) == {}
        cache.discard("evicted")  # out of the cache's budget, or a 409 on a later write
        assert cache.get("evicted") is None
        assert await writer.write(consumed(tp, 2, second)) == {}
        assert store.claimed == ["cached", "evicted", "new"]
        assert await where(opensearch, unique_name) == {
            "cached": partition(unique_name, DAY),
            "evicted": partition(unique_name, DAY),
            "new": partition(unique_name, now.date()),
        }
        assert await indexed_sources(opensearch, unique_name) == expected_sources(first + second)
    finally:
        await store.close()
