"""The ingest worker: Kafka batches -> merged documents -> one bulk write -> commit.

Per batch (``getmany``, at most ``max_batch`` records):

1. decode every record; a :class:`BadEvent` goes to the dead-letter list;
2. plan (:func:`ingest.plan.plan`) from what this worker wrote recently
   (:class:`ingest.cache.WriteCache`), or, for ids it did not write, as new documents
   (``create``); write (one ``_bulk``); ids refused with 409 (the document exists, or changed
   since it was written) are read (one ``_mget``), re-planned and written until none is left;
   ids OpenSearch rejects permanently go to the dead-letter list with all their records;
3. send the dead-letter list (acks=all, idempotent) and wait for every acknowledgement;
4. commit ``last offset + 1`` for every partition of the batch.

Two batches are in flight at most: while one is written and committed (steps 2-4, in a task),
the next is polled and decoded; it is written only after the previous one committed. So an
offset is committed only once everything before it is durably written or parked.
While OpenSearch (or Kafka, for the dead-letter topic) fails transiently, the worker pauses
every assigned partition, backs off exponentially with jitter, keeps polling (with everything
paused) so the group keeps it as a member, and retries the same batch; it never skips one.
Memory stays bounded by two batches (``max_batch``, ``fetch_max_bytes``) and the write cache
(``write_cache_bytes``).

Rebalance: on revoke, the listener waits (at most ``rebalance_timeout_seconds``) for the
in-flight batch, which commits as its last step; if it does not finish in time, the batch
will not commit the revoked partitions (their records are redelivered to the new owner, and
re-applying them is a no-op thanks to the idempotent merge). A batch polled but not yet
being written never commits the revoked partitions either, and the write cache forgets them.

Stop (SIGTERM/SIGINT): no new batch is fetched, the ones polled are finished and committed
(if OpenSearch is down at that moment the batch is abandoned uncommitted, to be redelivered),
then the consumer, producer and OpenSearch client are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Final, TypeVar

import msgspec
from aiohttp import web

from ingest.cache import WriteCache
from ingest.decode import UNDECODABLE, LogEvent
from ingest.dropped import dropped_documents
from ingest.feeds import Decoder, decode_log_entry, decoders
from ingest.kafka import (
    TP,
    CommitRefused,
    Consumer,
    Header,
    KafkaFailure,
    MessageTooLarge,
    Producer,
    Record,
    SendForbidden,
    where,
)
from ingest.metrics import Metrics
from ingest.plan import Action, Plan, Stored, plan
from ingest.progress import Progress
from ingest.settings import WorkerSettings
from ingest.store import Store, WriteResult
from shared.errors import BadEvent, DocumentRejected, HeimdallError, StoreUnavailable

log = logging.getLogger("heimdall.ingest")

T = TypeVar("T")

REASON_HEADER: Final = "x-heimdall-reason"
DETAIL_HEADER: Final = "x-heimdall-detail"
TOPIC_HEADER: Final = "x-heimdall-source-topic"
PARTITION_HEADER: Final = "x-heimdall-source-partition"
OFFSET_HEADER: Final = "x-heimdall-source-offset"
TRUNCATED_HEADER: Final = "x-heimdall-truncated"
TRUNCATED_BYTES: Final = 64 * 1024
_MAX_DETAIL: Final = 2000
#: Records of the first poll, before their size is known (see ``Worker._max_records``).
_FIRST_POLL: Final = 64


class DeadLetterUnavailable(HeimdallError):
    """The dead-letter topic could not be written (Kafka failing); retried like OpenSearch."""

    retriable = True


class DeadLetterRefused(HeimdallError):
    """Kafka refuses a dead letter for good (no permission on the topic, or a topic that
    cannot hold even the truncated value): fatal, since skipping it would lose the record
    and retrying would loop forever."""


class _Abandoned(Exception):
    """Stop was requested while the current batch could not be written."""


class DeadLetter(msgspec.Struct, frozen=True):
    record: Record
    reason: str
    detail: str
    #: Set when the dead-letter topic refused the full value as too large: only the first
    #: ``TRUNCATED_BYTES`` are sent, and ``x-heimdall-truncated`` gives the original size.
    truncated: bool = False

    @property
    def value(self) -> bytes | None:
        value = self.record.value
        return value[:TRUNCATED_BYTES] if self.truncated and value is not None else value


def dead_letter_headers(letter: DeadLetter) -> list[Header]:
    r = letter.record
    headers = [
        (REASON_HEADER, letter.reason.encode()),
        (DETAIL_HEADER, letter.detail[:_MAX_DETAIL].encode()),
        (TOPIC_HEADER, r.topic.encode()),
        (PARTITION_HEADER, str(r.partition).encode()),
        (OFFSET_HEADER, str(r.offset).encode()),
    ]
    if letter.truncated:
        headers.append((TRUNCATED_HEADER, str(len(r.value or b"")).encode()))
    return headers


class Decoded(msgspec.Struct):
    """A batch after decoding: good events by id (with their records) and bad records."""

    events: dict[str, list[LogEvent]]
    records: dict[str, list[Record]]
    dead: list[DeadLetter]


def decode_batch(
    records: Iterable[Record], max_bytes: int, by_topic: Mapping[str, Decoder] | None = None
) -> Decoded:
    """Decode with each topic's decoder (default: Bifrost ``LogEntry`` events)."""
    decoded = Decoded(events={}, records={}, dead=[])
    for record in records:
        decode = by_topic.get(record.topic, decode_log_entry) if by_topic else decode_log_entry
        try:
            events = decode(record.value, timestamp_ms=record.timestamp, max_bytes=max_bytes)
        except BadEvent as exc:
            decoded.dead.append(DeadLetter(record, exc.reason, f"{where(record)}: {exc.detail}"))
            continue
        except Exception as exc:  # a poison record must never stop the worker
            log.exception("undecodable record at %s", where(record))
            detail = f"{where(record)}: {type(exc).__name__}: {exc}"
            decoded.dead.append(DeadLetter(record, UNDECODABLE, detail))
            continue
        for event in events:
            decoded.events.setdefault(event.id, []).append(event)
            sources = decoded.records.setdefault(event.id, [])
            if not sources or sources[-1] is not record:
                sources.append(record)
    return decoded


class _Batch:
    """A polled batch on its way through the worker."""

    def __init__(self, records: dict[TP, list[Record]], decoded: Decoded) -> None:
        self.records = records
        self.decoded = decoded
        #: Partitions revoked while this batch was held: never committed by it.
        self.revoked: set[TP] = set()
        #: Planned while the previous batch was written: the ids it did not touch.
        self.early: Plan | None = None

    def partition_of(self, doc_id: str) -> TP:
        last = self.decoded.records[doc_id][-1]
        return TP(last.topic, last.partition)


def next_offsets(batch: Mapping[TP, list[Record]]) -> dict[TP, int]:
    return {tp: records[-1].offset + 1 for tp, records in batch.items() if records}


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff with "equal jitter": between half and all of the capped delay."""
    capped = min(maximum, initial * 2.0 ** min(attempt, 30))
    return capped / 2 + random.uniform(0, capped / 2)


class Worker:
    def __init__(
        self,
        settings: WorkerSettings,
        *,
        store: Store | None = None,
        consumer: Consumer | None = None,
        producer: Producer | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or Store(settings)
        self.decoders = decoders(settings)
        self.consumer = consumer or Consumer(settings, list(self.decoders))
        self.producer = producer or Producer(settings)
        self.metrics = metrics or Metrics()
        self.progress = Progress(self.store.write_progress, settings.consumer_group)
        self.cache = WriteCache(settings.write_cache_bytes)
        #: Moving average of the record size, which sizes polls (``max_batch_bytes``).
        self._record_bytes = 0.0
        #: Offsets this worker committed (next offset to read), per partition.
        self.committed: dict[TP, int] = {}
        self.http_port: int | None = None
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._running = False
        self._paused = False
        self._failing: str | None = None
        #: The batch being written and committed, and the one polled after it.
        self._writing: _Batch | None = None
        self._held: _Batch | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to finish its current batch and exit (signal-handler safe)."""
        if not self._stopping.is_set():
            log.info("stop requested: draining the current batch")
        self._stopping.set()

    @property
    def paused(self) -> bool:
        return self._paused

    def consumer_assigned(self) -> bool:
        """Running with at least one partition assigned."""
        return self._running and bool(self.consumer.assignment())

    async def run(self) -> None:
        """Run until :meth:`stop`; raises on fatal errors (bad configuration, ...)."""
        s = self.settings
        await self._start_http()
        try:
            index = await self._retrying(
                "create index",
                lambda: self.store.ensure_index(
                    shards=s.index_shards,
                    replicas=s.index_replicas,
                    refresh_interval=s.index_refresh_interval,
                ),
            )
            log.info("index ready", extra={"alias": s.index_alias, "index": index})
            await self._retrying("start dead-letter producer", self.producer.start)
            await self._retrying(
                "join consumer group",
                lambda: self.consumer.start(self._on_revoked, self._on_assigned),
            )
            self._running = True
            log.info(
                "consuming",
                extra={"topic": s.topic, "group": s.consumer_group, "dlq": s.dlq_topic},
            )
            await self._loop()
        except _Abandoned:
            pass
        finally:
            self._running = False
            await self._shutdown()

    async def _loop(self) -> None:
        writing: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                if writing is not None and (writing.done() or self._paused):
                    # Surface a failure at once; while writes fail, the writer polls.
                    task, writing = writing, None
                    await task
                records = await self._retrying("poll", self._poll)
                if not records:
                    continue
                batch = self._decode(records)
                self._held = batch
                if writing is not None and self._writing is not None:
                    self._plan_early(batch, self._writing)
                if writing is not None:
                    task, writing = writing, None
                    await task
                self._held = None
                writing = asyncio.create_task(self._process(batch))
            if writing is not None:
                task, writing = writing, None
                await task
        finally:
            self._held = None
            if writing is not None:  # leaving on an error: the other batch is abandoned
                writing.cancel()
                with contextlib.suppress(BaseException):
                    await writing

    async def _poll(self) -> dict[TP, list[Record]]:
        started = time.perf_counter()
        records = await self.consumer.getmany(
            timeout_ms=self.settings.poll_timeout_ms, max_records=self._max_records()
        )
        if records:
            self.metrics.stage("poll", time.perf_counter() - started)
            flat = [r for part in records.values() for r in part]
            size = sum(len(r.value or b"") for r in flat) / len(flat)
            seen = self._record_bytes
            self._record_bytes = size if seen == 0 else 0.8 * seen + 0.2 * size
        return records

    def _max_records(self) -> int:
        """``max_batch``, fewer when records are big: about ``max_batch_bytes`` a batch.
        Until a record was seen, a small first poll (``_FIRST_POLL``) learns their size."""
        s = self.settings
        if not self._record_bytes:
            return min(s.max_batch, _FIRST_POLL)
        return max(1, min(s.max_batch, int(s.max_batch_bytes / self._record_bytes)))

    def _decode(self, records: dict[TP, list[Record]]) -> _Batch:
        started = time.perf_counter()
        flat = [record for part in records.values() for record in part]
        self.metrics.consumed.inc(len(flat))
        batch = _Batch(records, decode_batch(flat, self.settings.max_event_bytes, self.decoders))
        self.metrics.stage("decode", time.perf_counter() - started)
        return batch

    async def _shutdown(self) -> None:
        await self.progress.close()
        for name, closer in (
            ("consumer", self.consumer.stop),
            ("producer", self.producer.stop),
            ("opensearch client", self.store.close),
        ):
            try:
                await closer()
            except Exception:
                log.exception("closing the %s failed", name)
        if self._runner is not None:
            await self._runner.cleanup()
        log.info("stopped", extra={"committed": {str(tp): o for tp, o in self.committed.items()}})

    # -- one batch ---------------------------------------------------------------------

    async def _process(self, batch: _Batch) -> None:
        self._idle.clear()
        self._writing = batch
        decoded = batch.decoded
        try:
            try:
                rejected = await self._retrying("index batch", lambda: self._index(batch))
            except _Abandoned:
                log.warning(
                    "batch abandoned at stop, uncommitted (it will be redelivered)",
                    extra={
                        "first": [f"{tp}@{r[0].offset}" for tp, r in batch.records.items() if r]
                    },
                )
                raise
            dead = list(decoded.dead)
            for doc_id, exc in rejected.items():
                dead.extend(
                    DeadLetter(r, exc.reason, f"{where(r)}: {exc.detail}")
                    for r in decoded.records[doc_id]
                )
            if dead:
                dropped = dropped_documents(dead, time.time_ns() // 1_000_000)
                await self._retrying("dead-letter", lambda: self._dead_letter(dead))
                await self._retrying("record dropped", lambda: self.store.record_dropped(dropped))
            self.progress.observe(decoded.events, decoded.records, rejected)
            started = time.perf_counter()
            await self._commit(next_offsets(batch.records), batch.revoked)
            self.metrics.stage("commit", time.perf_counter() - started)
        finally:
            self._writing = None
            self._idle.set()

    def _plan_early(self, batch: _Batch, previous: _Batch) -> None:
        """Plan the ids the batch being written does not touch, while it is written: their
        cache entries cannot change meanwhile except by eviction or revoke, and a write
        planned from an entry since dropped is still guarded by its seq_no."""
        started = time.perf_counter()
        busy = previous.decoded.events
        independent = {i: e for i, e in batch.decoded.events.items() if i not in busy}
        batch.early = plan(independent, self._known(independent))
        self.metrics.stage("merge", time.perf_counter() - started)

    def _known(self, ids: Iterable[str]) -> dict[str, Stored]:
        """The cached documents among ``ids`` (see :mod:`ingest.cache`)."""
        known = {}
        for doc_id in ids:
            stored = self.cache.get(doc_id)
            if stored is not None:
                known[doc_id] = stored
        return known

    async def _index(self, batch: _Batch) -> dict[str, DocumentRejected]:
        """Bring every id to its merged state; return the ids OpenSearch rejected.

        The first round plans from the write cache, taking uncached ids as new (``create``);
        every later round reads the ids refused with 409 from OpenSearch."""
        events = batch.decoded.events
        pending = events
        rejected: dict[str, DocumentRejected] = {}
        first = True
        while pending:
            started = time.perf_counter()
            if first:
                first = False
                todo = self._plan_rest(batch)
            else:
                stored = await self.store.fetch(pending)
                self.metrics.stage("read", time.perf_counter() - started)
                started = time.perf_counter()
                todo = plan(pending, stored)
            self.metrics.stage("merge", time.perf_counter() - started)
            self.metrics.skipped_unchanged.inc(len(todo.unchanged))
            if not todo.actions:
                break
            result = await self.store.write(todo.actions)
            self.metrics.stage("write", result.seconds)
            self.metrics.bulk_latency.observe(result.seconds)
            self.metrics.indexed.inc(len(result.written))
            self.metrics.conflicts.inc(len(result.conflicts))
            self._remember(batch, todo.actions, result)
            rejected.update(result.rejected)
            if result.conflicts:
                log.debug("version conflicts, re-merging", extra={"ids": len(result.conflicts)})
            pending = {doc_id: events[doc_id] for doc_id in result.conflicts}
        return rejected

    def _plan_rest(self, batch: _Batch) -> Plan:
        """The first round's plan: what :meth:`_plan_early` planned (used once: a retried
        batch plans afresh) plus the other ids, from the cache or as new documents."""
        events = batch.decoded.events
        early, batch.early = batch.early, None
        if early is None:
            return plan(events, self._known(events))
        done = {a.id for a in early.actions}.union(early.unchanged)
        rest = {i: e for i, e in events.items() if i not in done}
        todo = plan(rest, self._known(rest))
        return Plan(
            actions=early.actions + todo.actions, unchanged=early.unchanged + todo.unchanged
        )

    def _remember(self, batch: _Batch, actions: list[Action], result: WriteResult) -> None:
        """Cache what was written (with its new seq_no/primary_term) for the next batch."""
        assigned = self.consumer.assignment()
        sources = {action.id: action.source for action in actions}
        for doc_id in result.written:
            tp = batch.partition_of(doc_id)
            version = result.versions.get(doc_id)
            if version is None or tp not in assigned or tp in batch.revoked:
                self.cache.discard(doc_id)
            else:
                self.cache.put(tp, doc_id, sources[doc_id], *version)
        for doc_id in (*result.conflicts, *result.rejected):
            self.cache.discard(doc_id)

    async def _dead_letter(self, dead: list[DeadLetter]) -> None:
        """Send every dead letter; on failure only the unsent ones are retried."""
        pending = sorted(dead, key=lambda d: (d.record.partition, d.record.offset))
        results = await self.producer.send_all(
            self.settings.dlq_topic,
            [(d.record.key, d.value, dead_letter_headers(d)) for d in pending],
        )
        failed: list[DeadLetter] = []
        for d, error in zip(pending, results, strict=True):
            if error is None:
                self.metrics.dead_lettered.labels(reason=d.reason).inc()
                log.warning("dead-lettered", extra={"reason": d.reason, "detail": d.detail[:300]})
            elif isinstance(error, MessageTooLarge) and not d.truncated:
                failed.append(msgspec.structs.replace(d, truncated=True))
            elif isinstance(error, (MessageTooLarge, *SendForbidden)):
                raise DeadLetterRefused(
                    f"{self.settings.dlq_topic} refused the dead letter of "
                    f"{where(d.record)}: {error!r}"
                )
            else:
                failed.append(d)
        if failed:
            dead[:] = failed
            first = next(error for error in results if error is not None)
            raise DeadLetterUnavailable(
                f"{len(failed)} dead letter(s) to {self.settings.dlq_topic} failed: {first!r}"
            )

    async def _commit(self, offsets: dict[TP, int], revoked: set[TP]) -> None:
        assigned = self.consumer.assignment()
        skipped = {tp for tp in offsets if tp not in assigned or tp in revoked}
        if skipped:
            log.warning(
                "not committing revoked partitions (they will be redelivered)",
                extra={"partitions": sorted(map(str, skipped))},
            )
        offsets = {tp: o for tp, o in offsets.items() if tp not in skipped}
        if not offsets:
            return

        def still_assigned() -> dict[TP, int]:
            # A partition revoked between two attempts is no longer ours to commit.
            assigned = self.consumer.assignment()
            return {tp: o for tp, o in offsets.items() if tp in assigned}

        try:
            await self._retrying("commit", lambda: self.consumer.commit(still_assigned()))
        except CommitRefused as exc:
            log.warning(
                "commit refused after a rebalance (records will be redelivered)",
                extra={"error": repr(exc)},
            )
            return
        self.committed.update(offsets)
        self.progress.committed(offsets, self.consumer.highwater)
        for tp, offset in offsets.items():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                    max(highwater - offset, 0)
                )

    # -- retry, pause, resume ----------------------------------------------------------

    async def _retrying(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation`` until it succeeds, pausing consumption while it fails
        transiently. Raises :class:`_Abandoned` if stop is requested meanwhile."""
        attempt = 0
        while True:
            try:
                result = await operation()
            except HeimdallError as exc:
                if not exc.retriable:
                    raise
                error: BaseException = exc
            except KafkaFailure as exc:
                if isinstance(exc, CommitRefused):
                    if attempt:
                        self._resume(what)
                    raise
                error = exc
            else:
                if attempt:
                    self._resume(what)
                return result
            await self._back_off(what, error, attempt)
            attempt += 1

    async def _back_off(self, what: str, error: BaseException, attempt: int) -> None:
        s = self.settings
        delay = backoff_delay(attempt, s.backoff_initial_seconds, s.backoff_max_seconds)
        self._failing = f"{what}: {error}"
        self.metrics.retries.inc()
        if isinstance(error, StoreUnavailable):
            self._failing = f"OpenSearch unavailable: {error}"
        log.warning(
            "%s failed, retrying",
            what,
            extra={"error": str(error), "attempt": attempt + 1, "retry_in_s": round(delay, 3)},
        )
        if not self._paused and self._running:
            self._paused = True
            self.metrics.paused.set(1)
            log.warning("consumption paused", extra={"partitions": self._assigned_names()})
        deadline = time.monotonic() + delay
        while True:
            if self._stopping.is_set():
                raise _Abandoned(what)
            if self._running:
                await self._poll_paused()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=min(remaining, 1.0))

    async def _poll_paused(self) -> None:
        """Poll with every partition paused so the group keeps this member; a record that
        slips through (a partition assigned meanwhile) is rewound, never skipped."""
        self.consumer.pause(self.consumer.assignment())
        stray = await self.consumer.getmany(timeout_ms=0, max_records=self.settings.max_batch)
        for tp, records in stray.items():
            if records:
                self.consumer.seek(tp, records[0].offset)

    def _resume(self, what: str) -> None:
        self._failing = None
        if self._paused:
            self._paused = False
            self.metrics.paused.set(0)
            self.consumer.resume(self.consumer.assignment())
            log.info("consumption resumed", extra={"after": what})

    def _assigned_names(self) -> list[str]:
        return sorted(map(str, self.consumer.assignment()))

    # -- rebalance ---------------------------------------------------------------------

    async def _on_revoked(self, revoked: set[TP]) -> None:
        if not revoked:
            return
        self.cache.drop_partitions(revoked)
        if self._held is not None:
            # Polled before the rebalance, written after it: never committed by this batch.
            self._held.revoked |= revoked
        writing = self._writing
        if writing is not None and self._paused:
            # The in-flight batch is waiting for OpenSearch or Kafka and cannot finish now;
            # waiting would only hold up the whole group.
            writing.revoked |= revoked
            log.warning(
                "partitions revoked while writes fail; they stay uncommitted",
                extra={"partitions": sorted(map(str, revoked))},
            )
        elif writing is not None:
            log.info(
                "partitions revoked: waiting for the in-flight batch",
                extra={"partitions": sorted(map(str, revoked))},
            )
            try:
                await asyncio.wait_for(
                    self._idle.wait(), timeout=self.settings.rebalance_timeout_seconds
                )
            except TimeoutError:
                writing.revoked |= revoked
                log.warning(
                    "in-flight batch not done in time; its revoked partitions stay uncommitted",
                    extra={"partitions": sorted(map(str, revoked))},
                )
        for tp in revoked:
            self.committed.pop(tp, None)
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))

    async def _on_assigned(self, assigned: set[TP]) -> None:
        log.info("partitions assigned", extra={"partitions": sorted(map(str, assigned))})
        if self._paused:
            # Newly assigned partitions start unpaused: keep everything paused while failing.
            self.consumer.pause(assigned)

    # -- health and metrics ------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        """Unhealthy while starting, stopping or failing to write. A member without
        partitions (more workers than partitions) is a healthy standby, not a failure."""
        if not self._running:
            return False, "starting" if not self._stopping.is_set() else "stopping"
        if self._failing:
            return False, self._failing
        if not self.consumer.assignment():
            return True, "idle: no partitions assigned"
        return True, "ok"

    async def _start_http(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self._health_handler)
        app.router.add_get("/metrics", self._metrics_handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.worker_host, self.settings.worker_port)
        await site.start()
        for address in self._runner.addresses:
            self.http_port = int(address[1])
            break
        log.info(
            "http listening", extra={"host": self.settings.worker_host, "port": self.http_port}
        )

    async def _health_handler(self, request: web.Request) -> web.Response:
        ok, reason = self.health()
        body = {"status": "ok" if ok else "unavailable", "reason": reason}
        return web.Response(
            body=msgspec.json.encode(body),
            status=200 if ok else 503,
            content_type="application/json",
        )

    async def _metrics_handler(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.render(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )
