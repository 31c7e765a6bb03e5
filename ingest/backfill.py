"""``python -m ingest backfill``: bring every stored log up to the current derived fields.

When a release adds a derived field (``prompt_tokens``, ``cache_hit_type``, ``team_owners``,
...), :func:`shared.index.add_missing_fields` adds it to the mapping in place, and the worker
derives it for every log it writes from then on. Logs written before carry no value for it
until they are rewritten, so aggregations over them (token sums, cache hits, fan-out
rankings) would leave them out. This command rewrites them.

Each stored document is re-derived with the worker's own functions
(``to_source(from_source(...))``: the stored fields byte for byte, the derived fields
recomputed, its change marker ``indexed_at`` kept: a backfill is no change of the log). A
document whose bytes do not change is skipped; a changed one is written with
``if_seq_no``/``if_primary_term``, so a log the running worker rewrites meanwhile (with the
new fields already) wins, and its 409 is counted as done. Safe to run while ingesting, to
interrupt and to run again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final

import msgspec

from ingest.merge import from_source, indexed_at_of, to_source
from ingest.plan import Action
from ingest.store import Store, StoredSource

log = logging.getLogger("heimdall.ingest")

PAGE: Final = 500


class Progress(msgspec.Struct, kw_only=True):
    scanned: int = 0
    rewritten: int = 0
    concurrent: int = 0
    """Rewritten by the worker meanwhile (a 409): already current."""
    rejected: int = 0


def rewrites(docs: Iterable[StoredSource]) -> list[Action]:
    """The writes that bring ``docs`` to the current derived fields (unchanged: none)."""
    actions: list[Action] = []
    for doc in docs:
        current = to_source(from_source(doc.id, doc.source), indexed_at_of(doc.source))
        if current != doc.source:
            actions.append(
                Action(
                    op="index",
                    id=doc.id,
                    source=current,
                    if_seq_no=doc.seq_no,
                    if_primary_term=doc.primary_term,
                )
            )
    return actions


async def backfill(store: Store, *, page: int = PAGE) -> Progress:
    """Re-derive every document behind the store's alias; the counts of what happened."""
    progress = Progress()
    after: str | None = None
    while True:
        docs = await store.scan(after, page)
        if not docs:
            return progress
        after = docs[-1].id
        actions = rewrites(docs)
        result = await store.write(actions)
        progress.scanned += len(docs)
        progress.rewritten += len(result.written)
        progress.concurrent += len(result.conflicts)
        progress.rejected += len(result.rejected)
        for doc_id, problem in result.rejected.items():
            log.warning("backfill: %s refused: %s", doc_id, problem)
        log.info("backfill progress", extra=msgspec.structs.asdict(progress))
