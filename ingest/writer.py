"""Writing one batch to OpenSearch until every document is in its merged state.

The first round plans (:func:`ingest.plan.plan`) from what this worker wrote recently
(:class:`ingest.cache.WriteCache`); an id whose source the cache no longer holds but whose
home it remembers is read there (one ``_mget``); any other id becomes a new document
(``create``) in its home partition (:class:`ingest.router.Router`: one claim ``_bulk`` to
the id directory). The ids the batch being written does not touch are claimed and planned
early, while it is written (:meth:`BatchWriter.plan_early`). Each round is one ``_bulk``;
ids refused with 409 (the document exists, or changed since it was written) are read in
their partition (one ``_mget``), re-planned and written in the next round, until none is
left. Ids OpenSearch rejects permanently (or whose partition is past retention) are
returned, for the worker to dead-letter. What was written is cached for the next batch,
unless its partition was revoked meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from ingest.batch import Batch
from ingest.cache import WriteCache
from ingest.kafka import TP
from ingest.metrics import CLAIM_AHEAD, Metrics
from ingest.plan import Action, Plan, Stored, plan
from ingest.router import Homes, Router
from ingest.store import Store, WriteResult
from shared.errors import DocumentRejected, HeimdallError
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
        router: Router | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.metrics = metrics
        self._assignment = assignment
        self.router = router or Router(store, partition_days=1, retention_days=0)

    async def plan_early(self, batch: Batch, previous: Batch) -> None:
        """Plan the ids the batch being written does not touch, while it is written: their
        cache entries cannot change meanwhile except by eviction or revoke, and a write
        planned from an entry since dropped is still guarded by its seq_no. The homes of
        the uncached ones are claimed now too (a claim is final, so claiming early is as
        good as claiming late); if that fails, the write claims them again."""
        busy = previous.decoded.events
        independent = {i: e for i, e in batch.decoded.events.items() if i not in busy}
        known = self._known(independent)
        unknown = {i: e for i, e in independent.items() if i not in known}
        started = time.perf_counter()
        try:
            found = await self.router.homes(
                unknown, datetime.now(UTC).date(), self.cache.homes(unknown)
            )
        except HeimdallError as exc:
            log.debug("early claim failed; claiming at write time", extra={"error": str(exc)})
            found = Homes(indices={}, stored={}, rejected={})
        if unknown:
            self.metrics.stage(CLAIM_AHEAD, time.perf_counter() - started)
        started = time.perf_counter()
        known.update(found.stored)
        ready = {i: e for i, e in independent.items() if i in known or i in found.indices}
        batch.early = plan(ready, known, found.indices, indexed_at=_marker())
        batch.early_rejected = found.rejected
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

        The first round plans from the write cache, taking uncached ids as new (``create``
        in their home partition); every later round reads the ids refused with 409 from
        OpenSearch, where they live."""
        if await self.router.refresh():
            # A migration moved the writes to the next mapping version: what this worker
            # remembers (and planned early) names the previous version's indices.
            log.info("writing mapping version %d", self.store.version)
            self.cache.clear()
            batch.early, batch.early_rejected = None, {}
        events = batch.decoded.events
        pending = events
        rejected: dict[str, DocumentRejected] = {}
        homes: dict[str, str] = {}
        first = True
        while pending:
            started = time.perf_counter()
            if first:
                first = False
                todo, claiming = await self._plan_rest(batch, homes, rejected)
                started += claiming
            else:
                stored = await self.store.fetch(pending, homes)
                self.metrics.stage("read", time.perf_counter() - started)
                started = time.perf_counter()
                todo = plan(pending, stored, homes, indexed_at=_marker())
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

    async def _plan_rest(
        self, batch: Batch, homes: dict[str, str], rejected: dict[str, DocumentRejected]
    ) -> tuple[Plan, float]:
        """The first round's plan: what :meth:`plan_early` planned (used once: a retried
        batch plans afresh) plus the other ids, from the cache or as new documents in their
        home partition; and the seconds its claim took. Fills ``homes`` (id -> index) for
        the later rounds, and ``rejected`` with the ids whose home is past retention."""
        events = batch.decoded.events
        early, batch.early = batch.early, None
        done: set[str] = set()
        actions: list[Action] = []
        unchanged: list[str] = []
        if early is not None:
            done = {a.id for a in early.actions}.union(early.unchanged, batch.early_rejected)
            actions, unchanged = list(early.actions), list(early.unchanged)
            homes.update((a.id, a.index) for a in early.actions)
            rejected.update(batch.early_rejected)
        batch.early_rejected = {}
        rest = {i: e for i, e in events.items() if i not in done}
        known = self._known(rest)
        homes.update((i, stored.index) for i, stored in known.items())
        unknown = {i: e for i, e in rest.items() if i not in known}
        started = time.perf_counter()
        found = await self.router.homes(
            unknown, datetime.now(UTC).date(), self.cache.homes(unknown)
        )
        claiming = time.perf_counter() - started
        if unknown:
            self.metrics.stage("claim", claiming)
        homes.update(found.indices)
        rejected.update(found.rejected)
        known.update(found.stored)
        writable = {i: e for i, e in rest.items() if i not in found.rejected}
        todo = plan(writable, known, homes, indexed_at=_marker())
        return Plan(actions=actions + todo.actions, unchanged=unchanged + todo.unchanged), claiming

    def _remember(self, batch: Batch, actions: list[Action], result: WriteResult) -> None:
        """Cache what was written (with its new seq_no/primary_term) for the next batch."""
        assigned = self._assignment()
        sources = {action.id: action.source for action in actions}
        indices = {action.id: action.index for action in actions}
        for doc_id in result.written:
            tp = batch.partition_of(doc_id)
            version = result.versions.get(doc_id)
            if version is None or tp not in assigned or tp in batch.revoked:
                self.cache.discard(doc_id)
            else:
                self.cache.put(tp, doc_id, sources[doc_id], *version, indices[doc_id])
        for doc_id in (*result.conflicts, *result.rejected):
            self.cache.discard(doc_id)
