"""The worker's one OpenSearch adapter: one ``_mget`` to read, one ``_bulk`` to write, one
``_bulk`` to claim homes in the id directory.

Responses are decoded with module-level msgspec decoders (:mod:`ingest.store_types`);
stored ``_source`` stays :class:`msgspec.Raw` (big payloads are never parsed into Python
objects). Failures are classified into :mod:`shared.errors` so the worker decides on
``retriable``/``dead_letter``:

- whole request: connection error, timeout, 429, 5xx -> :class:`StoreUnavailable`;
  any other status -> :class:`StoreFailure` (fatal: wrong index, credentials, ...);
- per bulk item: 409 -> conflict (re-read and re-plan); 429/5xx -> :class:`StoreUnavailable`
  after the whole response was read; other 4xx -> :class:`DocumentRejected` for that id.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

from ingest.decode import REJECTED
from ingest.dropped import create_body
from ingest.merge import from_source, indexed_at_of
from ingest.plan import Action, Stored, bulk_body
from ingest.store_types import (
    BULK,
    HOMES,
    MGET,
    MIGRATION,
    SCAN,
    VERSION,
    BulkItem,
    StoredSource,
    WriteResult,
)
from shared.errors import DocumentRejected, HeimdallError, StoreUnavailable
from shared.index import (
    MAPPING_VERSION,
    ensure_current_partitions,
    ensure_index,
    ensure_partitions,
    versioned_index,
)
from shared.opensearch import RawResponses, make_client
from shared.ops_index import (
    DROPPED_MAPPING,
    PROGRESS_MAPPING,
    dropped_index,
    ensure_side_index,
    lifecycle_index,
    progress_index,
)
from shared.partitions import directory_index
from shared.settings import OpenSearchSettings

__all__ = ["Store", "StoreFailure", "StoredSource", "WriteResult"]


class StoreFailure(HeimdallError):
    """OpenSearch refused a whole request for a reason waiting will not fix (fatal)."""


_ENCODER: Final = msgspec.json.Encoder()
_HEADERS: Final = {"content-type": "application/json"}
_NDJSON: Final = {"content-type": "application/x-ndjson"}


def _where(op: str, alias: str) -> str:
    return f"OpenSearch {op} on {alias}"


def _classify(exc: TransportError, where: str) -> HeimdallError:
    status = exc.status_code
    if isinstance(exc, OSConnectionError) or not isinstance(status, int):
        return StoreUnavailable(f"{where}: {type(exc).__name__}: {exc.info or exc.error}")
    if status == 429 or status >= 500:
        return StoreUnavailable(f"{where}: HTTP {status} {exc.error}")
    return StoreFailure(f"{where}: HTTP {status} {exc.error}")


class Store:
    """Reads and writes log documents through the index alias."""

    def __init__(self, settings: OpenSearchSettings, client: AsyncOpenSearch | None = None):
        self.settings = settings
        self.alias = settings.index_alias
        self._client = client or make_client(settings, serializer=RawResponses())
        #: The alias's write index: the single index of releases before partitions.
        self.base = versioned_index(self.alias)
        #: Whether :attr:`base` holds logs (then ids are looked up there first).
        self.legacy = False
        #: The mapping version written (``<alias>-v<version>-<key>``): the version pointer of
        #: ``<alias>-lifecycle`` once a migration set it (:meth:`read_version`).
        self.version = MAPPING_VERSION

    async def close(self) -> None:
        await self._client.close()

    async def ensure_index(
        self, *, shards: int, replicas: int, refresh_interval: str, partition_days: int = 1
    ) -> str:
        """Create the versioned index and alias unless present (idempotent)."""
        client = make_client(self.settings)
        try:
            index = await ensure_index(
                client,
                self.alias,
                shards=shards,
                replicas=replicas,
                refresh_interval=refresh_interval,
            )
            self.base = index
            self.legacy = int((await client.count(index=index))["count"]) > 0
            version = await self.read_version()
            if version != self.version:
                self.use_version(version)
            await ensure_partitions(
                client,
                self.alias,
                shards=shards,
                replicas=replicas,
                refresh_interval=refresh_interval,
                version=self.version,
                read_alias=await self.migrating_to() != self.version,
            )
            await ensure_current_partitions(client, self.alias, self.version, partition_days)
            await ensure_side_index(client, dropped_index(self.alias), DROPPED_MAPPING)
            await ensure_side_index(client, progress_index(self.alias), PROGRESS_MAPPING)
            return index
        except TransportError as exc:
            raise _classify(exc, _where("index creation", self.alias)) from exc
        finally:
            await client.close()

    async def _request(
        self, op: str, path: str, body: bytes, headers: dict[str, str], index: str | None = None
    ) -> str:
        index = index or self.alias
        try:
            data = await self._client.transport.perform_request(
                "POST", f"/{index}/{path}", body=body, headers=headers
            )
        except TransportError as exc:
            raise _classify(exc, _where(op, index)) from exc
        if not isinstance(data, str):
            raise StoreUnavailable(f"{_where(op, index)}: empty response")
        return data

    async def _side_bulk(self, index: str, body: bytes, *, conflict_ok: bool) -> None:
        """One ``_bulk`` to a side index (:mod:`shared.ops_index`): 429/5xx items are
        :class:`StoreUnavailable` (retried), other refusals :class:`StoreFailure`."""
        if not body:
            return
        response = BULK.decode(await self._request("_bulk", "_bulk", body, _NDJSON, index))
        for entry in response.items:
            for item in entry.values():
                if 200 <= item.status < 300 or (conflict_ok and item.status == 409):
                    continue
                problem = f"{_where('_bulk', index)}: {item.id}: HTTP {item.status} "
                if item.status == 429 or item.status >= 500:
                    raise StoreUnavailable(problem + _describe(item))
                raise StoreFailure(problem + _describe(item))

    async def record_dropped(self, docs: Sequence[tuple[str, bytes]]) -> None:
        """``create`` one ``<alias>-dropped`` document per dead letter; one already there
        (a redelivered record) is left as it is."""
        await self._side_bulk(dropped_index(self.alias), create_body(docs), conflict_ok=True)

    async def write_progress(self, body: bytes) -> None:
        """Upsert the per-partition progress documents (``ingest.progress.progress_body``)."""
        await self._side_bulk(progress_index(self.alias), body, conflict_ok=False)

    async def fetch(
        self, ids: Iterable[str], homes: Mapping[str, str] | None = None
    ) -> dict[str, Stored]:
        """The stored documents of ``ids`` (absent ids are left out): one realtime ``_mget``,
        each id read in its home partition (``homes``; absent or "": the write index). A
        partition that no longer exists (deleted by retention) holds nothing."""
        wanted = list(ids)
        if not wanted:
            return {}
        where = homes or {}
        docs = [{"_index": where.get(i) or self.base, "_id": i} for i in wanted]
        body = _ENCODER.encode({"docs": docs})
        response = MGET.decode(await self._request("_mget", "_mget", body, _HEADERS))
        found: dict[str, Stored] = {}
        for doc in response.docs:
            if doc.error and b"index_not_found_exception" in bytes(doc.error):
                continue
            if doc.error:
                raise StoreUnavailable(
                    f"{_where('_mget', self.alias)}: {doc.id}: {bytes(doc.error).decode()}"
                )
            if doc.found and doc.seq_no is not None and doc.primary_term is not None:
                found[doc.id] = Stored(
                    state=from_source(doc.id, doc.source),
                    seq_no=doc.seq_no,
                    primary_term=doc.primary_term,
                    index=doc.index,
                    indexed_at=indexed_at_of(doc.source),
                )
        return found

    async def _lifecycle_doc(self, doc_id: str) -> bytes | None:
        path = f"/{lifecycle_index(self.alias)}/_doc/{doc_id}"
        try:
            text = await self._client.transport.perform_request("GET", path)
        except NotFoundError:
            return None
        except TransportError as exc:
            raise _classify(exc, _where("lifecycle", self.alias)) from exc
        return text.encode() if isinstance(text, str) else None

    async def read_version(self) -> int:
        """The mapping version to write: the pointer a migration leaves in
        ``<alias>-lifecycle`` (document ``version``), else :data:`MAPPING_VERSION`."""
        text = await self._lifecycle_doc("version")
        found = VERSION.decode(text) if text else None
        return found.source.version if found and found.found and found.source else MAPPING_VERSION

    async def migrating_to(self) -> int | None:
        """The version a migration under way moves the logs to (None: none under way)."""
        text = await self._lifecycle_doc("migration")
        found = MIGRATION.decode(text) if text else None
        if found is None or not found.found or found.source is None:
            return None
        return None if found.source.phase == "done" else found.source.target

    def use_version(self, version: int) -> None:
        """Write ``version`` from now on (its write index is ``<alias>-v<version>``)."""
        self.version = version
        self.base = versioned_index(self.alias, version)
        self.legacy = False

    async def claim(self, wanted: Mapping[str, str]) -> dict[str, str]:
        """Every id's home partition key: ``wanted[id]`` if this call is the first to claim
        the id (``create`` in the directory), else the key its first claimer recorded."""
        if not wanted:
            return {}
        directory = directory_index(self.alias)
        parts: list[bytes] = []
        for doc_id, key in wanted.items():
            parts.append(_ENCODER.encode({"create": {"_id": doc_id}}))
            parts.append(_ENCODER.encode({"partition": key}))
        parts.append(b"")
        text = await self._request("claim", "_bulk", b"\n".join(parts), _NDJSON, directory)
        homes: dict[str, str] = {}
        taken: list[str] = []
        for entry in BULK.decode(text).items:
            for item in entry.values():
                if 200 <= item.status < 300:
                    homes[item.id] = wanted[item.id]
                elif item.status == 409:
                    taken.append(item.id)
                elif item.status == 429 or item.status >= 500:
                    raise StoreUnavailable(f"{_where('claim', directory)}: {_describe(item)}")
                else:
                    raise StoreFailure(f"{_where('claim', directory)}: {_describe(item)}")
        if taken:
            body = _ENCODER.encode({"ids": taken})
            found = HOMES.decode(await self._request("claim", "_mget", body, _HEADERS, directory))
            for doc in found.docs:
                if not doc.found or doc.source is None:
                    # Deleted between the two requests (only a test does that): claim again.
                    raise StoreUnavailable(f"{_where('claim', directory)}: {doc.id} vanished")
                homes[doc.id] = doc.source.partition
        return homes

    async def scan(
        self, after: str | None, size: int, indices: Sequence[str] = ()
    ) -> list[StoredSource]:
        """The next ``size`` documents in id order after the id ``after`` (None: the first),
        each with its stored bytes, index and concurrency token; through the alias, or in
        ``indices``."""
        body: dict[str, object] = {
            "size": size,
            "sort": [{"id": "asc"}],
            "seq_no_primary_term": True,
            "query": {"match_all": {}},
        }
        if after is not None:
            body["search_after"] = [after]
        where = ",".join(indices) if indices else None
        text = await self._request("scan", "_search", _ENCODER.encode(body), _HEADERS, where)
        return [
            StoredSource(
                id=hit.id,
                source=bytes(hit.source),
                seq_no=hit.seq_no,
                primary_term=hit.primary_term,
                index=hit.index,
            )
            for hit in SCAN.decode(text).hits.hits
        ]

    async def write(self, actions: Sequence[Action]) -> WriteResult:
        """Apply ``actions`` with one ``_bulk`` (no refresh) and classify every item.

        Raises :class:`StoreUnavailable` if the request or any item failed transiently (the
        caller retries the whole batch: writes are idempotent, so items that did succeed
        are found unchanged next time).
        """
        if not actions:
            return WriteResult(written=[], conflicts=[], rejected={}, seconds=0.0)
        started = time.perf_counter()
        text = await self._request("_bulk", "_bulk", bulk_body(actions), _NDJSON)
        seconds = time.perf_counter() - started
        response = BULK.decode(text)
        written: list[str] = []
        conflicts: list[str] = []
        rejected: dict[str, DocumentRejected] = {}
        transient: list[str] = []
        versions: dict[str, tuple[int, int]] = {}
        for entry in response.items:
            for item in entry.values():
                if 200 <= item.status < 300:
                    written.append(item.id)
                    if item.seq_no is not None and item.primary_term is not None:
                        versions[item.id] = (item.seq_no, item.primary_term)
                elif item.status == 409:
                    conflicts.append(item.id)
                elif item.status == 429 or item.status >= 500:
                    transient.append(f"{item.id}: HTTP {item.status} {_describe(item)}")
                else:
                    rejected[item.id] = DocumentRejected(
                        REJECTED, f"OpenSearch HTTP {item.status}: {_describe(item)}"
                    )
        if transient:
            raise StoreUnavailable(
                f"{_where('_bulk', self.alias)}: {len(transient)} item(s) failed, "
                f"first: {transient[0]}"
            )
        return WriteResult(
            written=written,
            conflicts=conflicts,
            rejected=rejected,
            seconds=seconds,
            versions=versions,
        )

    async def refresh(self) -> None:
        """Make recent writes searchable (tests and benchmarks only)."""
        try:
            await self._client.transport.perform_request("POST", f"/{self.alias}/_refresh")
        except TransportError as exc:
            raise _classify(exc, _where("_refresh", self.alias)) from exc


def _describe(item: BulkItem) -> str:
    if item.error is None:
        return "no error detail"
    return f"{item.error.type}: {item.error.reason or ''}".strip()
