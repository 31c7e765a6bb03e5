"""Redaction at ingest, end to end: events with secrets produced to Kafka, the worker redacts
and indexes them, and neither content search nor ``GET /api/logs/{id}`` can reveal a secret;
in hash mode, the token of a value finds every log that held it. The backfill redacts logs
stored in clear before."""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from opensearchpy import AsyncOpenSearch

from api.app import create_app
from api.settings import ApiSettings
from ingest.backfill import backfill
from ingest.decode import decode_event
from ingest.feeds import redactor_of
from ingest.merge import merge, to_source
from ingest.samples import SampleRecord
from ingest.store import Store
from ingest.worker import Worker
from shared.index import ensure_index
from shared.settings import Secret
from tests.conftest import Services
from tests.support.ingest import (
    create_topics,
    eventually,
    produce_records,
    running,
    worker_settings,
)

KEY = "integration-test-key-0123456789"
EMAIL = "jane.doe@example.com"
OPENAI = "sk-proj-Xa7mQ2kL9pR4tV8wZ1cN5bH3jF6dG0sE2yU4iO7qW9"
CARD = "4539 1488 0343 6467"
PHONE = "+1 415-555-2671"
SECRETS = (EMAIL, OPENAI, CARD, PHONE, "jane.doe", "4539")


def log(log_id: str, email: str) -> dict[str, Any]:
    arguments = json.dumps({"card": CARD, "notify": {"email": email}})
    return {
        "id": log_id,
        "timestamp": "2026-11-21T10:00:00Z",
        "provider": "openai",
        "model": "gpt-4o",
        "status": "success",
        "input_history": [
            {
                "role": "user",
                "content": f"Refund me at {email}, phone {PHONE}; my key is {OPENAI}",
            }
        ],
        "output_message": {
            "role": "assistant",
            "content": f"Done, refund confirmed to {email}.",
            "tool_calls": [{"type": "function", "function": {"name": "r", "arguments": arguments}}],
        },
        "raw_request": {"messages": [{"role": "user", "content": f"key {OPENAI} {email}"}]},
        "raw_response": json.dumps({"choices": [{"message": {"content": email}}]}),
        "metadata": {"contact": email},
    }


@pytest.mark.parametrize("mode", ["mask", "hash"])
async def test_a_redacted_secret_cannot_be_found_nor_read(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str, mode: str
) -> None:
    await create_topics(services.kafka_bootstrap, unique_name)
    settings = worker_settings(
        services.kafka_bootstrap,
        services.opensearch_url,
        unique_name,
        redaction=mode,
        redaction_key=Secret(KEY),
    )
    now = int(time.time() * 1000)
    records = [
        SampleRecord(b"r1", msgspec.json.encode(log("r1", EMAIL)), now),
        SampleRecord(b"r2", msgspec.json.encode(log("r2", EMAIL.upper())), now),
    ]
    api = ApiSettings(opensearch_url=services.opensearch_url, index_alias=unique_name)
    async with AsyncTestClient(create_app(api)) as http, running(Worker(settings)):
        await produce_records(services.kafka_bootstrap, unique_name, records)

        async def both() -> dict[str, Any] | None:
            found: dict[str, Any] = (await http.get("/api/logs")).json()
            return found if found.get("total") == 2 else None

        await eventually(both, what="both logs indexed")
        for log_id in ("r1", "r2"):
            response = await http.get(f"/api/logs/{log_id}")
            assert response.status_code == 200
            for secret in SECRETS:
                assert secret.lower() not in response.text.lower(), (secret, response.text)
            entry = response.json()
            assert entry["redaction"] == mode
            assert entry["model"] == "gpt-4o"
            assert json.loads(entry["raw_response"])["choices"][0]["message"]["content"].startswith(
                "[EMAIL"
            )

        async def search(text: str) -> list[str]:
            response = await http.get("/api/logs", params={"content_search": text})
            assert response.status_code == 200, response.text
            return sorted(item["id"] for item in response.json()["logs"])

        for secret in (EMAIL, '"jane.doe"', OPENAI, "4539", "415-555-2671", "example.com"):
            assert await search(secret) == [], secret
        assert await search("refund confirmed") == ["r1", "r2"]
        counted = await opensearch.count(
            index=unique_name, body={"query": {"term": {"redaction": mode}}}
        )
        assert counted["count"] == 2

        redactor = redactor_of(settings)
        assert redactor is not None
        token = redactor.text.token("EMAIL", EMAIL)
        if mode == "hash":
            # The same address, written in two cases, has one token: it finds both logs.
            assert await search(token.split(":")[1].rstrip("]")) == ["r1", "r2"]
            assert await search(f'"{token}"') == ["r1", "r2"]
        else:
            assert token == "[EMAIL]"
            assert await search("[EMAIL]") == ["r1", "r2"]


async def test_backfill_redacts_logs_stored_in_clear(
    services: Services, opensearch: AsyncOpenSearch, unique_name: str
) -> None:
    index = await ensure_index(opensearch, unique_name)
    event = decode_event(msgspec.json.encode(log("old", EMAIL)), timestamp_ms=1, max_bytes=1 << 20)
    await opensearch.index(index=index, id="old", body=to_source(merge(None, event)), refresh=True)
    settings = worker_settings(
        services.kafka_bootstrap, services.opensearch_url, unique_name, redaction="mask"
    )
    store = Store(settings)
    try:
        first = await backfill(store, redactor=redactor_of(settings))
        await opensearch.indices.refresh(index=index)
        again = await backfill(store, redactor=redactor_of(settings))
    finally:
        await store.close()
    assert (first.rewritten, again.rewritten) == (1, 0)
    source = (await opensearch.get(index=unique_name, id="old"))["_source"]
    assert source["redaction"] == "mask"
    assert EMAIL not in json.dumps(source)
    found = await opensearch.count(
        index=unique_name, body={"query": {"match_phrase": {"search_text": EMAIL}}}
    )
    assert found["count"] == 0
