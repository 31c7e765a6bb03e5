"""A log's lifecycle in every arrival order, in both wire forms, and redelivery."""

from __future__ import annotations

import itertools
import time

import msgspec
import pytest
from opensearchpy import AsyncOpenSearch

from ingest.samples import SampleRecord, sample_records
from ingest.worker import Worker
from tests.conftest import Services
from tests.support.ingest import (
    create_topics,
    eventually,
    expected_sources,
    indexed_sources,
    produce_records,
    running,
    wait_for_index,
    worker_settings,
)

# Record times must be recent: Kafka's retention deletes records older than 7 days.
T0 = int(time.time() * 1000) - 3_600_000
STAGES = ("create", "finish", "correction")


def lifecycle(log_id: str, envelope: bool) -> dict[str, SampleRecord]:
    create = {
        "id": log_id,
        "status": "processing",
        "provider": "openai",
        "model": "gpt-4o",
        "object": "chat_completion",
        "timestamp": "2025-06-15T12:00:00.123456Z",
        "created_at": "2025-06-15T12:00:00.123456Z",
        "input_history": [{"role": "user", "content": "ping"}],
        "metadata": {"team": "search", "tier": 2},
        "latency": 0,
    }
    finish = {
        "id": log_id,
        "status": "success",
        "latency": 812.5,
        "cost": 0.5,
        "token_usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        "output_message": {"role": "assistant", "content": "pong"},
    }
    correction = {
        "id": log_id,
        "cost": 0.25,
        "token_usage": {"prompt_tokens": 10, "completion_tokens": 6, "total_tokens": 16},
    }

    def wire(payload: dict[str, object], op: str, ts: int) -> SampleRecord:
        body = {"type": "log", "operation": op, "payload": payload} if envelope else payload
        return SampleRecord(log_id.encode(), msgspec.json.encode(body), ts)

    return {
        "create": wire(create, "create", T0),
        "finish": wire(finish, "update", T0 + 812),
        "correction": wire(correction, "update", T0 + 60_000),
    }


def all_orders(prefix: str) -> list[SampleRecord]:
    records: list[SampleRecord] = []
    for n, (order, envelope) in enumerate(
        itertools.product(itertools.permutations(STAGES), (True, False))
    ):
        events = lifecycle(f"{prefix}-{n}-{'env' if envelope else 'bare'}", envelope)
        records.extend(events[stage] for stage in order)
    return records


@pytest.mark.parametrize("max_batch", [1, 500])
async def test_every_order_and_form_gives_the_same_log(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str, max_batch: int
) -> None:
    # max_batch=1 merges every event into the stored document (read, guarded write);
    # 500 merges a log's events inside one batch.
    await create_topics(services.kafka_bootstrap, unique_name, f"{unique_name}.dlq")
    records = all_orders(unique_name)
    assert len(records) == 6 * 2 * 3
    await produce_records(services.kafka_bootstrap, unique_name, records)
    expected = expected_sources(records)
    assert len(expected) == 12

    settings = worker_settings(
        services.kafka_bootstrap, services.opensearch_url, unique_name, max_batch=max_batch
    )
    async with running(Worker(settings)) as worker:
        found = await wait_for_index(opensearch, unique_name, expected)

    for doc in found.values():
        assert doc["status"] == "success"
        assert doc["cost"] == 0.25  # the correction beats the finish
        assert doc["total_tokens"] == 16
        assert doc["latency"] == 812.5  # the finish beats the create's placeholder
        assert doc["timestamp"] == "2025-06-15T12:00:00.123456Z"
        assert doc["search_text"] == "ping\npong"
    # Whatever the order and the form, the stored log is the same (up to its id and the
    # version digests, which hash the record bytes).
    shapes = {
        msgspec.json.encode({k: v for k, v in doc.items() if k not in ("id", "merge_versions")})
        for doc in found.values()
    }
    assert len(shapes) == 1
    assert worker.metrics.value("heimdall_ingest_consumed_total") == len(records)
    assert worker.metrics.value("heimdall_ingest_dead_lettered_total", reason="invalid") == 0


async def test_redelivery_changes_nothing(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    await create_topics(services.kafka_bootstrap, unique_name, f"{unique_name}.dlq")
    logs = sample_records(40, seed=7)
    records = [r for log in logs for r in log]
    # Every event twice: the producer-side duplicate of an at-least-once pipeline.
    await produce_records(services.kafka_bootstrap, unique_name, records + records)
    expected = expected_sources(records)

    first = worker_settings(services.kafka_bootstrap, services.opensearch_url, unique_name)
    async with running(Worker(first)):
        await wait_for_index(opensearch, unique_name, expected)
    versions = await _seq_nos(opensearch, unique_name)

    # A second group replays the whole topic: every event is a redelivery.
    replay = worker_settings(
        services.kafka_bootstrap,
        services.opensearch_url,
        unique_name,
        consumer_group=f"{unique_name}-replay",
        max_batch=7,
    )
    async with running(Worker(replay)) as worker:
        total = 2 * len(records)

        async def replayed() -> bool:
            return (
                worker.metrics.value("heimdall_ingest_consumed_total") >= total
                and sum(worker.committed.values()) >= total
            )

        await eventually(replayed, what="the replay to commit everything")
    assert worker.metrics.value("heimdall_ingest_indexed_total") == 0
    assert worker.metrics.value("heimdall_ingest_skipped_unchanged_total") > 0
    assert await _seq_nos(opensearch, unique_name) == versions
    assert await indexed_sources(opensearch, unique_name) == expected


async def _seq_nos(client: AsyncOpenSearch, alias: str) -> dict[str, int]:
    await client.indices.refresh(index=alias)
    response = await client.search(
        index=alias,
        body={"query": {"match_all": {}}, "size": 10_000, "seq_no_primary_term": True},
    )
    return {hit["_id"]: hit["_seq_no"] for hit in response["hits"]["hits"]}
