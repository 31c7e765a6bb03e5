"""The lifecycle against OpenSearch: retention deletes whole partitions (the directory keeps
their entries one more period), content retention strips payloads but keeps every field
queries use, idempotently; one runner at a time, by lease."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from opensearchpy import AsyncOpenSearch

from ingest.lease import Lease, LeaseLost
from ingest.lifecycle import CONTENT_FIELDS
from ingest.merge import merge_all, to_source
from ingest.samples import sample_records
from ingest.schedule import run_lifecycle
from ingest.store import Store
from ingest.worker import Worker
from shared.index import MAPPING_VERSION
from shared.ops_index import lifecycle_index
from shared.partitions import directory_index, key_of_day, partition_index
from tests.conftest import Services
from tests.support.ingest import create_topics, events_of, eventually, running, worker_settings

TODAY = datetime.now(UTC).date()
AGES = {"old": 20, "middle": 5, "fresh": 1}


def day_key(age: int) -> str:
    return key_of_day(TODAY - timedelta(days=age), 1)


async def seed(client: AsyncOpenSearch, alias: str, opensearch_url: str) -> dict[str, bytes]:
    """One realistic log per age, in the partition of its day, plus directory entries."""
    settings = worker_settings("unused:9092", opensearch_url, alias)
    store = Store(settings)
    try:
        await store.ensure_index(shards=1, replicas=0, refresh_interval="1s")
    finally:
        await store.close()
    logs = sample_records(3, seed=7, pad=200)
    sources: dict[str, bytes] = {}
    for (name, age), records in zip(AGES.items(), logs, strict=True):
        state = merge_all(None, events_of(records))
        assert state is not None
        source = to_source(state)
        index = partition_index(alias, day_key(age), MAPPING_VERSION)
        await client.index(index=index, id=name, body=source.decode(), params={"refresh": "true"})
        await client.index(index=directory_index(alias), id=name, body={"partition": day_key(age)})
        sources[name] = source
    # A tombstone from long ago: purged once older than twice the retention.
    await client.index(index=directory_index(alias), id="ancient", body={"partition": day_key(45)})
    await client.indices.refresh(index=directory_index(alias))
    return sources


async def test_retention_and_content_retention(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    sources = await seed(opensearch, unique_name, services.opensearch_url)
    settings = worker_settings(
        services.kafka_bootstrap,
        services.opensearch_url,
        unique_name,
        retention_days=10,
        content_retention_days=3,
    )
    report = await run_lifecycle(settings, today=TODAY)
    assert report.ran
    assert report.deleted == [partition_index(unique_name, day_key(20), MAPPING_VERSION)]
    assert report.stripped == [partition_index(unique_name, day_key(5), MAPPING_VERSION)]
    assert report.purged == 1  # "ancient"; "old" stays as a tombstone

    await opensearch.indices.refresh(index=unique_name)
    hits = (await opensearch.search(index=unique_name, body={"size": 10}))["hits"]["hits"]
    stored = {h["_id"]: h["_source"] for h in hits}
    assert set(stored) == {"middle", "fresh"}
    assert stored["fresh"] == msgspec.json.decode(sources["fresh"])  # untouched
    before = msgspec.json.decode(sources["middle"])
    kept = {k: v for k, v in before.items() if k not in CONTENT_FIELDS}
    assert stored["middle"] == kept
    assert any(k in before for k in CONTENT_FIELDS)  # there was content to drop
    for field in ("model", "provider", "status", "cost", "latency", "timestamp", "total_tokens"):
        assert (field in stored["middle"]) == (field in before)
    # Filters and aggregations still see the stripped log; content search no longer does.
    count = await opensearch.count(
        index=unique_name, body={"query": {"term": {"model": before["model"]}}}
    )
    assert count["count"] >= 1
    directory = await opensearch.search(index=directory_index(unique_name), body={"size": 10})
    assert {h["_id"] for h in directory["hits"]["hits"]} == {"old", "middle", "fresh"}

    # Idempotent: a second run finds nothing left to do.
    again = await run_lifecycle(settings, today=TODAY)
    assert (again.ran, again.deleted, again.stripped, again.purged) == (True, [], [], 0)


async def test_stripping_again_after_a_crash_changes_nothing_already_stripped(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    """A run cut short leaves the partition unmarked: the next run strips it again, a no-op
    for the logs already stripped."""
    await seed(opensearch, unique_name, services.opensearch_url)
    index = partition_index(unique_name, day_key(5), MAPPING_VERSION)
    half = await opensearch.get(index=index, id="middle")
    stripped = {k: v for k, v in half["_source"].items() if k not in CONTENT_FIELDS}
    await opensearch.index(index=index, id="middle", body=stripped, params={"refresh": "true"})
    version = (await opensearch.get(index=index, id="middle"))["_seq_no"]
    settings = worker_settings(
        services.kafka_bootstrap, services.opensearch_url, unique_name, content_retention_days=3
    )
    report = await run_lifecycle(settings, today=TODAY)
    assert index in report.stripped
    after = await opensearch.get(index=index, id="middle")
    assert after["_seq_no"] == version  # a no-op, not a rewrite
    assert after["_source"] == stripped


async def test_one_runner_at_a_time(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    now = [1_000_000.0]
    leases = [
        Lease(opensearch, unique_name, seconds=60, holder=f"r{n}", clock=lambda: now[0])
        for n in range(5)
    ]
    won = await asyncio.gather(*(lease.acquire() for lease in leases))
    assert sum(won) == 1  # a race: exactly one wins
    winner = leases[won.index(True)]
    other = next(lease for lease in leases if lease is not winner)
    assert not await other.acquire()
    await winner.renew()
    now[0] += 61  # the winner died without releasing: the lease expires
    assert await other.acquire()
    with pytest.raises(LeaseLost):
        await winner.renew()
    await other.release()
    assert await winner.acquire()  # released: free again
    await winner.release()
    assert (await opensearch.get(index=lifecycle_index(unique_name), id="lease"))["found"]

    # Two whole runs at once: one runs, the other sees the lease held.
    await seed(opensearch, unique_name, services.opensearch_url)
    settings = worker_settings(
        services.kafka_bootstrap, services.opensearch_url, unique_name, retention_days=10
    )
    reports = await asyncio.gather(
        run_lifecycle(settings, today=TODAY, holder="a"),
        run_lifecycle(settings, today=TODAY, holder="b"),
    )
    assert sorted(r.ran for r in reports) == [False, True]


async def test_the_worker_runs_the_lifecycle_on_its_schedule(
    services: Services,
    opensearch: AsyncOpenSearch,
    unique_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed(opensearch, unique_name, services.opensearch_url)
    monkeypatch.setattr("ingest.schedule.FIRST_DELAY", 0.1)
    settings = worker_settings(
        services.kafka_bootstrap,
        services.opensearch_url,
        unique_name,
        retention_days=10,
        lifecycle_interval_seconds=3600,
    )
    await create_topics(services.kafka_bootstrap, unique_name, f"{unique_name}.dlq")
    old = partition_index(unique_name, day_key(20), MAPPING_VERSION)
    async with running(Worker(settings)):

        async def gone() -> bool:
            return not await opensearch.indices.exists(index=old)

        await eventually(gone, what=f"{old} deleted by the worker's schedule")
