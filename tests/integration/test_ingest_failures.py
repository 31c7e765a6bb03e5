"""Failures: the worker SIGKILLed mid-stream and restarted; OpenSearch gone for a while."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import msgspec
from opensearchpy import AsyncOpenSearch

from ingest.decode import decode_event
from ingest.merge import from_source, merge
from ingest.worker import Worker
from tests.conftest import Services
from tests.support.ingest import (
    committed_offsets,
    create_topics,
    eventually,
    expected_sources,
    indexed_count,
    produce_located,
    produce_records,
    running,
    stream_of,
    wait_for_index,
    worker_settings,
)
from tests.support.processes import spawn_worker, worker_env
from tests.support.tcp_proxy import TcpProxy


async def test_worker_killed_mid_stream_loses_and_duplicates_nothing(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str, tmp_path: Path
) -> None:
    await create_topics(services.kafka_bootstrap, unique_name, f"{unique_name}.dlq")
    records = stream_of(300, seed=11)
    half = len(records) // 2
    expected = expected_sources(records)

    settings = worker_settings(
        services.kafka_bootstrap, services.opensearch_url, unique_name, max_batch=20
    )
    env = worker_env(settings)
    log = tmp_path / "worker.log"

    await produce_records(services.kafka_bootstrap, unique_name, records[:half])
    first = await spawn_worker(env, log)
    try:

        async def started_indexing() -> bool:
            return await indexed_count(opensearch, unique_name) > 0

        await eventually(started_indexing, what="the first worker to index something", within=90)
        # Keep the stream flowing while the worker dies.
        rest = asyncio.create_task(
            produce_records(services.kafka_bootstrap, unique_name, records[half:])
        )
        first.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(first.wait(), 30) == -signal.SIGKILL
        await rest
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    indexed_at_kill = await indexed_count(opensearch, unique_name)
    assert 0 < indexed_at_kill < len(expected)

    second = await spawn_worker(env, log)
    try:
        await wait_for_index(opensearch, unique_name, expected)
        assert await indexed_count(opensearch, unique_name) == len(expected)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 60) == 0  # clean drain and exit
    finally:
        if second.returncode is None:
            second.kill()
            await second.wait()
    # Everything was committed before the clean exit.
    committed = await committed_offsets(services.kafka_bootstrap, settings.consumer_group)
    assert sum(committed.values()) == len(records)
    lines = [msgspec.json.decode(line) for line in log.read_bytes().splitlines() if line]
    assert any(entry["msg"] == "stopped" for entry in lines)


async def test_opensearch_outage_pauses_and_loses_nothing(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    await create_topics(services.kafka_bootstrap, unique_name, f"{unique_name}.dlq")
    upstream = urlsplit(services.opensearch_url)
    proxy = await TcpProxy.start(upstream.hostname or "127.0.0.1", upstream.port or 9200)
    before = stream_of(60, seed=21)
    during = stream_of(60, seed=22)
    expected = expected_sources(before + during)
    settings = worker_settings(
        services.kafka_bootstrap,
        proxy.url,
        unique_name,
        max_batch=25,
        opensearch_timeout=2.0,
        backoff_initial_seconds=0.2,
        backoff_max_seconds=1.0,
    )
    try:
        async with running(Worker(settings)) as worker:
            await produce_records(services.kafka_bootstrap, unique_name, before)
            await wait_for_index(opensearch, unique_name, expected_sources(before))

            await proxy.close()
            located = await produce_located(
                services.kafka_bootstrap,
                unique_name,
                [(r.key, r.value, r.timestamp_ms) for r in during],
            )

            async def paused() -> bool:
                return worker.paused

            await eventually(paused, what="the worker to pause")
            assert worker.metrics.value("heimdall_ingest_paused") == 1
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{worker.http_port}/health") as response,
            ):
                assert response.status == 503
                assert "OpenSearch unavailable" in (await response.json())["reason"]

            # Keep OpenSearch away for several seconds while the worker retries...
            retries = worker.metrics.value("heimdall_ingest_retries_total")
            await asyncio.sleep(5)
            assert worker.metrics.value("heimdall_ingest_retries_total") > retries
            assert worker.paused
            # ...and check, directly against OpenSearch, that every committed offset is
            # durably written: each committed event is already merged into its document.
            committed = await committed_offsets(services.kafka_bootstrap, settings.consumer_group)
            assert await indexed_count(opensearch, unique_name) == len(expected_sources(before))
            stored = {
                hit["_id"]: from_source(hit["_id"], msgspec.json.encode(hit["_source"]))
                for hit in (await opensearch.search(index=unique_name, body={"size": 10_000}))[
                    "hits"
                ]["hits"]
            }
            for record, (partition, offset) in zip(during, located, strict=True):
                if offset < committed.get(partition, 0):
                    event = decode_event(
                        record.value, timestamp_ms=record.timestamp_ms, max_bytes=1 << 22
                    )
                    assert event.id in stored, f"{partition}@{offset} committed, not written"
                    assert merge(stored[event.id], event) == stored[event.id]
            assert sum(committed.values()) < len(before) + len(during)

            await proxy.open()
            await wait_for_index(opensearch, unique_name, expected)

            async def resumed() -> bool:
                return not worker.paused

            await eventually(resumed, what="the worker to resume")
            assert worker.metrics.value("heimdall_ingest_paused") == 0
    finally:
        await proxy.close()
    assert sum(worker.committed.values()) == len(before) + len(during)
