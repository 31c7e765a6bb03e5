"""What redaction at ingest costs: the ingest rate with ``HEIMDALL_REDACTION=mask`` and
``hash`` against ``off``, as ratios measured in the same run, on realistic 4 KB events.

    .venv/bin/python -m bench.redaction                # 4 KB events, 10,000 of them

1. Events: the sample logs of :mod:`bench.ingest_throughput` (create, finish, sometimes a
   correction; words with Zipf-like frequencies), padded to the event size; one log in four
   also carries a support-chat paragraph with personal data and secrets (email, phone, card,
   IP, provider keys, a JWT) in its question, its answer and its tool-call arguments, and
   every event some ordinary numbers (versions, dates, amounts).
2. CPU: the worker's per-event path without I/O (decode, redact, merge, ``to_source``), in
   this process, best of 5 rounds (modes interleaved): events per second, ratio to ``off``.
3. End to end: the worker as its own process, once per run on its own copy of the topic,
   timed from its partition assignment to the commit of the last offset (as
   :mod:`bench.ingest_throughput` does); a round runs the modes forth and back (off, mask,
   hash, hash, mask, off), the rate of a mode is the mean of its runs.

Prints one table; deletes its topics and indices. Services come from ``HEIMDALL_*``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
import zlib
from collections.abc import Sequence
from typing import Any

import msgspec

from bench.ingest_throughput import count, end_to_end, records_of
from bench.services import cleaned_up, create_topics
from ingest.decode import LogEvent, decode_event
from ingest.demo import produce
from ingest.merge import merge_all, to_source
from ingest.redact import Mode, Redactor
from ingest.samples import SampleRecord
from ingest.settings import WorkerSettings
from shared.settings import load

MODES: tuple[Mode, ...] = ("off", "mask", "hash")
#: Used by this benchmark only.
KEY = "bench-redaction-key-0123456789"


def personal_paragraph(rng: random.Random) -> str:
    n = rng.randrange(10**6)
    return (
        f" Hi, this is Jane (jane.doe{n}@example.com, +1 415-555-{n % 10000:04d}). Our "
        f"gateway at 10.{n % 256}.{n % 199}.7 rejects my key sk-proj-{n:06d}AbCdEfGhIjKlMnOpQrSt"
        f"UvWx and the AWS one AKIA{n:06d}ABCDEFGHIJ; the card 4539 1488 0343 6467 was charged "
        "twice. Token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl."
    )


def ordinary_numbers(rng: random.Random) -> str:
    return (
        f" (python 3.11.{rng.randrange(9)}, build 2026-{rng.randrange(1, 12):02d}-"
        f"{rng.randrange(1, 28):02d}, {rng.randrange(100_000):,} rows, {rng.random() * 100:.1f}%)"
    )


def _content(message: Any, extra: str) -> None:
    if isinstance(message, dict) and isinstance(message.get("content"), str):
        message["content"] += extra


def realistic(records: Sequence[SampleRecord], seed: int = 7) -> list[SampleRecord]:
    """``records`` with numbers in every event and personal data in one log in four."""
    rng = random.Random(seed)
    out = []
    for record in records:
        value: dict[str, Any] = msgspec.json.decode(record.value)
        log = value.get("payload", value)
        personal = zlib.crc32(log["id"].encode()) % 4 == 0
        extra = ordinary_numbers(rng) + (personal_paragraph(rng) if personal else "")
        for message in log.get("input_history") or ():
            _content(message, extra)
        _content(log.get("output_message"), extra)
        if personal and isinstance(log.get("output_message"), dict):
            arguments = msgspec.json.encode({"email": "jane.doe@example.com", "ip": "10.1.2.3"})
            log["output_message"]["tool_calls"] = [
                {"type": "function", "function": {"name": "notify", "arguments": arguments}}
            ]
        out.append(SampleRecord(record.key, msgspec.json.encode(value), record.timestamp_ms))
    return out


def cpu_seconds(
    records: Sequence[SampleRecord], redactor: Redactor | None, max_bytes: int
) -> float:
    """The worker's pure per-event path over ``records``: decode, redact, merge, encode."""
    started = time.perf_counter()
    by_id: dict[str, list[LogEvent]] = {}
    for r in records:
        event = decode_event(r.value, timestamp_ms=r.timestamp_ms, max_bytes=max_bytes)
        by_id.setdefault(event.id, []).append(redactor.event(event) if redactor else event)
    for events in by_id.values():
        state = merge_all(None, events)
        assert state is not None
        to_source(state)
    return time.perf_counter() - started


def redactor(mode: Mode) -> Redactor | None:
    return None if mode == "off" else Redactor(mode, key=KEY)


def cpu_rates(
    records: Sequence[SampleRecord], max_bytes: int, rounds: int = 5
) -> dict[Mode, float]:
    """Events per second of the CPU path per mode: the best of ``rounds`` rounds, the modes
    interleaved in each (load from elsewhere slows a round, never speeds it up)."""
    best: dict[Mode, float] = {}
    for _ in range(rounds):
        for mode in MODES:
            seconds = cpu_seconds(records, redactor(mode), max_bytes)
            best[mode] = min(best.get(mode, seconds), seconds)
    return {mode: len(records) / seconds for mode, seconds in best.items()}


async def e2e_rates(
    base: WorkerSettings, records: list[SampleRecord], rounds: int
) -> dict[Mode, list[float]]:
    """Events per second end to end, per mode; each round runs the modes forth and back
    (off, mask, hash, hash, mask, off), so a drift of the machine's load hits all alike."""
    rates: dict[Mode, list[float]] = {}
    order: list[Mode] = [*MODES, *reversed(MODES)] * rounds
    for mode in order:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        settings = msgspec.structs.replace(
            base, topic=name, dlq_topic=f"{name}.dlq", consumer_group=f"{name}-g", index_alias=name
        )
        async with cleaned_up(base, [name], [name, f"{name}.dlq"]):
            await create_topics(base.kafka_bootstrap, [name, f"{name}.dlq"])
            await produce(base.kafka_bootstrap, name, records)
            env = {"HEIMDALL_REDACTION": mode, "HEIMDALL_REDACTION_KEY": KEY}
            seconds, _, _ = await end_to_end(settings, len(records), **env)
            assert await count(settings) > 0
        rates.setdefault(mode, []).append(len(records) / seconds)
        print(f"{mode}: {len(records) / seconds:,.0f} events/s end to end", file=sys.stderr)
    return rates


def table(size: float, events: int, cpu: dict[Mode, float], e2e: dict[Mode, list[float]]) -> str:
    off_cpu = cpu["off"]
    off_e2e = sum(e2e["off"]) / len(e2e["off"])
    lines = [
        f"{events:,} events of {size:,.0f} B on average",
        "",
        "| mode | CPU path events/s | ratio to off | end to end events/s | ratio to off |",
        "| --- | --- | --- | --- | --- |",
    ]
    for mode in MODES:
        rate = sum(e2e[mode]) / len(e2e[mode])
        lines.append(
            f"| {mode} | {cpu[mode]:,.0f} | **{cpu[mode] / off_cpu:.2f}x** | {rate:,.0f} "
            f"| **{rate / off_e2e:.2f}x** |"
        )
    lines.append("")
    for mode in MODES:
        runs = ", ".join(f"{r:,.0f}" for r in e2e[mode])
        lines.append(f"- {mode} end to end, run by run: {runs} events/s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.redaction")
    parser.add_argument("--size", type=float, default=4, help="average event size, KB")
    parser.add_argument("--events", type=int, default=10_000, help="events per run")
    parser.add_argument("--rounds", type=int, default=1, help="end-to-end rounds (6 runs each)")
    parser.add_argument("--cpu-only", action="store_true", help="skip the end-to-end runs")
    args = parser.parse_args(argv)
    base = msgspec.structs.replace(load(WorkerSettings), opensearch_timeout=120.0)
    records = realistic(records_of(args.events, round(args.size * 1024)))
    size = sum(len(r.value) for r in records) / len(records)
    cpu = cpu_rates(records, base.max_event_bytes)
    e2e: dict[Mode, list[float]] = {m: [float("nan")] for m in MODES}
    if not args.cpu_only:
        e2e = asyncio.run(e2e_rates(base, records, args.rounds))
    print(table(size, len(records), cpu, e2e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
