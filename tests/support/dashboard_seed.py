"""Seeded logs for the dashboard endpoints' differential tests, sent through Kafka and the
real worker as a gateway would send them.

:func:`make_records` builds varied Bifrost events (a ``processing`` create and usually a
finish per log; some logs stay ``processing``) over a known window, with everything the
aggregations read: statuses incl. ``cancelled``, missing and zero cost, missing latency,
token usage with cached reads, cache hits, fallback chains (``parent_request_id``,
``fallback_index``), teams/customers/business units (some logs attributed to several),
users, virtual keys, aliases, stop reasons, apps and user agents, metadata.

:func:`seeded` produces them to a fresh topic, runs a worker until the index holds exactly
the merged documents, yields those documents (the reference data, decoded ``_source``) and
removes the topic and index afterwards.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from aiokafka.admin import AIOKafkaAdminClient
from opensearchpy import AsyncOpenSearch

from ingest.samples import SampleRecord
from ingest.worker import Worker
from tests.support.ingest import (
    create_topics,
    expected_sources,
    produce_records,
    running,
    wait_for_index,
    worker_settings,
)

#: The seeded window: every ``timestamp`` is in ``[BASE_TIME, BASE_TIME + SPAN)``.
BASE_TIME = datetime(2026, 3, 1, tzinfo=UTC)
SPAN = timedelta(days=3)

PROVIDERS = ("openai", "anthropic", "bedrock", "gemini")
MODELS = {
    "openai": ("gpt-4o", "gpt-4o-mini"),
    "anthropic": ("claude-sonnet-4", "claude-3-5-haiku"),
    "bedrock": ("llama-3-70b",),
    "gemini": ("gemini-2.0-flash",),
}
TEAMS = (("t-search", "Search"), ("t-billing", "Billing"), ("t-support", "Support"))
CUSTOMERS = (("c-acme", "Acme"), ("c-globex", "Globex"))
UNITS = (("bu-eng", "Engineering"), ("bu-ops", "Operations"))
USERS = (("u-ada", "Ada"), ("u-bob", "Bob"), ("u-cy", "Cy"))
VIRTUAL_KEYS = (("vk-1", "prod"), ("vk-2", "staging"))
STOP_REASONS = ("stop", "length", "tool_calls", "content_filter")
APPS = ("checkout", "helpdesk")
USER_AGENTS = ("curl/8.5", "openai-python/1.54", "bifrost-ui")
WORDS = ("refund", "invoice", "weather", "kafka", "latency", "summary", "capital", "python")
_ENCODER = msgspec.json.Encoder()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _pick(rng: random.Random, pairs: tuple[tuple[str, str], ...], p: float) -> tuple[str, str]:
    return rng.choice(pairs) if rng.random() < p else ("", "")


def _log(rng: random.Random, i: int, roots: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(create fields, finish fields) of one log; an empty finish leaves it processing."""
    log_id = f"log-{i:05d}"
    moment = BASE_TIME + timedelta(microseconds=rng.randrange(int(SPAN.total_seconds() * 1e6)))
    if rng.random() < 0.03:  # exactly on an hour edge
        moment = moment.replace(minute=0, second=0, microsecond=0)
    provider = rng.choice(PROVIDERS)
    parent = rng.choice(roots) if roots and rng.random() < 0.15 else None
    create: dict[str, Any] = {
        "id": log_id,
        "status": "processing",
        "timestamp": _iso(moment),
        "created_at": _iso(moment),
        "object": "chat_completion",
        "provider": provider,
        "model": rng.choice(MODELS[provider]),
        "fallback_index": 1 if parent else 0,
        "input_history": [
            {"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(6))}
        ],
        "metadata": {"env": rng.choice(("prod", "dev"))},
    }
    if parent:
        create["parent_request_id"] = parent
    else:
        roots.append(log_id)
    for key, pairs, p in (
        ("team", TEAMS, 0.8),
        ("customer", CUSTOMERS, 0.6),
        ("business_unit", UNITS, 0.6),
        ("user", USERS, 0.7),
    ):
        ident, name = _pick(rng, pairs, p)
        if ident:
            create[f"{key}_id"], create[f"{key}_name"] = ident, name
    if rng.random() < 0.1 and "team_id" in create:  # attributed to two teams
        other = rng.choice([t for t in TEAMS if t[0] != create["team_id"]])
        create["team_ids"] = sorted({create["team_id"], other[0]})
        create["team_names"] = [dict(TEAMS)[t] for t in create["team_ids"]]  # positional
    if rng.random() < 0.3:
        create["alias"] = "fast"
        create["canonical_model_name"] = create["model"].upper()
    if rng.random() < 0.7:
        create["app"] = rng.choice(APPS)
        create["user_agent"] = rng.choice(USER_AGENTS)
    vk, vk_name = _pick(rng, VIRTUAL_KEYS, 0.7)
    if rng.random() < 0.08:
        return create, {}
    status = rng.choices(("success", "error", "cancelled"), (0.8, 0.15, 0.05))[0]
    prompt, completion = rng.randrange(5, 900), rng.randrange(0, 400)
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if rng.random() < 0.3:
        usage["prompt_tokens_details"] = {"cached_read_tokens": rng.randrange(0, prompt + 1)}
    finish: dict[str, Any] = {
        "id": log_id,
        "status": status,
        "token_usage": usage,
        "selected_key_id": f"key-{rng.randrange(4)}",
        "selected_key_name": "primary",
        "stop_reason": rng.choice(STOP_REASONS),
        "output_message": {"role": "assistant", "content": rng.choice(WORDS)},
    }
    if rng.random() < 0.9:
        finish["latency"] = round(rng.uniform(20, 4000), 3)
    if rng.random() < 0.85:
        finish["cost"] = 0.0 if rng.random() < 0.05 else round(rng.uniform(0.0001, 0.05), 6)
    if vk:
        finish["virtual_key_id"], finish["virtual_key_name"] = vk, vk_name
    if rng.random() < 0.1:
        finish["cache_debug"] = {"cache_hit": True, "hit_type": rng.choice(("direct", "semantic"))}
    if status == "error":
        finish["error_details"] = {"error": {"message": "upstream failed"}, "status_code": 500}
    return create, finish


def make_records(count: int, seed: int = 11) -> list[SampleRecord]:
    """The events of ``count`` logs, in a shuffled order (the merge makes order irrelevant)."""
    rng = random.Random(seed)
    roots: list[str] = []
    records: list[SampleRecord] = []
    base_ms = int(BASE_TIME.timestamp() * 1000)
    for i in range(count):
        create, finish = _log(rng, i, roots)
        key = create["id"].encode()
        envelope = {"type": "log", "operation": "create", "payload": create}
        records.append(SampleRecord(key, _ENCODER.encode(envelope), base_ms + 2 * i))
        if finish:
            update = {"type": "log", "operation": "update", "payload": finish}
            records.append(SampleRecord(key, _ENCODER.encode(update), base_ms + 2 * i + 1))
    rng.shuffle(records)
    return records


@contextlib.asynccontextmanager
async def seeded(
    bootstrap: str,
    opensearch_url: str,
    client: AsyncOpenSearch,
    name: str,
    records: list[SampleRecord],
) -> AsyncIterator[dict[str, dict[str, Any]]]:
    """Send ``records`` to a fresh topic ``name``, ingest them with a real worker into the
    alias ``name``, and yield the merged documents (id -> decoded ``_source``)."""
    expected = expected_sources(records)
    await create_topics(bootstrap, name, f"{name}.dlq")
    try:
        await produce_records(bootstrap, name, records)
        settings = worker_settings(bootstrap, opensearch_url, name, max_batch=500)
        async with running(Worker(settings)):
            await wait_for_index(client, name, expected)
        await client.indices.refresh(index=name)
        yield expected
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([name, f"{name}.dlq"])
        finally:
            await admin.close()
        await client.indices.delete(index=f"{name}-*", ignore_unavailable=True)
