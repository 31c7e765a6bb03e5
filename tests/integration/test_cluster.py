"""More than one machine's worth, on an isolated stack of its own (its own Kafka broker and a
3-node OpenSearch cluster, started once for this module and deleted after it; the shared
stack is not touched):

- an OpenSearch node holding a primary SIGKILLed during ingest and queries: with one
  replica nothing is lost, ingest resumes by itself, and the API answers every query either
  whole (200) or with a 503 that says so (never a silently short answer);
- the Kafka broker restarted during ingest: the worker reconnects by itself and every log
  ends exactly as merged.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from opensearchpy import AsyncOpenSearch

from api.app import create_app
from api.settings import ApiSettings
from shared.opensearch import make_client
from shared.settings import OpenSearchSettings
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
from tests.support.processes import reaped, spawn_worker, stop, worker_env
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.timeout(600)

NODES = 3


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[IsolatedStack]:
    isolated = IsolatedStack(nodes=NODES)
    try:
        await isolated.up()
        yield isolated
    finally:
        await isolated.reset()


@pytest.fixture
async def cluster(stack: IsolatedStack) -> AsyncIterator[AsyncOpenSearch]:
    client = make_client(OpenSearchSettings(opensearch_url=stack.opensearch_url(1)))
    try:
        yield client
    finally:
        await client.close()


async def _node_with_a_primary(client: AsyncOpenSearch, stack: IsolatedStack, index: str) -> int:
    """A node other than node 1 (which the worker and the API talk to) that holds a primary
    of ``index``: losing it forces a replica to be promoted. Three primaries and three
    replicas over three nodes, two copies each: node 1 holds at most two primaries."""
    shards = await client.cat.shards(index=index, params={"format": "json"})
    for shard in shards:
        for node in range(2, NODES + 1):
            if shard["prirep"] == "p" and shard["node"] == stack.node_name(node):
                return node
    raise AssertionError(f"no primary of {index} outside node 1: {shards}")


def _name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


class Answers:
    """What the API answered while the cluster lost a node."""

    def __init__(self) -> None:
        self.totals: list[int] = []  # total of each 200
        self.unavailable = 0  # 503s (with Retry-After)
        self.other: list[str] = []


async def _poll_api(
    client: AsyncTestClient[Litestar], answers: Answers, done: asyncio.Event
) -> None:
    while not done.is_set():
        response = await client.get("/api/logs", params={"limit": "5"})
        if response.status_code == 200:
            answers.totals.append(int(response.json()["total"]))
        elif response.status_code == 503 and response.headers.get("retry-after"):
            answers.unavailable += 1
        else:
            answers.other.append(f"{response.status_code} {response.text[:200]}")
        await asyncio.sleep(0.1)


async def test_data_node_killed_during_ingest_and_queries(
    stack: IsolatedStack, cluster: AsyncOpenSearch, tmp_path: Path
) -> None:
    name = _name()
    await create_topics(stack.kafka_bootstrap, name, f"{name}.dlq", partitions=3)
    records = stream_of(900, seed=41)
    first = len(records) // 3
    expected = expected_sources(records)
    # Three primaries and one replica each, spread over the three nodes; the killed node
    # holds a primary.
    settings = worker_settings(
        stack.kafka_bootstrap,
        stack.opensearch_url(1),
        name,
        max_batch=20,
        index_shards=3,
        index_replicas=1,
        opensearch_timeout=5.0,
    )
    api = create_app(ApiSettings(opensearch_url=stack.opensearch_url(1), index_alias=name))
    await produce_records(stack.kafka_bootstrap, name, records[:first])
    answers = Answers()
    done = asyncio.Event()
    async with reaped() as processes, AsyncTestClient(api) as client:
        worker = await spawn_worker(worker_env(settings), tmp_path / "worker.log")
        processes.append(worker)

        async def indexing() -> int | None:
            return await indexed_count(cluster, name) or None

        await eventually(indexing, what="the worker to index something", within=90)

        async def green() -> bool:
            return bool((await cluster.cluster.health(index=f"{name}*"))["status"] == "green")

        await eventually(green, what="every shard and replica assigned", within=60)
        # Every copy of every shard holds (and shows: refreshed) the logs counted here.
        at_kill = await indexed_count(cluster, name)
        killed = await _node_with_a_primary(cluster, stack, f"{name}-v*")
        poller = asyncio.create_task(_poll_api(client, answers, done))
        rest = asyncio.create_task(produce_records(stack.kafka_bootstrap, name, records[first:]))
        try:
            await stack.run("kill", f"opensearch-{killed}")
            killed_at = time.monotonic()
            await rest
            await wait_for_index(cluster, name, expected)
            resumed_after = time.monotonic() - killed_at
            await asyncio.sleep(1)  # a few more answers from the settled cluster
        finally:
            done.set()
            await poller
        assert at_kill < len(expected)
        assert worker.returncode is None  # ingest resumed by itself: the same process

        # The API kept answering: whole answers, or a 503 that says it could not.
        assert not answers.other, answers.other[:3]
        assert answers.totals, "no 200 answer while and after the node was lost"
        # Never an answer short of logs indexed before the node was lost. (Copies refresh on
        # their own schedules, so two answers in a row may differ while ingest runs.)
        assert all(at_kill <= total <= len(expected) for total in answers.totals), answers.totals
        assert answers.totals[-1] == len(expected)
        final = await client.get("/api/logs", params={"limit": "5"})
        assert final.status_code == 200
        assert final.json()["total"] == len(expected)
        assert await stop(worker) == 0

    # The log index and the worker's side indices (dropped events, progress) all kept a copy
    # of every shard: every primary is assigned.
    health = await cluster.cluster.health(index=f"{name}*")
    assert health["number_of_nodes"] == NODES - 1
    assert health["status"] in ("yellow", "green"), health
    committed = await committed_offsets(stack.kafka_bootstrap, settings.consumer_group)
    assert sum(committed.values()) == len(records)
    print(
        f"node lost: {len(answers.totals)} answers 200, {answers.unavailable} 503; "
        f"exact end state {resumed_after:.1f}s after the kill"
    )


async def test_broker_restarted_during_ingest(
    stack: IsolatedStack, cluster: AsyncOpenSearch, tmp_path: Path
) -> None:
    name = _name()
    await create_topics(stack.kafka_bootstrap, name, f"{name}.dlq", partitions=3)
    records = stream_of(1200, seed=42)
    before = len(records) * 2 // 3
    expected = expected_sources(records)
    settings = worker_settings(
        stack.kafka_bootstrap, stack.opensearch_url(1), name, max_batch=10, index_replicas=1
    )
    await produce_records(stack.kafka_bootstrap, name, records[:before])
    async with reaped() as processes:
        worker = await spawn_worker(worker_env(settings), tmp_path / "worker.log")
        processes.append(worker)

        async def indexing() -> int | None:
            return await indexed_count(cluster, name) or None

        await eventually(indexing, what="the worker to index something", within=90)
        # The broker goes away (a clean stop: its log is flushed) with a backlog unread.
        await stack.run("stop", "kafka")
        at_stop = await indexed_count(cluster, name)
        await asyncio.sleep(3)  # the worker meets the missing broker
        await stack.run("start", "kafka", seconds=180)
        await produce_records(stack.kafka_bootstrap, name, records[before:])
        await wait_for_index(cluster, name, expected)
        assert worker.returncode is None  # reconnected by itself
        assert await stop(worker) == 0
    assert at_stop < len(expected)
    committed = await committed_offsets(stack.kafka_bootstrap, settings.consumer_group)
    assert sum(committed.values()) == len(records)
