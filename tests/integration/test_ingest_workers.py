"""Several workers in one consumer group: three ``python -m ingest`` processes share a
6-partition topic; one is SIGKILLed and another one joins while events keep flowing. Every
log ends exactly as the merge rule says, none lost, none twice, and the group commits every
event once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from opensearchpy import AsyncOpenSearch

from ingest.samples import SampleRecord
from tests.conftest import Services
from tests.support.ingest import (
    committed_offsets,
    create_topics,
    eventually,
    expected_sources,
    indexed_count,
    produce_records,
    stream_of,
    wait_for_index,
    worker_settings,
)
from tests.support.processes import (
    assigned_now,
    kill,
    log_lines,
    reaped,
    spawn_worker,
    stop,
    worker_env,
)

PARTITIONS = 6


async def _trickle(bootstrap: str, topic: str, records: list[SampleRecord], chunks: int) -> None:
    """Produce ``records`` in ``chunks`` parts a little apart: a stream, not one burst."""
    size = -(-len(records) // chunks)
    for start in range(0, len(records), size):
        await produce_records(bootstrap, topic, records[start : start + size])
        await asyncio.sleep(0.3)


async def test_three_workers_one_killed_one_added_end_exact(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str, tmp_path: Path
) -> None:
    await create_topics(
        services.kafka_bootstrap, unique_name, f"{unique_name}.dlq", partitions=PARTITIONS
    )
    records = stream_of(900, seed=31)
    first = len(records) // 4
    expected = expected_sources(records)
    settings = worker_settings(
        services.kafka_bootstrap, services.opensearch_url, unique_name, max_batch=25
    )
    env = worker_env(settings)
    logs = [tmp_path / f"worker-{i}.log" for i in range(4)]

    await produce_records(services.kafka_bootstrap, unique_name, records[:first])
    async with reaped() as processes:
        for log in logs[:3]:
            processes.append(await spawn_worker(env, log))

        async def all_three_assigned() -> bool:
            return all(assigned_now(log) for log in logs[:3])

        await eventually(all_three_assigned, what="3 workers each owning partitions", within=90)

        async def indexing() -> bool:
            return await indexed_count(opensearch, unique_name) > 0

        await eventually(indexing, what="the workers to index something", within=60)
        rest = asyncio.create_task(
            _trickle(services.kafka_bootstrap, unique_name, records[first:], chunks=8)
        )
        try:
            # One worker crashes mid-stream; another one joins the group.
            assert await kill(processes[0]) == -signal.SIGKILL
            assert await indexed_count(opensearch, unique_name) < len(expected)
            processes.append(await spawn_worker(env, logs[3]))
        finally:
            await rest

        await wait_for_index(opensearch, unique_name, expected)
        assert await indexed_count(opensearch, unique_name) == len(expected)

        # The group settles on the three live workers, the added one included, each
        # partition owned by exactly one of them.
        everything = {f"{unique_name}[{p}]" for p in range(PARTITIONS)}

        async def settled() -> bool:
            owned = [set(assigned_now(log)) for log in logs[1:]]
            return (
                all(owned)
                and sum(map(len, owned)) == PARTITIONS
                and set().union(*owned) == everything
            )

        await eventually(settled, what="the 3 live workers to split the 6 partitions")

        for process in processes[1:]:
            assert await stop(process) == 0  # clean drain and exit

    # Each event is committed once by the group: the offsets are the topic's end.
    committed = await committed_offsets(services.kafka_bootstrap, settings.consumer_group)
    assert sum(committed.values()) == len(records)
    for log in logs[1:]:
        assert any(e.get("msg") == "stopped" for e in log_lines(log))
    assert await indexed_count(opensearch, unique_name) == len(expected)
