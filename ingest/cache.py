"""The documents this worker wrote recently, so the next batch can skip reading them back.

An entry is the exact ``_source`` a ``_bulk`` item wrote, the partition it went to, and the
``_seq_no``/``_primary_term`` OpenSearch answered for it. The worker plans a cached id's next
write from that entry instead of an ``_mget``, guarded by ``if_seq_no``/``if_primary_term`` as
always, so a stale entry can never overwrite anything: if any other writer touched the document
since, the write is refused with 409 and the id is read again from OpenSearch (the fallback
every write already has). A cached state equal to the merged one means nothing to write; that
stays true when another writer changed the document since, because every writer only ever adds
to what it read.

Entries belong to the partition of the id's latest record and are dropped when that partition
is revoked (another worker may write the id from then on). The cache is bounded by the total
size of its sources (least recently written first out); ``0`` disables it.

It also remembers the *home* (the concrete index) of the ids it wrote, longer than their
sources: one short string per id, at most ``max_bytes // 1024`` of them, least recently
written first out. A log's home never changes once its directory entry exists (see
:mod:`ingest.router`), so an id whose source was evicted, or whose Kafka partition was
revoked, is read in its home with one ``_mget`` instead of being claimed again (a claim that
fails with 409, a read of the directory, a ``create`` that fails with 409, then the read).
Only a change of the mapping version (:meth:`clear`) forgets homes; the router checks a
remembered home against retention before using it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from ingest.kafka import TP
from ingest.merge import from_source
from ingest.plan import Stored


class WriteCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[TP, bytes, int, int, str]] = OrderedDict()
        self._by_partition: dict[TP, set[str]] = {}
        self.bytes = 0
        #: id -> the index it was written to, kept after its entry is gone.
        self._homes: OrderedDict[str, str] = OrderedDict()
        self.max_homes = max_bytes // 1024

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, doc_id: str) -> Stored | None:
        entry = self._entries.get(doc_id)
        if entry is None:
            return None
        _, source, seq_no, primary_term, index = entry
        return Stored(
            state=from_source(doc_id, source), seq_no=seq_no, primary_term=primary_term, index=index
        )

    def put(
        self,
        tp: TP,
        doc_id: str,
        source: bytes,
        seq_no: int,
        primary_term: int,
        index: str = "",
    ) -> None:
        """Remember what was written to ``index`` (its partition; "": the write index)."""
        self.discard(doc_id)
        if index and self.max_homes:
            self._homes[doc_id] = index
            self._homes.move_to_end(doc_id)
            if len(self._homes) > self.max_homes:
                self._homes.popitem(last=False)
        if len(source) > self.max_bytes:
            return
        self._entries[doc_id] = (tp, source, seq_no, primary_term, index)
        self._by_partition.setdefault(tp, set()).add(doc_id)
        self.bytes += len(source)
        while self.bytes > self.max_bytes:
            self.discard(next(iter(self._entries)))

    def homes(self, ids: Iterable[str]) -> dict[str, str]:
        """The remembered home index of each of ``ids`` that has one."""
        found = {}
        for doc_id in ids:
            home = self._homes.get(doc_id)
            if home is not None:
                found[doc_id] = home
        return found

    def discard(self, doc_id: str) -> None:
        entry = self._entries.pop(doc_id, None)
        if entry is None:
            return
        tp, source, _, _, _ = entry
        self.bytes -= len(source)
        ids = self._by_partition.get(tp)
        if ids is not None:
            ids.discard(doc_id)
            if not ids:
                del self._by_partition[tp]

    def drop_partitions(self, tps: set[TP]) -> None:
        for tp in tps:
            for doc_id in list(self._by_partition.get(tp, ())):
                self.discard(doc_id)

    def clear(self) -> None:
        self._entries.clear()
        self._homes.clear()
        self._by_partition.clear()
        self.bytes = 0
