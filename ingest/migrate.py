"""``python -m ingest migrate``: move every log to the next mapping version while ingesting.

The source is version ``N``, the one the workers write (:meth:`Store.read_version`); the
target ``N+1`` gets the current :func:`shared.index.mapping` and index settings. Phases,
each resumable from the position saved in ``<alias>-lifecycle`` (document ``migration``)
after every page:

1. ``copy``: every log of version ``N`` (its partitions, and the single index of older
   releases) is *joined* into its partition of ``N+1`` (:func:`ingest.merge.join`: field by
   field the higher version wins; commutative and idempotent, so copying a log twice, or
   after a worker wrote it, changes nothing and loses nothing);
2. ``flip``: the version pointer becomes ``N+1``; workers follow it within
   :data:`ingest.router.VERSION_TTL` and write ``N+1`` only. The migration then waits
   ``migrate_grace_seconds`` (longer than a bulk request can be in flight);
3. ``catchup``: the same pass again, for the events written to ``N`` during the copy;
4. ``swap``: one ``_aliases`` request moves the read alias from every index of ``N`` to
   every index of ``N+1`` (atomic: a search sees one version or the other, never both or
   neither). The indices of ``N`` stay, outside the alias, until retention deletes them.

Between the flip and the swap, new events are written but searched only after the swap
(the alias still reads ``N``): the price of never showing a log twice. A log is in its
partition of ``N+1`` under the same key as in ``N`` (the directory does not change); a log of
the single old index is homed by its ``timestamp`` then, like a new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
from opensearchpy import AsyncOpenSearch, NotFoundError

from ingest.decode import LogEvent
from ingest.merge import from_source, indexed_at_of, join, to_source
from ingest.plan import Action, Stored
from ingest.router import wanted_key
from ingest.store import Store, StoredSource
from shared.index import mapping, versioned_index
from shared.ops_index import LIFECYCLE_MAPPING, ensure_side_index, lifecycle_index
from shared.partitions import (
    parse_partition,
    partition_index,
    template_body,
    template_name,
)

log = logging.getLogger("heimdall.ingest")

PAGE: Final = 500


class State(msgspec.Struct, kw_only=True):
    """The ``migration`` document: where a migration is, to resume it."""

    source: int
    target: int
    phase: str = "copy"
    #: The last id joined in the current pass (None: the pass starts from the first).
    after: str | None = None
    #: Logs joined in the current pass.
    copied: int = 0
    flipped_at: int | None = None


def wanted_for(doc: StoredSource, days: int) -> str:
    """The partition key a log of the old single index wants: of its timestamp, else of
    its earliest event's record time."""
    state = from_source(doc.id, doc.source)
    version = min(state.versions.values(), default="0:0000000000000000:")
    event = LogEvent(id=doc.id, operation=None, fields=state.fields, version=version)
    return wanted_key([event], days)


def joined(doc: StoredSource, current: Stored | None, index: str) -> Action | None:
    """The write bringing ``doc`` into ``index`` where ``current`` may hold it already.
    A migration is no change of the log: the copy keeps its change marker ``indexed_at``
    (joined with the target's: the newer of the two)."""
    state = from_source(doc.id, doc.source)
    marker = indexed_at_of(doc.source)
    if current is None:
        return Action(op="create", id=doc.id, source=to_source(state, marker), index=index)
    merged = join(current.state, state)
    if merged == current.state:
        return None
    markers = [m for m in (marker, current.indexed_at) if m is not None]
    return Action(
        op="index",
        id=doc.id,
        source=to_source(merged, max(markers, default=None)),
        if_seq_no=current.seq_no,
        if_primary_term=current.primary_term,
        index=index,
    )


class Migration:
    def __init__(
        self,
        store: Store,
        client: AsyncOpenSearch,
        *,
        partition_days: int,
        grace_seconds: float,
        settings: dict[str, Any],
        page: int = PAGE,
        on_page: Callable[[State, int], None] | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.alias = store.alias
        self.days = partition_days
        self.grace_seconds = grace_seconds
        self.settings = settings
        self.page = page
        self.on_page = on_page or (lambda state, total: None)
        self.index = lifecycle_index(self.alias)

    async def _load(self) -> State | None:
        try:
            found = await self.client.get(index=self.index, id="migration")
        except NotFoundError:
            return None
        return msgspec.convert(found["_source"], State)

    async def _save(self, state: State) -> None:
        body = msgspec.to_builtins(state)
        await self.client.index(index=self.index, id="migration", body=body, params={})

    async def run(self) -> State:
        """Run (or resume) a migration to the next version; returns the final state."""
        await ensure_side_index(self.client, self.index, LIFECYCLE_MAPPING)
        state = await self._load()
        if state is None or state.phase == "done":
            source = await self.store.read_version()
            state = State(source=source, target=source + 1)
            await self._save(state)
        await self._prepare(state)
        if state.phase == "copy":
            await self._pass(state)
            state.flipped_at = int(time.time() * 1000)
            await self.client.index(
                index=self.index, id="version", body={"version": state.target}, params={}
            )
            state.phase, state.after, state.copied = "catchup", None, 0
            await self._save(state)
            log.info("migrate: writes moved to version %d", state.target)
        if state.phase == "catchup":
            waited = time.time() - (state.flipped_at or 0) / 1000
            if waited < self.grace_seconds:
                await asyncio.sleep(self.grace_seconds - waited)
            await self._pass(state)
            state.phase = "swap"
            await self._save(state)
        if state.phase == "swap":
            await self._swap(state)
            state.phase = "done"
            await self._save(state)
        return state

    async def _prepare(self, state: State) -> None:
        """The target's template (without the alias until the swap) and write index."""
        await self._template(state.target, with_alias=False)
        base = versioned_index(self.alias, state.target)
        if not await self.client.indices.exists(index=base):
            await self.client.indices.create(
                index=base, body={"settings": self.settings, "mappings": mapping()}
            )

    async def _template(self, version: int, *, with_alias: bool) -> None:
        body = template_body(self.alias, version, self.settings, mapping())
        if not with_alias:
            body["template"]["aliases"] = {}
        await self.client.transport.perform_request(
            "PUT", f"/_index_template/{template_name(self.alias, version)}", body=body
        )

    async def _sources(self, version: int) -> list[str]:
        found = await self.client.indices.get(
            index=f"{self.alias}-v{version},{self.alias}-v{version}-*",
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        )
        return sorted(found)

    async def _count(self, indices: list[str]) -> int:
        response = await self.client.count(index=",".join(indices))
        return int(response["count"])

    async def _pass(self, state: State) -> None:
        """Join every log of the source into the target, page by page, from ``after``."""
        sources = await self._sources(state.source)
        if not sources:
            return
        # The pass reads by search: make every write made so far (before the flip and its
        # grace, in the catch-up) searchable first.
        await self.client.indices.refresh(index=",".join(sources))
        total = await self._count(sources)
        while True:
            docs = await self.store.scan(state.after, self.page, sources)
            if not docs:
                return
            await self._copy(docs, state.target)
            state.after = docs[-1].id
            state.copied += len(docs)
            await self._save(state)
            self.on_page(state, total)

    async def _copy(self, docs: list[StoredSource], target: int) -> None:
        """Join ``docs`` into ``target``: a partition's log under the same key, a log of the
        old single index under the key its directory entry names (claimed now if none,
        so that its later events find it there)."""
        keys: dict[str, str] = {}
        legacy: dict[str, str] = {}
        for doc in docs:
            parsed = parse_partition(self.alias, doc.index)
            if parsed is not None:
                keys[doc.id] = parsed[1]
            else:
                legacy[doc.id] = wanted_for(doc, self.days)
        keys.update(await self.store.claim(legacy))
        homes = {doc_id: partition_index(self.alias, key, target) for doc_id, key in keys.items()}
        pending = {doc.id: doc for doc in docs}
        while pending:
            stored = await self.store.fetch(pending, homes)
            actions = [
                action
                for doc in pending.values()
                if (action := joined(doc, stored.get(doc.id), homes[doc.id])) is not None
            ]
            result = await self.store.write(actions)
            if result.rejected:
                first = next(iter(result.rejected.items()))
                raise RuntimeError(f"migrate: the target refused {first[0]}: {first[1]}")
            pending = {doc_id: pending[doc_id] for doc_id in result.conflicts}

    async def _swap(self, state: State) -> None:
        """Move the alias from every index of the source to every index of the target in
        one request; the target's template takes the alias, the source's loses it."""
        await self._template(state.target, with_alias=True)
        await self._template(state.source, with_alias=False)
        current = set(await self.client.indices.get_alias(name=self.alias))
        actions: list[dict[str, Any]] = [
            {"remove": {"index": index, "alias": self.alias}}
            for index in await self._sources(state.source)
            if index in current
        ]
        for index in await self._sources(state.target):
            add: dict[str, Any] = {"index": index, "alias": self.alias}
            if index == versioned_index(self.alias, state.target):
                add["is_write_index"] = True
            actions.append({"add": add})
        await self.client.indices.update_aliases(body={"actions": actions})
        log.info("migrate: alias %s now reads version %d", self.alias, state.target)
