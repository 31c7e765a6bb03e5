"""Malformed events mixed into a stream: good ones indexed, bad ones dead-lettered."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from opensearchpy import AsyncOpenSearch

from ingest.dead_letters import (
    DETAIL_HEADER,
    OFFSET_HEADER,
    PARTITION_HEADER,
    REASON_HEADER,
    TOPIC_HEADER,
)
from ingest.decode import INVALID, MISSING_ID, REJECTED, TOO_LARGE, UNDECODABLE
from ingest.samples import sample_records
from ingest.worker import Worker
from shared.index import MAPPING_VERSION, mapping
from shared.partitions import key_of_day, partition_index
from tests.conftest import Services
from tests.support.ingest import (
    create_topics,
    eventually,
    expected_sources,
    produce_located,
    read_topic,
    running,
    wait_for_index,
    worker_settings,
)

MAX_EVENT_BYTES = 4000
TS = int(time.time() * 1000)
#: The day of the one partition this test creates with an older, incompatible mapping.
DRIFTED = (datetime.now(UTC) - timedelta(days=3)).date()

BAD: list[tuple[str, bytes | None]] = [
    (UNDECODABLE, b'{"id": "x1", "status": "succ'),
    (UNDECODABLE, b"\xff\xfe not utf-8"),
    (UNDECODABLE, None),  # tombstone
    (INVALID, b'{"id": "x2", "latency": "fast"}'),
    (INVALID, b'{"id": "x3", "status": "done"}'),
    (INVALID, b'{"id": "x4", "input_history": [{"content": 42}]}'),
    # A payload of another type than the contract's (tools: an array of objects).
    (INVALID, b'{"id": "x9", "tools": {"type": "function"}}'),
    (INVALID, b'{"type": "log", "operation": "create", "payload": {"id": 7}}'),
    (MISSING_ID, b'{"status": "success", "latency": 3}'),
    (MISSING_ID, b'{"id": "   ", "status": "success"}'),
    (TOO_LARGE, b'{"id": "x5", "model": "' + b"m" * MAX_EVENT_BYTES + b'"}'),
    # Values the index could not hold are caught by the decoder, before OpenSearch:
    # date_nanos starts in 1970, and number_of_retries is an `integer`.
    (INVALID, b'{"id": "x6", "status": "success", "timestamp": "1960-01-01T00:00:00Z"}'),
    (INVALID, b'{"id": "x7", "number_of_retries": 3000000000}'),
    # Valid for Heimdall, but refused by OpenSearch itself: the partition of its day was
    # created by an older mapping in which routing_rule_name is a number (mapping drift).
    (
        REJECTED,
        b'{"id": "x8", "status": "success", "routing_rule_name": "fast-lane", "timestamp": "'
        + DRIFTED.isoformat().encode()
        + b'T12:00:00Z"}',
    ),
]


async def create_drifted_index(client: AsyncOpenSearch, alias: str) -> None:
    """A partition of the alias as an older, incompatible mapping would have left it."""
    body = mapping()
    body["properties"]["routing_rule_name"] = {"type": "long"}
    index = partition_index(alias, key_of_day(DRIFTED, 1), MAPPING_VERSION)
    await client.indices.create(index=index, body={"mappings": body, "aliases": {alias: {}}})


async def test_bad_events_go_to_the_dead_letter_topic(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    dlq = f"{unique_name}.dlq"
    await create_topics(services.kafka_bootstrap, unique_name, dlq)
    await create_drifted_index(opensearch, unique_name)
    good = [r for log in sample_records(30, seed=3) for r in log]
    # Interleave: a bad event after every few good ones.
    items: list[tuple[bytes | None, bytes | None, int]] = []
    bad_at: list[int] = []
    bad_iter = iter(BAD)
    for n, record in enumerate(good):
        items.append((record.key, record.value, record.timestamp_ms))
        if n % 4 == 2:
            bad = next(bad_iter, None)
            if bad is not None:
                bad_at.append(len(items))
                items.append((f"bad-{len(bad_at)}".encode(), bad[1], TS))
    assert len(bad_at) == len(BAD)
    located = await produce_located(services.kafka_bootstrap, unique_name, items)
    expected = expected_sources(good)

    settings = worker_settings(
        services.kafka_bootstrap,
        services.opensearch_url,
        unique_name,
        max_event_bytes=MAX_EVENT_BYTES,
        max_batch=20,
    )
    async with running(Worker(settings)) as worker:
        await wait_for_index(opensearch, unique_name, expected)
        letters = await read_topic(services.kafka_bootstrap, dlq, len(BAD))

        async def all_committed() -> bool:
            return sum(worker.committed.values()) == len(items)

        await eventually(all_committed, what="every offset committed")

    assert len(letters) == len(BAD)  # each exactly once
    by_origin = {
        (int(dict(r.headers)[PARTITION_HEADER]), int(dict(r.headers)[OFFSET_HEADER])): r
        for r in letters
    }
    for (reason, value), index in zip(BAD, bad_at, strict=True):
        partition, offset = located[index]
        letter = by_origin[(partition, offset)]
        headers = dict(letter.headers)
        assert headers[REASON_HEADER] == reason.encode(), (value, headers)
        assert headers[TOPIC_HEADER] == unique_name.encode()
        assert f"{unique_name}[{partition}]@{offset}".encode() in headers[DETAIL_HEADER]
        assert letter.value == value  # the original bytes
        assert letter.key == items[index][0]
    assert b"at `$.latency`" in dict(by_origin[located[bad_at[3]]].headers)[DETAIL_HEADER]
    rejected = dict(by_origin[located[bad_at[-1]]].headers)[DETAIL_HEADER]
    assert b"mapper_parsing_exception" in rejected
    assert b"routing_rule_name" in rejected

    counts = {reason: sum(1 for r, _ in BAD if r == reason) for reason, _ in BAD}
    for reason, count in counts.items():
        assert worker.metrics.value("heimdall_ingest_dead_lettered_total", reason=reason) == count
    assert worker.metrics.value("heimdall_ingest_consumed_total") == len(items)
