"""Dead letters -> documents of the ``<alias>-dropped`` index (pure).

One document per dead-lettered Kafka record, id ``<topic>-<partition>-<offset>``: written
with ``create``, so a record redelivered after a crash (the worker dead-letters it again) is
refused with 409 and never counted twice. See :mod:`shared.ops_index` for the mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Protocol

import msgspec

from ingest.kafka import Record

#: Longest ``detail`` and ``key`` kept (the dead-letter topic keeps the full record).
MAX_TEXT: Final = 2000
_ENCODER: Final = msgspec.json.Encoder()


class Letter(Protocol):
    """What a dead letter tells (``ingest.dead_letters.DeadLetter``)."""

    @property
    def record(self) -> Record: ...
    @property
    def reason(self) -> str: ...
    @property
    def detail(self) -> str: ...


class DroppedDoc(msgspec.Struct, kw_only=True, omit_defaults=True):
    topic: str
    partition: int
    offset: int
    reason: str
    detail: str
    timestamp: int
    dropped_at: int
    key: str | None = None
    size: int | None = None


def dropped_id(topic: str, partition: int, offset: int) -> str:
    """Unique per record: the last two parts are numbers, whatever the topic name holds."""
    return f"{topic}-{partition}-{offset}"


def dropped_documents(letters: Iterable[Letter], now_ms: int) -> list[tuple[str, bytes]]:
    """``(document id, JSON source)`` of every dead letter, one per record, in id order."""
    out: dict[str, bytes] = {}
    for letter in letters:
        r = letter.record
        doc = DroppedDoc(
            topic=r.topic,
            partition=r.partition,
            offset=r.offset,
            reason=letter.reason,
            detail=letter.detail[:MAX_TEXT],
            timestamp=r.timestamp,
            dropped_at=now_ms,
            key=None if r.key is None else r.key[:MAX_TEXT].decode("utf-8", "replace"),
            size=None if r.value is None else len(r.value),
        )
        out[dropped_id(r.topic, r.partition, r.offset)] = _ENCODER.encode(doc)
    return sorted(out.items())


def create_body(docs: Iterable[tuple[str, bytes]]) -> bytes:
    """NDJSON ``_bulk`` body of ``create`` items (the index is given by the URL)."""
    out = bytearray()
    for doc_id, source in docs:
        out += _ENCODER.encode({"create": {"_id": doc_id}}) + b"\n" + source + b"\n"
    return bytes(out)
