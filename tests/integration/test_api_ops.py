"""Dropped events and freshness (worker -> side indices -> API), DELETE /api/logs and
GET /api/logs/{id}/similar, against real Kafka and OpenSearch."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from litestar.testing import AsyncTestClient
from opensearchpy import AsyncOpenSearch

from api.app import create_app
from api.freshness import CONSUMER_LAG, INDEXED_THROUGH
from api.parsing import parse_time
from api.settings import ApiSettings
from ingest.decode import INVALID, MISSING_ID, UNDECODABLE
from ingest.samples import SampleRecord
from ingest.worker import Worker
from shared.opensearch import make_client
from shared.ops_index import audit_index, dropped_index
from shared.settings import Secret
from tests.conftest import Services
from tests.support.dashboard_seed import make_records, seeded
from tests.support.ingest import (
    committed_offsets,
    create_topics,
    eventually,
    expected_sources,
    produce_located,
    running,
    wait_for_index,
    worker_settings,
)

pytestmark = pytest.mark.timeout(300)
_ENCODER = msgspec.json.Encoder()
#: Kafka record times of the bad records: two hours apart.
BAD_TS = (1_772_323_200_000, 1_772_323_260_000, 1_772_330_400_000, 1_772_330_460_000)
BAD: list[tuple[str, bytes | None]] = [
    (UNDECODABLE, b'{"id": "x1", "status": "succ'),
    (INVALID, b'{"id": "x2", "latency": "fast"}'),
    (MISSING_ID, b'{"status": "success"}'),
    (UNDECODABLE, None),
]


async def _dropped(client: AsyncTestClient[Any], **params: str) -> dict[str, Any]:
    response = await client.get("/api/logs/dropped", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _count(opensearch: AsyncOpenSearch, index: str) -> int:
    await opensearch.indices.refresh(index=index)
    return int((await opensearch.count(index=index))["count"])


async def test_dead_letters_and_progress_survive_restarts_and_redelivery(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    bootstrap = services.kafka_bootstrap
    good = make_records(30, seed=5)
    expected = expected_sources(good)
    await create_topics(bootstrap, unique_name, f"{unique_name}.dlq")
    settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=unique_name)
    try:
        items: list[tuple[bytes | None, bytes | None, int]] = [
            (r.key, r.value, r.timestamp_ms) for r in good
        ]
        items += [(b"bad", value, ts) for (_, value), ts in zip(BAD, BAD_TS, strict=True)]
        located = await produce_located(bootstrap, unique_name, items)
        ends: dict[int, int] = {}
        for partition, offset in located:
            ends[partition] = max(ends.get(partition, 0), offset + 1)
        group = f"{unique_name}-group"
        async with running(
            Worker(worker_settings(bootstrap, services.opensearch_url, unique_name))
        ):
            await wait_for_index(opensearch, unique_name, expected)

            async def all_recorded() -> bool:
                return await _count(opensearch, dropped_index(unique_name)) == len(BAD)

            await eventually(all_recorded, what="dropped records")
            await eventually(
                lambda: _committed_to_end(bootstrap, group, ends), what="commits to the end"
            )
        async with AsyncTestClient(create_app(settings)) as client:
            body = await _dropped(client)
            assert body["dropped_requests"] == len(BAD)
            assert body["by_reason"] == [
                {"reason": INVALID, "count": 1},
                {"reason": MISSING_ID, "count": 1},
                {"reason": UNDECODABLE, "count": 2},
            ]
            assert sum(b["count"] for b in body["buckets"]) == len(BAD)
            assert body["bucket_size_seconds"] == 3600
            window = await _dropped(
                client, start_time="2026-03-01T00:00:00Z", end_time="2026-03-01T01:59:59Z"
            )
            assert window["dropped_requests"] == 2
            assert window["bucket_size_seconds"] == 60
            assert len(window["buckets"]) == 120  # every minute of the window, empty ones too
            assert sum(b["count"] for b in window["buckets"]) == 2
            assert window["buckets"][0] == {
                "timestamp": "2026-03-01T00:00:00.000000000Z",
                "count": 1,
                "by_reason": [{"reason": UNDECODABLE, "count": 1}],
            }

            # Freshness: the worker's last progress write trails its last commit.
            newest = max(parse_time("t", d["timestamp"]) for d in expected.values())

            async def caught_up() -> dict[str, Any] | None:
                fresh: dict[str, Any] = (await client.get("/api/logs/freshness")).json()
                return fresh if fresh["consumer_lag"] == 0 else None

            fresh = await eventually(caught_up, what="progress with lag 0")
            assert parse_time("t", fresh["indexed_through"]) == newest
            assert {p["partition"]: p["committed_offset"] for p in fresh["partitions"]} == ends
            response = await client.get("/api/logs", params={"limit": "1"})
            assert response.headers[CONSUMER_LAG] == "0"
            assert response.headers[INDEXED_THROUGH] == fresh["indexed_through"]

            # Restart (same group): nothing to redo, same counts.
            async with running(
                Worker(worker_settings(bootstrap, services.opensearch_url, unique_name))
            ):
                assert (await _dropped(client))["dropped_requests"] == len(BAD)
            # Redelivery of everything (a new group re-reads the topic, as after a crash
            # before a commit): the dead letters are sent again, but never counted twice.
            regroup = f"{unique_name}-again"
            redo = worker_settings(
                bootstrap, services.opensearch_url, unique_name, consumer_group=regroup
            )
            async with running(Worker(redo)):
                await eventually(
                    lambda: _committed_to_end(bootstrap, regroup, ends), what="re-read"
                )
            assert await _count(opensearch, dropped_index(unique_name)) == len(BAD)
            assert (await _dropped(client))["dropped_requests"] == len(BAD)
            fresh = (await client.get("/api/logs/freshness")).json()
            assert parse_time("t", fresh["indexed_through"]) == newest  # never moves back
    finally:
        await _drop_topics(bootstrap, unique_name, f"{unique_name}.dlq")
        await opensearch.indices.delete(index=f"{unique_name}-*", ignore_unavailable=True)


async def _committed_to_end(bootstrap: str, group: str, ends: dict[int, int]) -> bool:
    committed = await committed_offsets(bootstrap, group)
    return all(committed.get(p, 0) >= end for p, end in ends.items())


async def _drop_topics(bootstrap: str, *topics: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(topics))
    finally:
        await admin.close()


# -- DELETE and similar: one seeding --------------------------------------------------------

TEXTS = {
    "sim-a": "the quick brown fox jumps over the lazy dog near the quiet riverbank at dawn",
    "sim-b": "a quick brown fox jumped over the lazy dog by the quiet riverbank at dawn",
    "sim-c": "quarterly invoice totals for the finance department are overdue again",
    "ops/similar": "kubernetes pod restart loop after the configmap rollout",
}


def _text_records() -> list[SampleRecord]:
    out: list[SampleRecord] = []
    for i, (log_id, text) in enumerate(TEXTS.items()):
        payload = {
            "id": log_id,
            "status": "success",
            "timestamp": f"2026-03-02T00:00:0{i}Z",
            "provider": "openai",
            "model": "gpt-4o",
            "input_history": [{"role": "user", "content": text}],
        }
        out.append(SampleRecord(log_id.encode(), _ENCODER.encode(payload), 1_772_409_600_000))
    return out


class Seeded:
    def __init__(
        self,
        client: AsyncTestClient[Any],
        docs: dict[str, dict[str, Any]],
        alias: str,
        opensearch: AsyncOpenSearch,
        url: str,
    ) -> None:
        self.url = url
        self.client = client
        self.docs = docs
        self.alias = alias
        self.opensearch = opensearch


@pytest.fixture(scope="module")
async def ops_seeded(services: Services) -> AsyncIterator[Seeded]:
    name = f"t-ops-{random.getrandbits(40):010x}"
    settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=name)
    client = make_client(settings)
    try:
        records = [*make_records(200, seed=21), *_text_records()]
        async with (
            seeded(
                services.kafka_bootstrap, services.opensearch_url, client, name, records
            ) as docs,
            AsyncTestClient(create_app(settings)) as api,
        ):
            yield Seeded(api, docs, name, client, services.opensearch_url)
    finally:
        await client.close()


async def test_similar_ranks_the_near_duplicate_first(ops_seeded: Seeded) -> None:
    client = ops_seeded.client
    response = await client.get("/api/logs/sim-a/similar")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "sim-a"
    ids = [log["id"] for log in body["logs"]]
    assert ids[0] == "sim-b"
    assert "sim-a" not in ids
    assert "input_history" not in body["logs"][0]  # the list's item shape
    assert body["count"] == len(ids) <= 10
    # The usual filters apply.
    filtered = await client.get("/api/logs/sim-a/similar", params={"models": "claude-sonnet-4"})
    assert all(log["model"] == "claude-sonnet-4" for log in filtered.json()["logs"])
    assert (await client.get("/api/logs/sim-a/similar", params={"limit": "101"})).status_code == 400
    assert (await client.get("/api/logs/nope/similar")).status_code == 404


async def test_similar_route_leaves_ids_ending_in_similar_reachable(ops_seeded: Seeded) -> None:
    client = ops_seeded.client
    one = await client.get("/api/logs/ops%2Fsimilar")
    assert one.status_code == 200, one.text
    assert one.json()["id"] == "ops/similar"
    kin = await client.get("/api/logs/ops%2Fsimilar/similar")
    assert kin.status_code == 200, kin.text
    assert kin.json()["id"] == "ops/similar"
    # A literal /similar: similar logs of "ops", which does not exist.
    assert (await client.get("/api/logs/ops/similar")).status_code == 404
    assert (await client.get("/api/logs/sim-c")).json()["id"] == "sim-c"


def _ids_where(docs: dict[str, dict[str, Any]], **match: str) -> set[str]:
    return {i for i, d in docs.items() if all(d.get(k) == v for k, v in match.items())}


async def test_delete_by_filter_ids_dry_run_and_all_with_audit(ops_seeded: Seeded) -> None:
    client, docs, alias = ops_seeded.client, ops_seeded.docs, ops_seeded.alias
    refused = await client.delete("/api/logs")
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "all"
    bad = await client.request("DELETE", "/api/logs", content=b"{nope")
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("Invalid JSON")
    empty = await client.request("DELETE", "/api/logs", content=b'{"ids": []}')
    assert empty.json()["error"]["message"] == "No log IDs provided"

    gemini = _ids_where(docs, provider="gemini")
    dry = await client.delete("/api/logs", params={"providers": "gemini", "dry_run": "true"})
    assert dry.status_code == 200, dry.text
    assert dry.json() == {
        "message": "Dry run: nothing deleted",
        "dry_run": True,
        "matched": len(gemini),
        "deleted": 0,
        "version_conflicts": 0,
    }
    done = await client.delete("/api/logs", params={"providers": "gemini"})
    assert done.json() == {
        "message": "Logs deleted successfully",
        "dry_run": False,
        "matched": len(gemini),
        "deleted": len(gemini),
        "version_conflicts": 0,
    }
    after = await client.get("/api/logs", params={"providers": "gemini"})
    assert after.json()["total"] == 0

    by_ids = await client.request(
        "DELETE", "/api/logs", content=b'{"ids": ["sim-c", "no-such-id"]}'
    )
    assert by_ids.json()["deleted"] == 1
    assert (await client.get("/api/logs/sim-c")).status_code == 404

    # With authentication on, a delete needs credentials, and the audit names the caller.
    secured = ApiSettings(
        opensearch_url=ops_seeded.url, index_alias=alias, api_tokens=Secret("s3cret")
    )
    async with AsyncTestClient(create_app(secured)) as authed:
        ids = b'{"ids": ["sim-b"]}'
        assert (await authed.request("DELETE", "/api/logs", content=ids)).status_code == 401
        response = await authed.request(
            "DELETE", "/api/logs", content=ids, headers={"x-api-key": "s3cret"}
        )
        assert response.json()["deleted"] == 1

    left = len(docs) - len(gemini) - 2
    everything = await client.delete("/api/logs", params={"all": "true"})
    assert everything.json()["deleted"] == left
    assert (await client.get("/api/logs")).json()["total"] == 0

    # The audit trail: four deletes (the dry run is not audited), anonymous, with counts.
    found = await ops_seeded.opensearch.search(
        index=audit_index(alias), body={"size": 10, "sort": [{"at": "asc"}]}
    )
    audits = [hit["_source"] for hit in found["hits"]["hits"]]
    token = "token:" + hashlib.sha256(b"s3cret").hexdigest()[:12]
    assert [(a["state"], a["principal"], a["deleted"]) for a in audits] == [
        ("done", "anonymous", len(gemini)),
        ("done", "anonymous", 1),
        ("done", token, 1),
        ("done", "anonymous", left),
    ]
    assert "gemini" in audits[0]["query"]
    assert audits[1]["ids"] == 2
    assert audits[3]["all"] is True
