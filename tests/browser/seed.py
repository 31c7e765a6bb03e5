"""The logs the browser tests look at: a small varied set within the last hour (conversations
with tool calls, a fallback chain, errors, searchable words) and, two days older, enough tiny
logs (provider ``bulk``) to page past OpenSearch's 10,000 result window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from shared.schema import LogEntry
from tests.integration.api_seed import stored_document

PROVIDERS: Final = ("openai", "anthropic", "gemini")
MODELS: Final = {"openai": "gpt-4o", "anthropic": "claude-3-7", "gemini": "gemini-2"}
TOPICS: Final = (
    "weather in Oslo",
    "refund request for invoice",
    "kafka consumer lag",
    "python typing",
)
BULK: Final = 10_120
CHAIN_ROOT: Final = "chain-root"


def _entry(fields: dict[str, Any]) -> LogEntry:
    wire = {k: v for k, v in fields.items() if v is not None}
    return msgspec.json.decode(msgspec.json.encode(wire), type=LogEntry)


def varied(now: datetime) -> list[dict[str, Any]]:
    """24 logs, one every two minutes back from ``now``, plus a chain of three."""
    docs: list[dict[str, Any]] = []
    for i in range(24):
        provider = PROVIDERS[i % 3]
        status = "error" if i % 6 == 5 else "success"
        topic = TOPICS[i % 4]
        at = now - timedelta(minutes=2 * i + 1)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": f"Question {i} about the {topic}"},
        ]
        output: dict[str, Any] = {"role": "assistant", "content": f"Answer {i} on the {topic}."}
        if i % 4 == 0:
            output = {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": f"call-{i}",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            }
        docs.append(
            stored_document(
                _entry(
                    {
                        "id": f"log-{i:02d}",
                        "provider": provider,
                        "model": MODELS[provider],
                        "status": status,
                        "object": "chat_completion",
                        "timestamp": at.isoformat(),
                        "created_at": at.isoformat(),
                        "latency": 100.0 + 37 * i,
                        "cost": None if status == "error" else round(0.001 * (i + 1), 6),
                        "selected_key_id": f"key-{i % 2}",
                        "selected_key_name": f"Key {i % 2}",
                        "virtual_key_id": "vk-team" if i % 3 == 0 else None,
                        "virtual_key_name": "Team key" if i % 3 == 0 else None,
                        "token_usage": {
                            "prompt_tokens": 10 * (i + 1),
                            "completion_tokens": 5 * (i + 1),
                            "total_tokens": 15 * (i + 1),
                        },
                        "input_history": messages,
                        "output_message": output if status == "success" else None,
                        "error_details": {"error": {"message": f"upstream overloaded {i}"}}
                        if status == "error"
                        else None,
                        "raw_request": f'{{"model": "{MODELS[provider]}", "stream": false}}',
                        "raw_response": f'{{"id": "resp-{i}"}}',
                        "metadata": {"env": "prod" if i % 2 else "staging"},
                    }
                )
            )
        )
    root_at = now - timedelta(minutes=55)
    chain = [
        (CHAIN_ROOT, None, 0, "openai", "error"),
        ("chain-fallback-1", CHAIN_ROOT, 1, "anthropic", "error"),
        ("chain-fallback-2", CHAIN_ROOT, 2, "gemini", "success"),
    ]
    for n, (log_id, parent, index, provider, status) in enumerate(chain):
        at = root_at + timedelta(seconds=n)
        docs.append(
            stored_document(
                _entry(
                    {
                        "id": log_id,
                        "parent_request_id": parent,
                        "fallback_index": index,
                        "provider": provider,
                        "model": MODELS[provider],
                        "status": status,
                        "timestamp": at.isoformat(),
                        "created_at": root_at.isoformat(),
                        "latency": 900.0 + n,
                        "input_history": [{"role": "user", "content": "fallback zebra request"}],
                        "error_details": {"error": {"message": "rate limited"}}
                        if status == "error"
                        else None,
                    }
                )
            )
        )
    return docs


def bulk(now: datetime) -> list[dict[str, Any]]:
    """Tiny logs two days old, one per second: written as stored documents directly."""
    start = now - timedelta(days=2)
    return [
        {
            "id": f"bulk-{i:06d}",
            "provider": "bulk",
            "model": "tiny",
            "status": "success",
            "timestamp": (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000000000Z"),
            "latency": 1.0,
        }
        for i in range(BULK)
    ]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
