"""How far ingestion has come, per partition, for the API's freshness answers.

After each commit the worker hands this module the committed offsets; at most once per
``interval`` (a trailing write follows the last commit of a burst) one ``_bulk`` upserts a
document per partition into ``<alias>-progress`` (id ``<topic>-<partition>``): committed
offset, high watermark, lag, the newest log ``timestamp`` indexed from it, and ``updated_at``.
The newest time only ever grows (a script keeps the larger of the stored and the new value,
so a restarted worker never moves it back). Writes run in the background and are advisory:
a failed write is logged and retried with the next one, and never holds up the batch loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Container, Mapping, Sequence
from datetime import datetime
from typing import Final

import msgspec

from ingest.decode import LogEvent
from ingest.kafka import TP, Record

log = logging.getLogger("heimdall.ingest")

_ENCODER: Final = msgspec.json.Encoder()
_TIME: Final = msgspec.json.Decoder(datetime)
#: Keeps every new value but the newest event time, which only grows.
SCRIPT: Final = (
    "def old = ctx._source.newest_event_ns;"
    " for (e in params.doc.entrySet()) { ctx._source[e.getKey()] = e.getValue(); }"
    " if (old != null && (params.doc.newest_event_ns == null"
    " || old > params.doc.newest_event_ns)) { ctx._source.newest_event_ns = old; }"
)


class PartitionProgress(msgspec.Struct, kw_only=True, omit_defaults=True):
    topic: str
    partition: int
    consumer_group: str
    committed_offset: int
    updated_at: int
    high_watermark: int | None = None
    lag: int | None = None
    newest_event_ns: int | None = None


def _time_ns(raw: msgspec.Raw) -> int | None:
    try:
        moment = _TIME.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def newest_by_partition(
    events: Mapping[str, Sequence[LogEvent]],
    records: Mapping[str, Sequence[Record]],
    skip: Container[str] = (),
) -> dict[TP, int]:
    """The newest ``timestamp`` (ns) of the events of each partition, ids in ``skip``
    (not indexed) left out. ``events[id][i]`` came from ``records[id][i]``."""
    newest: dict[TP, int] = {}
    for doc_id, doc_events in events.items():
        if doc_id in skip:
            continue
        for event, record in zip(doc_events, records[doc_id], strict=True):
            raw = event.fields.get("timestamp")
            ns = None if raw is None else _time_ns(raw)
            if ns is None:
                continue
            tp = TP(record.topic, record.partition)
            if ns > newest.get(tp, -1):
                newest[tp] = ns
    return newest


def progress_id(tp: TP) -> str:
    return f"{tp.topic}-{tp.partition}"


def progress_body(docs: Sequence[PartitionProgress]) -> bytes:
    """NDJSON ``_bulk`` body: one scripted upsert per partition."""
    out = bytearray()
    for doc in docs:
        meta = {
            "update": {"_id": progress_id(TP(doc.topic, doc.partition)), "retry_on_conflict": 3}
        }
        action = {
            "script": {"lang": "painless", "source": SCRIPT, "params": {"doc": doc}},
            "upsert": doc,
        }
        out += _ENCODER.encode(meta) + b"\n" + _ENCODER.encode(action) + b"\n"
    return bytes(out)


Writer = Callable[[bytes], Awaitable[None]]


class Progress:
    """Collects per-partition progress and writes it, throttled, in the background."""

    def __init__(
        self,
        write: Writer,
        consumer_group: str,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._group = consumer_group
        self._interval = interval
        self._clock = clock
        self._newest: dict[TP, int] = {}
        self._pending: dict[TP, PartitionProgress] = {}
        self._last = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    def observe(
        self,
        events: Mapping[str, Sequence[LogEvent]],
        records: Mapping[str, Sequence[Record]],
        skip: Container[str] = (),
    ) -> None:
        """Note the newest event time of a written batch (before its commit)."""
        for tp, ns in newest_by_partition(events, records, skip).items():
            if ns > self._newest.get(tp, -1):
                self._newest[tp] = ns

    def committed(self, offsets: Mapping[TP, int], highwater: Callable[[TP], int | None]) -> None:
        """Note committed offsets (next offset to read); schedules a write."""
        now_ms = time.time_ns() // 1_000_000
        for tp, offset in offsets.items():
            high = highwater(tp)
            self._pending[tp] = PartitionProgress(
                topic=tp.topic,
                partition=tp.partition,
                consumer_group=self._group,
                committed_offset=offset,
                updated_at=now_ms,
                high_watermark=high,
                lag=None if high is None else max(high - offset, 0),
                newest_event_ns=self._newest.get(tp),
            )
        self._schedule()

    def _schedule(self) -> None:
        if self._pending and self._task is None and not self._closed:
            delay = max(self._last + self._interval - self._clock(), 0.0)
            self._task = asyncio.create_task(self._flush_after(delay))

    async def _flush_after(self, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
        finally:
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Write what is pending now (a failure is logged; it is retried with the next)."""
        async with self._lock:
            if not self._pending:
                return
            docs = [self._pending[tp] for tp in sorted(self._pending)]
            self._pending = {}
            self._last = self._clock()
            try:
                await self._write(progress_body(docs))
            except asyncio.CancelledError:
                self._restore(docs)  # written by close()
                raise
            except Exception as exc:
                log.warning("progress write failed", extra={"error": repr(exc)})
                self._restore(docs)
        self._schedule()

    def _restore(self, docs: Sequence[PartitionProgress]) -> None:
        for doc in docs:  # a newer state of the same partition wins
            self._pending.setdefault(TP(doc.topic, doc.partition), doc)

    async def close(self) -> None:
        """Cancel the scheduled write and write what is pending (at stop)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
