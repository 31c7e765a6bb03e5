"""``python -m ingest migrate`` while the worker ingests: every log reaches the next mapping
version exactly as its events merge (none lost, none twice), the read alias swaps at once,
and a migration cut short resumes from its saved position."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgspec
import pytest
from opensearchpy import AsyncOpenSearch

from ingest.migrate import Migration, State
from ingest.samples import SampleRecord, sample_records
from ingest.store import Store
from ingest.worker import Worker
from shared.index import ensure_index, index_settings
from shared.opensearch import make_client
from shared.settings import OpenSearchSettings
from tests.conftest import Services
from tests.support.ingest import (
    create_topics,
    expected_sources,
    produce_records,
    running,
    wait_for_index,
    worker_settings,
)


class Crash(Exception):
    pass


def corrections(records: list[SampleRecord], seed: int) -> list[SampleRecord]:
    """A later cost fix for some of the logs of ``records`` (a status-less update)."""
    rng = random.Random(seed)
    ids = sorted({r.key for r in records})
    out = []
    for key in rng.sample(ids, len(ids) // 3):
        last = max(r.timestamp_ms for r in records if r.key == key)
        body = {"id": key.decode(), "cost": round(rng.random(), 6)}
        out.append(SampleRecord(key, msgspec.json.encode(body), last + 120_000))
    return out


def migration(store: Store, client: AsyncOpenSearch, **options: Any) -> Migration:
    return Migration(
        store,
        client,
        partition_days=1,
        grace_seconds=2.0,
        settings=index_settings(),
        page=25,
        **options,
    )


async def trickle(bootstrap: str, topic: str, records: list[SampleRecord]) -> None:
    """Produce ``records`` in small bursts, so that ingest runs through the migration."""
    for start in range(0, len(records), 20):
        await produce_records(bootstrap, topic, records[start : start + 20])
        await asyncio.sleep(0.1)


async def indices_of(client: AsyncOpenSearch, alias: str) -> set[str]:
    await client.indices.refresh(index=alias)
    hits = await client.search(index=alias, body={"size": 10_000, "_source": False})
    return {h["_index"] for h in hits["hits"]["hits"]}


@pytest.mark.parametrize("crash_after_pages", [None, 3])
async def test_migrate_while_ingesting(
    services: Services,
    opensearch: AsyncOpenSearch,
    unique_name: str,
    crash_after_pages: int | None,
) -> None:
    await create_topics(services.kafka_bootstrap, unique_name, f"{unique_name}.dlq")
    before = [r for log in sample_records(60, seed=11) for r in log]
    during = [r for log in sample_records(60, seed=12) for r in log]
    during += corrections(before, seed=13)
    await produce_records(services.kafka_bootstrap, unique_name, before)
    settings = worker_settings(
        services.kafka_bootstrap, services.opensearch_url, unique_name, write_cache_bytes=0
    )
    client = make_client(OpenSearchSettings(opensearch_url=services.opensearch_url))
    store = Store(settings)
    try:
        async with running(Worker(settings)) as worker:
            await wait_for_index(opensearch, unique_name, expected_sources(before))
            assert all("-v1-" in i for i in await indices_of(opensearch, unique_name))
            producing = asyncio.create_task(trickle(services.kafka_bootstrap, unique_name, during))
            if crash_after_pages is not None:
                pages = []

                def crash(state: State, total: int) -> None:
                    pages.append(state.copied)
                    if len(pages) == crash_after_pages:
                        raise Crash

                with pytest.raises(Crash):
                    await migration(store, client, on_page=crash).run()
                saved = await client.get(index=f"{unique_name}-lifecycle", id="migration")
                assert saved["_source"]["phase"] == "copy"
                assert saved["_source"]["after"] is not None  # the position to resume from
            state = await migration(store, client).run()
            await producing
            assert (state.source, state.target, state.phase) == (1, 2, "done")
            # After the swap, the worker writes the new version (the alias reads only it).
            after = corrections(during, seed=14)
            await produce_records(services.kafka_bootstrap, unique_name, after)
            found = await wait_for_index(
                opensearch, unique_name, expected_sources([*before, *during, *after])
            )
            assert worker.store.version == 2
        assert len(found) == len(expected_sources([*before, *during]))
        held = await indices_of(opensearch, unique_name)
        assert held
        assert all("-v2-" in i for i in held), held
        aliases = await client.indices.get_alias(name=unique_name)
        assert all("-v2" in i for i in aliases)
    finally:
        await store.close()
        await client.close()


async def test_logs_of_the_single_index_of_older_releases_are_updated_then_migrated(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    """An older release stored every log in ``<alias>-v1``: the worker keeps updating them
    there; ``migrate`` moves them into partitions with directory entries, where their later
    events find them."""
    await create_topics(services.kafka_bootstrap, unique_name, f"{unique_name}.dlq")
    records = [r for log in sample_records(30, seed=21) for r in log]
    firsts: dict[bytes, SampleRecord] = {}
    for record in records:
        firsts.setdefault(record.key, record)
    legacy = list(firsts.values())
    rest = [r for r in records if firsts[r.key] is not r]
    await ensure_index(opensearch, unique_name)
    for doc_id, source in expected_sources(legacy).items():
        await opensearch.index(index=unique_name, id=doc_id, body=source)
    await opensearch.indices.refresh(index=unique_name)

    settings = worker_settings(
        services.kafka_bootstrap, services.opensearch_url, unique_name, write_cache_bytes=0
    )
    client = make_client(OpenSearchSettings(opensearch_url=services.opensearch_url))
    store = Store(settings)
    try:
        await produce_records(services.kafka_bootstrap, unique_name, rest)
        async with running(Worker(settings)):
            await wait_for_index(opensearch, unique_name, expected_sources(records))
            assert await indices_of(opensearch, unique_name) == {f"{unique_name}-v1"}
            state = await migration(store, client).run()
            assert state.phase == "done"
            later = corrections(records, seed=22)
            await produce_records(services.kafka_bootstrap, unique_name, later)
            await wait_for_index(opensearch, unique_name, expected_sources([*records, *later]))
        held = await indices_of(opensearch, unique_name)
        assert all("-v2-" in i for i in held), held
        await opensearch.indices.refresh(index=f"{unique_name}-ids")
        entries = await opensearch.count(index=f"{unique_name}-ids")
        assert entries["count"] == len(firsts)  # every log has its home now
    finally:
        await store.close()
        await client.close()
