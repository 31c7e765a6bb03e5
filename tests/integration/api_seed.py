"""Seeding for the API integration tests: varied logs, their stored documents, a reference
model of ``GET /api/logs`` in plain Python.

``stored_document`` goes through the ingest worker's pure functions (decode, merge,
``to_source``), so the API is tested against the very documents the worker writes.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.helpers import async_bulk

from api.filters import LIST_FILTERS, split_content_search
from api.parsing import parse_time
from ingest.decode import decode_event
from ingest.merge import merge, to_source
from shared.index import METADATA_KV, METADATA_SEPARATOR, SEARCH_TEXT, TOTAL_TOKENS
from shared.schema import LogEntry

VOCABULARY: tuple[str, ...] = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "red",
    "green",
    "blue",
    "amber",
    "weather",
    "invoice",
    "refund",
    "python",
    "kafka",
    "search",
    "latency",
    "timeout",
    "summary",
)
PROVIDERS = ("openai", "anthropic", "bedrock", "gemini", "mistral")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5", "claude-3-7", "titan", "gemini-2", "large", "x")
STATUSES = ("processing", "success", "error", "cancelled")
OBJECTS = ("chat_completion", "chat.completion", "responses", "embedding")
KEYS = tuple(f"key-{i}" for i in range(6))
VIRTUAL_KEYS = tuple(f"vk-{i}" for i in range(4))
RULES = ("rule-a", "rule-b", "rule-c")
ENVS = ("prod", "staging", "dev")
BASE_TIME = datetime(2024, 5, 1, tzinfo=UTC)

_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Matches OpenSearch's standard analyzer on the controlled ASCII vocabulary."""
    return _TOKEN.findall(text.lower())


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(VOCABULARY) for _ in range(n)]
    return " ".join(w.upper() if rng.random() < 0.1 else w for w in words)


def make_logs(count: int, seed: int = 7) -> list[LogEntry]:
    """Varied logs with many ties on every sort key and missing values everywhere."""
    rng = random.Random(seed)
    times = [BASE_TIME + timedelta(seconds=rng.randrange(864_000)) for _ in range(count // 4)]
    times += [t + timedelta(microseconds=rng.randrange(1, 999_999)) for t in times[:50]]
    logs: list[LogEntry] = []
    for i in range(count):
        log_id = f"{rng.getrandbits(32):08x}-{i:05d}"
        status = rng.choice(STATUSES) if rng.random() > 0.02 else None
        prompt = rng.randrange(0, 400) if rng.random() < 0.3 else rng.choice((10, 100, 250))
        completion = rng.randrange(0, 300)
        usage: dict[str, Any] | None = None
        if rng.random() > 0.1:
            usage = {"prompt_tokens": prompt, "completion_tokens": completion}
            if rng.random() > 0.3:
                usage["total_tokens"] = prompt + completion
        cost: float | None = None
        if rng.random() > 0.15:
            cost = 0.0 if rng.random() < 0.08 else rng.choice((0.01, 0.02, round(rng.random(), 4)))
        latency: float | None = None
        if rng.random() > 0.1:
            latency = rng.choice((100.0, 250.0, 1000.0, round(rng.uniform(1, 5000), 1)))
        metadata: dict[str, Any] | None = None
        if rng.random() > 0.2:
            metadata = {"env": rng.choice(ENVS), "n": rng.randrange(1, 4)}
            if rng.random() < 0.5:
                metadata["flag"] = rng.random() < 0.5
            if rng.random() < 0.2:
                metadata["nested"] = {"ignored": True}
        parent = logs[rng.randrange(len(logs))].id if logs and rng.random() < 0.2 else None
        error = None
        if status == "error":
            error = {"error": {"message": _sentence(rng, 3)}, "status_code": 500}
        fields: dict[str, Any] = {
            "id": log_id,
            "provider": rng.choice(PROVIDERS) if rng.random() > 0.05 else None,
            "model": rng.choice(MODELS),
            "status": status,
            "object": rng.choice(OBJECTS),
            "timestamp": rng.choice(times) if rng.random() > 0.02 else None,
            "created_at": BASE_TIME,
            "latency": latency,
            "cost": cost,
            "selected_key_id": rng.choice(KEYS),
            "virtual_key_id": rng.choice(VIRTUAL_KEYS) if rng.random() > 0.3 else None,
            "routing_rule_id": rng.choice(RULES) if rng.random() > 0.5 else None,
            "parent_request_id": parent,
            "fallback_index": 1 if parent else 0,
            "number_of_retries": rng.randrange(3),
            "stream": rng.random() < 0.5,
        }
        raw = {
            "input_history": [{"role": "user", "content": _sentence(rng, rng.randrange(1, 8))}],
            "output_message": {
                "role": "assistant",
                "content": [{"type": "text", "text": _sentence(rng, rng.randrange(0, 6))}],
            },
            "raw_request": json.dumps({"model": fields["model"], "big": "x" * 50}),
            "raw_response": json.dumps({"ok": True}),
            "token_usage": usage,
            "metadata": metadata,
            "error_details": error,
        }
        wire = {k: v for k, v in {**fields, **raw}.items() if v is not None}
        logs.append(msgspec.json.decode(msgspec.json.encode(wire), type=LogEntry))
    return logs


def stored_document(entry: LogEntry) -> dict[str, Any]:
    """The ``_source`` the ingest worker stores for a log whose only event is ``entry``:
    the worker's own decode, merge and document functions, so the API is tested against
    exactly what ingest writes."""
    event = decode_event(msgspec.json.encode(entry), timestamp_ms=0, max_bytes=1 << 24)
    state = merge(None, event)
    source: dict[str, Any] = msgspec.json.decode(to_source(state))
    return source


async def load(client: AsyncOpenSearch, alias: str, docs: Sequence[Mapping[str, Any]]) -> None:
    actions = [{"_index": alias, "_id": d["id"], "_source": dict(d)} for d in docs]
    ok, errors = await async_bulk(client, actions, refresh=True, chunk_size=1000)
    assert not errors, errors
    assert ok == len(docs)


# ---------------------------------------------------------------- reference model


def _phrase_in(needle: list[str], hay: list[str]) -> bool:
    n = len(needle)
    return any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))


def value_filters_match(doc: Mapping[str, Any], params: Mapping[str, str]) -> bool:
    """The ranges, ``missing_cost_only`` and ``metadata_<key>`` filters of ``params``."""
    for name, field in (("latency", "latency"), ("cost", "cost"), ("tokens", TOTAL_TOKENS)):
        value = doc.get(field)
        if f"min_{name}" in params and (value is None or value < float(params[f"min_{name}"])):
            return False
        if f"max_{name}" in params and (value is None or value > float(params[f"max_{name}"])):
            return False
    if params.get("missing_cost_only") == "true":
        cost = doc.get("cost")
        if not (cost is None or cost <= 0) or doc.get("status") == "error":
            return False
    for name, value in params.items():
        if name.startswith("metadata_"):
            pair = f"{name.removeprefix('metadata_')}{METADATA_SEPARATOR}{value}"
            if pair not in doc.get(METADATA_KV, ()):
                return False
    return True


def matches(doc: Mapping[str, Any], params: Mapping[str, str]) -> bool:
    """Plain-Python semantics of every filter parameter (docs/api.md)."""
    for param, field in LIST_FILTERS.items():
        if param in params:
            wanted = {v.strip() for v in params[param].split(",") if v.strip()}
            if wanted and doc.get(field) not in wanted:
                return False
    ts = parse_time("timestamp", doc["timestamp"]) if "timestamp" in doc else None
    if "start_time" in params and (ts is None or ts < parse_time("s", params["start_time"])):
        return False
    if "end_time" in params and (ts is None or ts > parse_time("e", params["end_time"])):
        return False
    if not value_filters_match(doc, params):
        return False
    if params.get("content_search"):
        words, phrases = split_content_search(params["content_search"])
        hay = tokens(doc[SEARCH_TEXT])
        if not set(tokens(words)) <= set(hay):
            return False
        for phrase in phrases:
            needle = tokens(phrase)
            if needle and not _phrase_in(needle, hay):
                return False
    return True


SORT_FIELD = {
    "timestamp": "timestamp",
    "latency": "latency",
    "tokens": TOTAL_TOKENS,
    "cost": "cost",
}


def ordered(
    docs: Sequence[Mapping[str, Any]], params: Mapping[str, str]
) -> list[Mapping[str, Any]]:
    """Sort: missing values last in both directions, then id ascending."""
    field = SORT_FIELD[params.get("sort_by", "timestamp")]
    descending = params.get("order", "desc") == "desc"

    def key(doc: Mapping[str, Any]) -> tuple[int, float, str]:
        value = doc.get(field)
        if value is None:
            return (1, 0.0, doc["id"])
        number = parse_time("t", value) if field == "timestamp" else value
        return (0, -number if descending else number, doc["id"])

    return sorted(docs, key=key)


def reference(docs: Sequence[Mapping[str, Any]], params: Mapping[str, str]) -> dict[str, Any]:
    """ids of the requested page, total and stats, computed without OpenSearch."""
    found = ordered([d for d in docs if matches(d, params)], params)
    offset = int(params.get("offset", 0))
    limit = int(params.get("limit", 50))
    return {
        "ids": [d["id"] for d in found[offset : offset + limit]],
        "total": len(found),
        # The list's stats, as Bifrost's own list fills them: the exact total, the rest 0.
        "stats": {
            "total_requests": len(found),
            "success_rate": 0.0,
            "average_latency": 0.0,
            "total_tokens": 0,
            "total_cost": 0.0,
        },
    }
