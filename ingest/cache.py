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
"""

from __future__ import annotations

from collections import OrderedDict

from ingest.kafka import TP
from ingest.merge import from_source
from ingest.plan import Stored


class WriteCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[TP, bytes, int, int, str]] = OrderedDict()
        self._by_partition: dict[TP, set[str]] = {}
        self.bytes = 0

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
        if len(source) > self.max_bytes:
            return
        self._entries[doc_id] = (tp, source, seq_no, primary_term, index)
        self._by_partition.setdefault(tp, set()).add(doc_id)
        self.bytes += len(source)
        while self.bytes > self.max_bytes:
            self.discard(next(iter(self._entries)))

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
        self._by_partition.clear()
        self.bytes = 0
