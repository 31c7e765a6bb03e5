"""``python -m ingest.demo [--count N]``: produce sample logs (:mod:`ingest.samples`) to Kafka.

The command streams: logs are generated, sent and printed one after the other (constant
memory for any ``--count``), with a progress bar on stderr. Record timestamps end about a
minute before now and go back at most a day, inside what the broker accepts
(``log.message.timestamp.after.max.ms``, one hour ahead by default) and its 7-day retention.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO

from ingest.samples import SampleRecord, iter_logs
from shared.errors import ConfigError
from shared.settings import load

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
