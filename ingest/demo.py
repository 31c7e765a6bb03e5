"""Sample gateway logs, and ``python -m ingest.demo [--count N]`` to produce them to Kafka.

Each log is a create (``processing``, inputs, metadata, owners: team, customer, business
unit, user), a finish (``success`` or ``error`` with outputs, usage, cost, keys) and sometimes
a later correction of ``cost``/``token_usage``, in Bifrost's envelope form or bare, with varied
providers, models, metadata and content. Some failed requests fall back to other providers:
their attempts carry ``parent_request_id`` (a session).
:func:`sample_records` is deterministic for a seed (used by tests and the benchmark).

The command streams: logs are generated, sent and printed one after the other (constant
memory for any ``--count``), with a progress bar on stderr. Record timestamps end about a
minute before now and go back at most a day, inside what the broker accepts
(``log.message.timestamp.after.max.ms``, one hour ahead by default) and its 7-day retention.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO

import msgspec

from shared.errors import ConfigError
from shared.settings import load

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


#: Logs spread over at most this much time before now (the demo's timestamps).
DEMO_SPAN: Final = timedelta(hours=24)
#: Latest a log's last event comes after its start (finish <= 9 s, correction <= 60 s).
_TAIL: Final = timedelta(seconds=70)


def demo_window(count: int, now: datetime) -> tuple[datetime, int]:
    """Start time and largest gap (ms) for ``count`` demo logs: every record timestamp
    falls within ``DEMO_SPAN`` (plus a few seconds) before ``now``."""
    max_gap_ms = max(1, min(500, int(DEMO_SPAN.total_seconds() * 1000 * 2 / max(count, 1)) - 1))
    span = timedelta(milliseconds=count * (1 + max_gap_ms) / 2)
    return now - _TAIL - span, max_gap_ms


async def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[SampleRecord],
    on_sent: Any = None,
) -> int:
    """Send ``records`` in order (acks=all, idempotent) and wait for every acknowledgement;
    at most ``_IN_FLIGHT`` are awaited at once, so any number can be streamed. Returns the
    number sent; ``on_sent(n)`` is called as acknowledgements come in."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    sent = 0
    try:
        futures: list[Any] = []
        for r in records:
            futures.append(
                await producer.send(topic, value=r.value, key=r.key, timestamp_ms=r.timestamp_ms)
            )
            if len(futures) >= _IN_FLIGHT:
                await asyncio.gather(*futures)
                sent += len(futures)
                futures.clear()
                if on_sent is not None:
                    on_sent(sent)
        await asyncio.gather(*futures)
        sent += len(futures)
        if on_sent is not None:
            on_sent(sent)
    finally:
        await producer.stop()
    return sent


_IN_FLIGHT: Final = 5_000


class Progress:
    """A one-line progress bar on a terminal stream, redrawn at most 10 times a second."""

    def __init__(self, total: int, unit: str, stream: TextIO = sys.stderr) -> None:
        self.total = max(total, 1)
        self.unit = unit
        self.stream = stream
        self.started = time.monotonic()
        self._drawn = 0.0

    def update(self, done: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._drawn < 0.1:
            return
        self._drawn = now
        fraction = min(done / self.total, 1.0)
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else 0.0
        bar = "#" * int(fraction * 30)
        self.stream.write(
            f"\r[{bar:<30}] {fraction:4.0%} {done:,}/{self.total:,} {self.unit} "
            f"{rate:,.0f}/s ETA {eta:,.0f}s "
        )
        if final:
            self.stream.write("\n")
        self.stream.flush()


def main(argv: Sequence[str] | None = None) -> int:
    from ingest.settings import WorkerSettings

    parser = argparse.ArgumentParser(
        prog="python -m ingest.demo",
        description="Produce sample gateway logs to HEIMDALL_TOPIC on HEIMDALL_KAFKA_BOOTSTRAP "
        "and print their ids.",
    )
    parser.add_argument("--count", type=int, default=20, help="number of logs (default 20)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    args = parser.parse_args(argv)
    try:
        settings = load(WorkerSettings)
    except ConfigError as exc:
        print(f"heimdall-demo: {exc}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    if args.count < 0:
        parser.error("--count must be at least 0")
    start, max_gap_ms = demo_window(args.count, datetime.now(UTC))
    progress = Progress(args.count, "logs")
    produced = {"logs": 0, "events": 0, "sessions": 0}
    example: list[str] = []

    def records() -> Iterator[SampleRecord]:
        for log in iter_logs(args.count, seed=seed, start=start, max_gap_ms=max_gap_ms):
            _print_id(log[0].key.decode())
            produced["logs"] += 1
            produced["events"] += len(log)
            if len({r.key for r in log}) > 1:
                produced["sessions"] += 1
                example[:] = example or [log[0].key.decode()]
            yield from log

    asyncio.run(
        produce(
            settings.kafka_bootstrap,
            settings.topic,
            records(),
            on_sent=lambda _: progress.update(produced["logs"]),
        )
    )
    progress.update(produced["logs"], final=True)
    print(
        f"produced {produced['events']} events for {produced['logs']} logs to {settings.topic}",
        file=sys.stderr,
    )
    if example:
        print(
            f"{produced['sessions']} requests fell back (sessions), e.g. {example[0]}",
            file=sys.stderr,
        )
    return 0


def _print_id(log_id: str) -> None:
    """Print a log id; a closed stdout (``| head -n 1``) ends the printing, not the run."""
    try:
        print(log_id)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
