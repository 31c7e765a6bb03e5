"""Writing one batch to OpenSearch until every document is in its merged state.

The first round plans (:func:`ingest.plan.plan`) from what this worker wrote recently
(:class:`ingest.cache.WriteCache`), or, for ids it did not write, as new documents
(``create``); part of it may be planned early, while the previous batch is written
(:meth:`BatchWriter.plan_early`). Each round is one ``_bulk``; ids refused with 409 (the
document exists, or changed since it was written) are read (one ``_mget``), re-planned and
written in the next round, until none is left. Ids OpenSearch rejects permanently are
returned, for the worker to dead-letter. What was written is cached for the next batch,
unless its partition was revoked meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from ingest.batch import Batch
from ingest.cache import WriteCache
from ingest.kafka import TP
from ingest.metrics import Metrics
from ingest.plan import Action, Plan, Stored, plan
from ingest.store import Store, WriteResult
from shared.errors import DocumentRejected
from shared.index import format_nanos

log = logging.getLogger("heimdall.ingest")


def _marker() -> str:
    """The change marker of a write planned now (``indexed_at``, :mod:`shared.index`)."""
    return format_nanos(time.time_ns())


class BatchWriter:
    """Writes batches through ``store``, keeping ``cache`` up to date; ``assignment`` gives
    the partitions currently assigned (a document of another one is not cached)."""

    def __init__(
        self,
        store: Store,
        cache: WriteCache,
        metrics: Metrics,
        assignment: Callable[[], set[TP]],
    ) -> None:
        self.store = store
        self.cache = cache
        self.metrics = metrics
        self._assignment = assignment

    def plan_early(self, batch: Batch, previous: Batch) -> None:
        """Plan the ids the batch being written does not touch, while it is written: their
        cache entries cannot change meanwhile except by eviction or revoke, and a write
        planned from an entry since dropped is still guarded by its seq_no."""
        started = time.perf_counter()
        busy = previous.decoded.events
        independent = {i: e for i, e in batch.decoded.events.items() if i not in busy}
        batch.early = plan(independent, self._known(independent), _marker())
        self.metrics.stage("merge", time.perf_counter() - started)

    def _known(self, ids: Iterable[str]) -> dict[str, Stored]:
        """The cached documents among ``ids`` (see :mod:`ingest.cache`)."""
        known = {}
        for doc_id in ids:
            stored = self.cache.get(doc_id)
            if stored is not None:
                known[doc_id] = stored
        return known

    async def write(self, batch: Batch) -> dict[str, DocumentRejected]:
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
                todo = plan(pending, stored, _marker())
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

    def _plan_rest(self, batch: Batch) -> Plan:
        """The first round's plan: what :meth:`plan_early` planned (used once: a retried
        batch plans afresh) plus the other ids, from the cache or as new documents."""
        events = batch.decoded.events
        early, batch.early = batch.early, None
        if early is None:
            return plan(events, self._known(events), _marker())
        done = {a.id for a in early.actions}.union(early.unchanged)
        rest = {i: e for i, e in events.items() if i not in done}
        todo = plan(rest, self._known(rest), _marker())
        return Plan(
            actions=early.actions + todo.actions, unchanged=early.unchanged + todo.unchanged
        )

    def _remember(self, batch: Batch, actions: list[Action], result: WriteResult) -> None:
        """Cache what was written (with its new seq_no/primary_term) for the next batch."""
        assigned = self._assignment()
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
