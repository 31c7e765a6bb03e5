"""Sample gateway logs, deterministic for a seed (tests, benchmarks and the demo).

Each log is a create (``processing``, inputs, metadata, owners: team, customer, business
unit, user), a finish (``success`` or ``error`` with outputs, usage, cost, keys) and sometimes
a later correction of ``cost``/``token_usage``, in Bifrost's envelope form or bare, with varied
providers, models, metadata and content. Some failed requests fall back to other providers:
their attempts carry ``parent_request_id`` (a session). :func:`iter_logs` streams them;
:func:`sample_records` lists them.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

_ENCODER: Final = msgspec.json.Encoder()

PROVIDERS: Final = {
    "openai": ["gpt-4o", "gpt-4o-mini", "o3-mini"],
    "anthropic": ["claude-sonnet-4", "claude-3-5-haiku"],
    "gemini": ["gemini-2.0-flash", "gemini-1.5-pro"],
    "mistral": ["mistral-large", "codestral"],
    "bedrock": ["llama-3-70b"],
}
OBJECTS: Final = ["chat_completion", "chat_completion", "text_completion", "responses", "embedding"]
QUESTIONS: Final = [
    "How do I rotate an API key without downtime?",
    "Summarise this incident report in three bullet points.",
    "Translate 'the invoice is overdue' into French and German.",
    "Write a haiku about Kafka consumer groups.",
    "What is the capital of Australia?",
    "Explain optimistic concurrency control to a new engineer.",
    "Draft a polite reply declining the meeting.",
    "Which index settings matter for bulk ingest?",
]
ANSWERS: Final = [
    "Create the new key, deploy it alongside the old one, then revoke the old key.",
    "- Root cause: expired certificate\n- Impact: 14 minutes\n- Fix: automated renewal",
    "FR: la facture est en retard. DE: die Rechnung ist überfällig.",
    "Partitions divide / offsets march in order / the group rebalances",
    "Canberra.",
    "Read a version, write only if it is still the same version, otherwise retry.",
    "Thank you for the invitation; unfortunately I cannot attend.",
    "refresh_interval, number_of_replicas during the load, and translog durability.",
]
ERRORS: Final = [
    ("rate_limit_exceeded", 429, "Rate limit reached for requests"),
    ("context_length_exceeded", 400, "This model's maximum context length is 128000 tokens"),
    ("upstream_timeout", 504, "The upstream provider did not answer in time"),
]
TEAMS: Final = ["search", "billing", "support", "platform"]
#: Owners a log is attributed to: (id, name) pairs, as Bifrost's governance fills them.
OWNERS: Final = {
    "team": [("team-search", "Search"), ("team-billing", "Billing"), ("team-support", "Support")],
    "customer": [("cust-acme", "Acme"), ("cust-globex", "Globex")],
    "business_unit": [("bu-eng", "Engineering"), ("bu-ops", "Operations")],
    "user": [("user-ada", "Ada"), ("user-bob", "Bob"), ("user-cy", "Cy")],
}


_VOCABULARY: Final = 20_000
_POOL_BYTES: Final = 1 << 20
_pool: str | None = None


def _word_pool() -> str:
    """1 MiB of text over a 20,000-word vocabulary with Zipf-like word frequencies (built
    once, deterministically); padding is taken from it in slices."""
    global _pool
    if _pool is None:
        rng = random.Random(20_000)
        letters = "etaoinshrdlucmfwypvbgkjqxz"
        vocabulary = [
            "".join(rng.choices(letters, weights=range(26, 0, -1), k=rng.randint(2, 10)))
            for _ in range(_VOCABULARY)
        ]
        weights = list(itertools.accumulate(1 / rank for rank in range(1, _VOCABULARY + 1)))
        words = rng.choices(vocabulary, cum_weights=weights, k=_POOL_BYTES // 6)
        _pool = " ".join(words)[:_POOL_BYTES]
    return _pool


def text_of_size(rng: random.Random, size: int) -> str:
    """About ``size`` bytes of words (a slice of the word pool at a random place)."""
    pool = _word_pool()
    out = []
    while size > 0:
        take = min(size, len(pool) // 2)
        start = rng.randrange(len(pool) - take)
        out.append(pool[start : start + take])
        size -= take
    return " ".join(out)


class SampleRecord(msgspec.Struct, frozen=True):
    key: bytes
    value: bytes
    timestamp_ms: int


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _wrap(payload: dict[str, Any], operation: str, envelope: bool) -> bytes:
    if envelope:
        return _ENCODER.encode({"type": "log", "operation": operation, "payload": payload})
    return _ENCODER.encode(payload)


def sample_log(
    rng: random.Random, *, start: datetime, envelope: bool | None = None, pad: int = 0
) -> list[SampleRecord]:
    """The events of one log, in the order the gateway writes them. ``pad`` adds about that
    many bytes of words, half to the question and half to the answer."""
    log_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    provider = rng.choice(list(PROVIDERS))
    model = rng.choice(PROVIDERS[provider])
    envelope = rng.random() < 0.5 if envelope is None else envelope
    q = rng.randrange(len(QUESTIONS))
    question = QUESTIONS[q] + (" " + text_of_size(rng, pad // 2) if pad else "")
    answer = ANSWERS[q] + (" " + text_of_size(rng, pad - pad // 2) if pad else "")
    created = start
    create: dict[str, Any] = {
        "id": log_id,
        "timestamp": _rfc3339(created),
        "created_at": _rfc3339(created),
        "object": rng.choice(OBJECTS),
        "provider": provider,
        "model": model,
        "status": "processing",
        "stream": rng.random() < 0.3,
        "fallback_index": 0,
        "input_history": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": [{"type": "text", "text": question}]},
        ],
        "params": {"temperature": round(rng.uniform(0, 1), 2), "max_tokens": 512},
        "metadata": {
            "team": rng.choice(TEAMS),
            "env": rng.choice(["prod", "staging"]),
            "tier": rng.randint(1, 3),
        },
    }
    extra = random.Random(log_id)  # its own stream: the other fields stay as they were
    _attribute(extra, create)
    latency = round(rng.uniform(80, 9000), 3)
    prompt, completion = rng.randint(10, 2000), rng.randint(1, 800)
    finish: dict[str, Any] = {
        "id": log_id,
        "latency": latency,
        "selected_key_id": f"key-{provider}-{rng.randint(1, 3)}",
        "selected_key_name": f"{provider} key {rng.randint(1, 3)}",
        "virtual_key_id": f"vk-{rng.randint(1, 5)}",
        "virtual_key_name": f"virtual key {rng.randint(1, 5)}",
        "number_of_retries": rng.choice([0, 0, 0, 1, 2]),
    }
    if rng.random() < 0.15:
        code, status_code, message = rng.choice(ERRORS)
        finish |= {
            "status": "error",
            "error_details": {
                "status_code": status_code,
                "error": {"message": message, "type": code, "code": code},
            },
        }
    else:
        finish |= {
            "status": "success",
            "output_message": {"role": "assistant", "content": answer},
            "token_usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
            "cost": round((prompt * 2.5 + completion * 10) / 1_000_000, 8),
            "raw_response": {"id": f"chatcmpl-{log_id[:8]}", "model": model},
        }
    finished = created + timedelta(milliseconds=latency)
    base = int(created.timestamp() * 1000)
    records = [
        SampleRecord(log_id.encode(), _wrap(create, "create", envelope), base),
        SampleRecord(
            log_id.encode(), _wrap(finish, "update", envelope), int(finished.timestamp() * 1000)
        ),
    ]
    if finish["status"] == "success" and rng.random() < 0.2:
        correction = {
            "id": log_id,
            "cost": round(finish["cost"] * rng.uniform(0.8, 1.2), 8),
            "token_usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion + 1,
                "total_tokens": prompt + completion + 1,
            },
        }
        records.append(
            SampleRecord(
                log_id.encode(),
                _wrap(correction, "update", envelope),
                int(finished.timestamp() * 1000) + rng.randint(1_000, 60_000),
            )
        )
    if finish["status"] == "error" and extra.random() < 0.6:
        records.extend(_fallbacks(extra, create, finish, finished, envelope))
    return records


def _attribute(rng: random.Random, create: dict[str, Any]) -> None:
    """Owners (team, customer, business unit, user); some logs belong to two teams."""
    for kind, pairs in OWNERS.items():
        if rng.random() < 0.75:
            create[f"{kind}_id"], create[f"{kind}_name"] = rng.choice(pairs)
    if "team_id" in create and rng.random() < 0.1:
        teams = rng.sample(OWNERS["team"], 2)
        create["team_ids"] = [ident for ident, _ in teams]
        create["team_names"] = [name for _, name in teams]


def _fallbacks(
    rng: random.Random,
    root: dict[str, Any],
    root_finish: dict[str, Any],
    after: datetime,
    envelope: bool,
) -> list[SampleRecord]:
    """One or two fallback attempts of a failed request (``parent_request_id`` = its id;
    the last one succeeds): a session on ``/api/logs/sessions/{id}``."""
    records = []
    attempts = rng.randint(1, 2)
    for index in range(1, attempts + 1):
        log_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        provider = rng.choice([p for p in PROVIDERS if p != root["provider"]])
        model = rng.choice(PROVIDERS[provider])
        created = after + timedelta(milliseconds=rng.randint(5, 50))
        latency = round(rng.uniform(80, 4000), 3)
        after = created + timedelta(milliseconds=latency)
        create = {
            **{k: v for k, v in root.items() if k not in ("id", "provider", "model")},
            "id": log_id,
            "parent_request_id": root["id"],
            "fallback_index": index,
            "provider": provider,
            "model": model,
            "timestamp": _rfc3339(created),
            "created_at": _rfc3339(created),
        }
        finish: dict[str, Any] = {"id": log_id, "latency": latency}
        if index == attempts:
            prompt, completion = rng.randint(10, 2000), rng.randint(1, 800)
            finish |= {
                "status": "success",
                "token_usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
                "cost": round((prompt * 2.5 + completion * 10) / 1_000_000, 8),
            }
        else:
            finish |= {"status": "error", "error_details": root_finish["error_details"]}
        records += [
            SampleRecord(log_id.encode(), _wrap(create, "create", envelope), _millis(created)),
            SampleRecord(log_id.encode(), _wrap(finish, "update", envelope), _millis(after)),
        ]
    return records


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def iter_logs(
    count: int,
    *,
    seed: int = 0,
    start: datetime | None = None,
    pad: int = 0,
    max_gap_ms: int = 500,
) -> Iterator[list[SampleRecord]]:
    """``count`` requests (each a list of its 2-3 events, plus those of its fallback
    attempts), one at a time; requests start 1 to ``max_gap_ms`` ms apart. Contents depend
    only on ``seed``; times start at ``start``, by default an hour ago (Kafka deletes records
    whose timestamp is older than the topic's retention, 7 days by default)."""
    rng = random.Random(seed)
    moment = start or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for _ in range(count):
        moment += timedelta(milliseconds=rng.randint(1, max(max_gap_ms, 1)))
        yield sample_log(rng, start=moment, pad=pad)


def sample_records(
    count: int, *, seed: int = 0, start: datetime | None = None, pad: int = 0
) -> list[list[SampleRecord]]:
    """:func:`iter_logs` as a list: ``count`` requests (each a list of its 2-3 events, plus
    those of its fallback attempts when it failed and fell back); ``pad`` adds bytes of input
    and output text."""
    return list(iter_logs(count, seed=seed, start=start, pad=pad))
