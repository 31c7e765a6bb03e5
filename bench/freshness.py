"""Freshness: how soon a produced log can be read, idle and under a steady load.

    .venv/bin/python -m bench.freshness

Starts the worker (``python -m ingest``) and the API (``python -m api``) as their own
processes on a fresh topic and index, then, in two phases (idle, and while a producer sends
a steady ``--rate`` sample events per second), sends ``--probes`` probe logs one at a time.
Each probe is one finished log whose content holds a word of its own; from the moment it is
sent, the bench polls

- ``GET /api/logs/{id}`` every 5 ms until it answers 200 (goal: p99 <= 250 ms), and
- ``GET /api/logs?content_search=<word>`` every 20 ms until the log is found (goal: p99 <=
  the index's refresh interval + 250 ms; a search only sees refreshed writes);

and, on a live tail (``GET /api/logs/stream``) open for the whole phase and filtered to the
probes (``metadata_probe``), the time until the probe's event arrives (goal: within 2 s; it
needs a refresh too, plus the poller's interval).

Prints p50/p99 of both next to the refresh interval (the anchor), and the resident memory of
both processes (current and peak). Deletes its topic and index at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import msgspec
from aiokafka import AIOKafkaProducer

from bench.services import Process, assigned, cleaned_up, create_topics
from bench.services import api as api_process
from bench.services import worker as worker_process
from ingest.samples import iter_logs
from ingest.settings import WorkerSettings
from shared.settings import load


def refresh_seconds(interval: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for unit in ("ms", "s", "m"):
        if interval.endswith(unit):
            return float(interval[: -len(unit)]) * units[unit]
    return float("inf")  # -1: never


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


class Phase(msgspec.Struct):
    name: str
    rate: float
    get_ms: list[float]
    search_ms: list[float]
    stream_ms: list[float]
    worker_kib: dict[str, int]
    api_kib: dict[str, int]


async def steady_load(
    producer: AIOKafkaProducer, topic: str, rate: float, stop: asyncio.Event
) -> int:
    """Send sample events at ``rate`` per second (in 10 ms ticks) until ``stop``."""
    start = datetime.now(UTC) - timedelta(minutes=5)
    events = (r for log in iter_logs(10**9, seed=7, start=start, max_gap_ms=1) for r in log)
    sent = 0
    began = time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - began) * rate)
        while sent < due:
            r = next(events)
            await producer.send(topic, value=r.value, key=r.key, timestamp_ms=r.timestamp_ms)
            sent += 1
        await asyncio.sleep(0.01)
    return sent


def probe_event(log_id: str, word: str) -> bytes:
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return msgspec.json.encode(
        {
            "id": log_id,
            "timestamp": now,
            "provider": "openai",
            "model": "gpt-4o",
            "status": "success",
            "latency": 12.5,
            "metadata": {"probe": "freshness"},
            "input_history": [{"role": "user", "content": f"freshness probe {word}"}],
        }
    )


async def _until(poll: Any, interval: float, started: float, within: float = 30.0) -> float:
    while True:
        if await poll():
            return (time.perf_counter() - started) * 1000
        if time.perf_counter() - started > within:
            raise RuntimeError("probe not visible within 30 s")
        await asyncio.sleep(interval)


class Tail:
    """A live tail of the probes: when each probe's event arrived (``perf_counter``)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def read(self, http: aiohttp.ClientSession, api: Process) -> None:
        params = {"metadata_probe": "freshness"}
        async with http.get(f"{api.url}/api/logs/stream", params=params) as response:
            async for line in response.content:
                if line.startswith(b"data: "):
                    log_id = msgspec.json.decode(line[6:])["log"]["id"]
                    self.arrived.setdefault(log_id, time.perf_counter())

    async def seen(self, log_id: str, started: float) -> float:
        async def arrived() -> bool:
            return log_id in self.arrived

        await _until(arrived, 0.005, started)
        return (self.arrived[log_id] - started) * 1000


async def probe(
    http: aiohttp.ClientSession,
    api: Process,
    producer: AIOKafkaProducer,
    topic: str,
    tail: Tail,
) -> tuple[float, float, float]:
    """Milliseconds from send to found by id, by content search and on the live tail."""
    log_id = f"probe-{uuid.uuid4().hex}"
    word = f"zq{uuid.uuid4().hex[:10]}"

    async def by_id() -> bool:
        async with http.get(f"{api.url}/api/logs/{log_id}") as response:
            await response.read()
            return response.status == 200

    async def by_search() -> bool:
        params = {"content_search": word, "limit": "1"}
        async with http.get(f"{api.url}/api/logs", params=params) as response:
            body = await response.json()
            return response.status == 200 and body["total"] == 1

    started = time.perf_counter()
    ack = await producer.send(topic, value=probe_event(log_id, word), key=log_id.encode())
    get_ms, search_ms, stream_ms, _ = await asyncio.gather(
        _until(by_id, 0.005, started),
        _until(by_search, 0.02, started),
        tail.seen(log_id, started),
        ack,
    )
    return get_ms, search_ms, stream_ms


async def phase(
    name: str,
    rate: float,
    probes: int,
    settings: WorkerSettings,
    worker: Process,
    api: Process,
) -> Phase:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=0)
    await producer.start()
    stop = asyncio.Event()
    load_task = (
        asyncio.create_task(steady_load(producer, settings.topic, rate, stop)) if rate else None
    )
    get_ms: list[float] = []
    search_ms: list[float] = []
    stream_ms: list[float] = []
    tail = Tail()
    try:
        async with aiohttp.ClientSession() as http:
            reader = asyncio.create_task(tail.read(http, api))
            await asyncio.sleep(2.0 if rate else 0.5)  # let the load settle
            for _ in range(probes):
                got, found, streamed = await probe(http, api, producer, settings.topic, tail)
                get_ms.append(got)
                search_ms.append(found)
                stream_ms.append(streamed)
                await asyncio.sleep(random.uniform(0.05, 0.3))  # not in step with refreshes
            reader.cancel()
    finally:
        stop.set()
        if load_task is not None:
            sent = await load_task
            print(f"{name}: {sent:,} load events sent", file=sys.stderr)
        await producer.stop()
    return Phase(name, rate, get_ms, search_ms, stream_ms, worker.memory(), api.memory())


def table(phases: list[Phase], refresh: str) -> str:
    anchor = refresh_seconds(refresh) * 1000
    lines = [
        f"refresh interval {refresh} (the anchor of search freshness)",
        "",
        "| load | probes | GET by id p50 | GET by id p99 | search p50 | search p99 "
        "| search p99 - refresh | live tail p50 | live tail p99 "
        "| worker RSS (peak) | API RSS (peak) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in phases:
        lines.append(
            f"| {p.name} | {len(p.get_ms)} "
            f"| {statistics.median(p.get_ms):.0f} ms | {percentile(p.get_ms, 99):.0f} ms "
            f"| {statistics.median(p.search_ms):.0f} ms | {percentile(p.search_ms, 99):.0f} ms "
            f"| {percentile(p.search_ms, 99) - anchor:+.0f} ms "
            f"| {statistics.median(p.stream_ms):.0f} ms | {percentile(p.stream_ms, 99):.0f} ms "
            f"| {p.worker_kib['VmRSS'] / 1024:.0f} MB ({p.worker_kib['VmHWM'] / 1024:.0f} MB) "
            f"| {p.api_kib['VmRSS'] / 1024:.0f} MB ({p.api_kib['VmHWM'] / 1024:.0f} MB) |"
        )
    return "\n".join(lines)


async def run(probes: int, rate: float) -> str:
    base = load(WorkerSettings)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    settings = msgspec.structs.replace(
        base, topic=name, dlq_topic=f"{name}.dlq", consumer_group=f"{name}-group", index_alias=name
    )
    async with cleaned_up(base, [name], [name, f"{name}.dlq"]):
        await create_topics(base.kafka_bootstrap, [name, f"{name}.dlq"])
        worker = worker_process(settings)
        api = api_process(name)
        try:
            await assigned(worker)
            await api.wait_healthy()
            phases = [
                await phase("idle", 0, probes, settings, worker, api),
                await phase(f"{rate:,.0f} events/s", rate, probes, settings, worker, api),
            ]
        finally:
            worker.stop()
            api.stop()
    return table(phases, base.index_refresh_interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.freshness")
    parser.add_argument("--probes", type=int, default=40, help="probe logs per phase")
    parser.add_argument("--rate", type=float, default=1000, help="events/s of the load phase")
    args = parser.parse_args(argv)
    print(asyncio.run(run(args.probes, args.rate)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
