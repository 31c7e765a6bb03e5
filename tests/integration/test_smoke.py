"""End to end, as a user runs it: one gateway log event produced to Kafka, the worker indexes
it, and the API (a real ``python -m api`` process) returns it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from ingest.samples import SampleRecord
from ingest.worker import Worker
from tests.conftest import Services
from tests.support.api_process import api_process
from tests.support.ingest import (
    create_topics,
    eventually,
    produce_records,
    running,
    worker_settings,
)

EVENT: dict[str, Any] = {
    "type": "log",
    "operation": "create",
    "payload": {
        "id": "smoke-1",
        "timestamp": "2026-11-21T10:00:00.123456Z",
        "provider": "openai",
        "model": "gpt-4o",
        "object": "chat_completion",
        "status": "success",
        "latency": 420.0,
        "cost": 0.0021,
        "token_usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
        "input_history": [{"role": "user", "content": "Is the smoke test green?"}],
        "output_message": {"role": "assistant", "content": "Yes, end to end."},
        "raw_response": '{"id":"chatcmpl-smoke"}',
        # A raw body sent as an object: served as a string, its exact JSON text.
        "raw_request": {"model": "gpt-4o", "messages": []},
        "metadata": {"suite": "smoke"},
    },
}


@pytest.fixture
def api_url(services: Services, unique_name: str) -> Iterator[str]:
    env = {"HEIMDALL_OPENSEARCH_URL": services.opensearch_url, "HEIMDALL_INDEX_ALIAS": unique_name}
    with api_process(env) as url:
        yield url


async def test_event_to_kafka_to_opensearch_to_api(
    services: Services, unique_name: str, api_url: str
) -> None:
    await create_topics(services.kafka_bootstrap, unique_name)
    worker = Worker(worker_settings(services.kafka_bootstrap, services.opensearch_url, unique_name))
    record = SampleRecord(b"smoke-1", msgspec.json.encode(EVENT), int(time.time() * 1000))
    async with httpx.AsyncClient(base_url=api_url, timeout=5) as http, running(worker):
        await produce_records(services.kafka_bootstrap, unique_name, [record])

        async def fetched() -> httpx.Response | None:
            response = await http.get("/api/logs/smoke-1")
            return response if response.status_code == 200 else None

        async def searched() -> dict[str, Any] | None:
            found: dict[str, Any] = (
                await http.get("/api/logs", params={"content_search": "smoke test"})
            ).json()
            return found if found["total"] else None

        response = await eventually(fetched, what="the smoke log served by id")
        logs = await eventually(searched, what="the smoke log found by content search")

    entry = response.json()
    produced = EVENT["payload"]
    # Every field as produced, heavy payloads included; raw bodies as strings (the contract's
    # type), an object there as its exact JSON text.
    assert entry == {**produced, "raw_request": '{"model":"gpt-4o","messages":[]}'}
    assert logs["total"] == 1
    assert [log["id"] for log in logs["logs"]] == ["smoke-1"]
    assert "raw_response" not in logs["logs"][0]  # list items leave heavy payloads out
