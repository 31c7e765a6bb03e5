"""The ingest worker: Kafka batches -> merged documents -> one bulk write -> commit.

Per batch (``getmany``, at most ``max_batch`` records):

1. decode every record (:func:`ingest.batch.decode_batch`); a :class:`BadEvent` goes to the
   dead-letter list;
2. write it (:class:`ingest.writer.BatchWriter`): plan from what this worker wrote recently
   or as new documents, one ``_bulk``, and ids refused with 409 read back, re-planned and
   written until none is left; ids OpenSearch rejects permanently go to the dead-letter list
   with all their records;
3. send the dead-letter list (:mod:`ingest.dead_letters`; acks=all, idempotent), wait for
   every acknowledgement, and record each dead letter in ``<alias>-dropped``;
4. commit ``last offset + 1`` for every partition of the batch.

Two batches are in flight at most: while one is written and committed (steps 2-4, in a task),
the next is polled and decoded; it is written only after the previous one committed. So an
offset is committed only once everything before it is durably written or parked.
While OpenSearch (or Kafka, for the dead-letter topic) fails transiently, the worker pauses
every assigned partition, backs off exponentially with jitter, keeps polling (with everything
paused) so the group keeps it as a member, and retries the same batch; it never skips one
(:mod:`ingest.retry`).
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

``/health`` and ``/metrics`` are served by :class:`ingest.health.HealthServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

from ingest.batch import Batch, Decoded, decode_batch, next_offsets
from ingest.cache import WriteCache
from ingest.dead_letters import DeadLetter, send_dead_letters
from ingest.dropped import dropped_documents
from ingest.feeds import decoders
from ingest.health import HealthServer
from ingest.kafka import TP, CommitRefused, Consumer, Producer, Record, where
from ingest.metrics import WAIT, Metrics
from ingest.progress import Progress
from ingest.retry import Abandoned, PausingRetry
from ingest.router import Router
from ingest.schedule import LifecycleSchedule
from ingest.settings import WorkerSettings
from ingest.store import Store
from ingest.writer import BatchWriter

log = logging.getLogger("heimdall.ingest")

#: Records of the first poll, before their size is known (see ``Worker._max_records``).
_FIRST_POLL: Final = 64
#: Records decoded between two yields to the event loop (see ``Worker._decode``).
_DECODE_SLICE: Final = 100


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
        router = Router(
            self.store,
            partition_days=settings.partition_days,
            retention_days=settings.retention_days,
        )
        self.writer = BatchWriter(
            self.store, self.cache, self.metrics, self.consumer.assignment, router
        )
        #: Moving average of the record size, which sizes polls (``max_batch_bytes``).
        self._record_bytes = 0.0
        #: Offsets this worker committed (next offset to read), per partition.
        self.committed: dict[TP, int] = {}
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._running = False
        #: Runs an operation until it succeeds, consumption paused while it fails.
        self._retrying = PausingRetry(
            settings, self.consumer, self.metrics, self._stopping, lambda: self._running
        )
        #: The batch being written and committed, and the one polled after it.
        self._writing: Batch | None = None
        self._held: Batch | None = None
        self._http = HealthServer(self.health, self.metrics.render, log)
        self.lifecycle = LifecycleSchedule(settings)

    # -- lifecycle ---------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to finish its current batch and exit (signal-handler safe)."""
        if not self._stopping.is_set():
            log.info("stop requested: draining the current batch")
        self._stopping.set()

    @property
    def http_port(self) -> int | None:
        """The port of ``/health`` and ``/metrics`` (see :mod:`ingest.health`)."""
        return self._http.port

    @property
    def paused(self) -> bool:
        return self._retrying.paused

    def consumer_assigned(self) -> bool:
        """Running with at least one partition assigned."""
        return self._running and bool(self.consumer.assignment())

    async def run(self) -> None:
        """Run until :meth:`stop`; raises on fatal errors (bad configuration, ...)."""
        s = self.settings
        await self._http.start(s.worker_host, s.worker_port)
        try:
            index = await self._retrying(
                "create index",
                lambda: self.store.ensure_index(
                    shards=s.index_shards,
                    replicas=s.index_replicas,
                    refresh_interval=s.index_refresh_interval,
                    partition_days=s.partition_days,
                ),
            )
            log.info("index ready", extra={"alias": s.index_alias, "index": index})
            self.lifecycle.start()
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
        except Abandoned:
            pass
        finally:
            self._running = False
            await self._shutdown()

    async def _loop(self) -> None:
        writing: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                if writing is not None and (writing.done() or self._retrying.paused):
                    # Surface a failure at once; while writes fail, the writer polls.
                    task, writing = writing, None
                    await task
                records = await self._retrying("poll", self._poll)
                if not records:
                    continue
                batch = self._held = Batch(records, Decoded(events={}, records={}, dead=[]))
                await self._decode(batch)
                if writing is not None and self._writing is not None:
                    await self.writer.plan_early(batch, self._writing)
                if writing is not None:
                    task, writing = writing, None
                    started = time.perf_counter()
                    await task
                    self.metrics.stage(WAIT, time.perf_counter() - started)
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

    async def _decode(self, batch: Batch) -> None:
        """Decode the batch's records a slice at a time, yielding to the event loop in
        between: the write in flight sends its ``_bulk`` and reads its answer meanwhile (a
        poll that finds records already fetched returns without yielding, so without this
        the write would not even start before the whole batch is decoded)."""
        flat = [record for part in batch.records.values() for record in part]
        self.metrics.consumed.inc(len(flat))
        busy = 0.0
        for start in range(0, len(flat), _DECODE_SLICE):
            if start:
                await asyncio.sleep(0)
            started = time.perf_counter()
            part = flat[start : start + _DECODE_SLICE]
            decode_batch(part, self.settings.max_event_bytes, self.decoders, into=batch.decoded)
            busy += time.perf_counter() - started
        self.metrics.stage("decode", busy)

    async def _shutdown(self) -> None:
        await self.lifecycle.stop()
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
        await self._http.close()
        log.info("stopped", extra={"committed": {str(tp): o for tp, o in self.committed.items()}})

    # -- one batch ---------------------------------------------------------------------

    async def _process(self, batch: Batch) -> None:
        self._idle.clear()
        self._writing = batch
        decoded = batch.decoded
        try:
            try:
                rejected = await self._retrying("index batch", lambda: self.writer.write(batch))
            except Abandoned:
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
                await self._retrying(
                    "dead-letter",
                    lambda: send_dead_letters(
                        self.producer, self.settings.dlq_topic, dead, self.metrics
                    ),
                )
                await self._retrying("record dropped", lambda: self.store.record_dropped(dropped))
            self.progress.observe(decoded.events, decoded.records, rejected)
            started = time.perf_counter()
            await self._commit(next_offsets(batch.records), batch.revoked)
            self.metrics.stage("commit", time.perf_counter() - started)
        finally:
            self._writing = None
            self._idle.set()

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

    # -- rebalance ---------------------------------------------------------------------

    async def _on_revoked(self, revoked: set[TP]) -> None:
        if not revoked:
            return
        self.cache.drop_partitions(revoked)
        if self._held is not None:
            # Polled before the rebalance, written after it: never committed by this batch.
            self._held.revoked |= revoked
        writing = self._writing
        if writing is not None and self._retrying.paused:
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
        # Again: the batch waited for cached its writes, and the consumer still lists the
        # revoked partitions as assigned while this listener runs.
        self.cache.drop_partitions(revoked)
        for tp in revoked:
            self.committed.pop(tp, None)
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))

    async def _on_assigned(self, assigned: set[TP]) -> None:
        log.info("partitions assigned", extra={"partitions": sorted(map(str, assigned))})
        if self._retrying.paused:
            # Newly assigned partitions start unpaused: keep everything paused while failing.
            self.consumer.pause(assigned)

    # -- health and metrics ------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        """Unhealthy while starting, stopping or failing to write. A member without
        partitions (more workers than partitions) is a healthy standby, not a failure."""
        if not self._running:
            return False, "starting" if not self._stopping.is_set() else "stopping"
        if self._retrying.failing:
            return False, self._retrying.failing
        if not self.consumer.assignment():
            return True, "idle: no partitions assigned"
        return True, "ok"
