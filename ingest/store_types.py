"""The typed answers of the OpenSearch requests :mod:`ingest.store` sends, decoded with
module-level msgspec decoders (stored ``_source`` stays :class:`msgspec.Raw`)."""

from __future__ import annotations

from typing import Final

import msgspec

from shared.errors import DocumentRejected


class _MgetDoc(msgspec.Struct):
    id: str = msgspec.field(name="_id")
    index: str = msgspec.field(name="_index", default="")
    found: bool = False
    seq_no: int | None = msgspec.field(name="_seq_no", default=None)
    primary_term: int | None = msgspec.field(name="_primary_term", default=None)
    source: msgspec.Raw = msgspec.field(name="_source", default=msgspec.Raw())
    error: msgspec.Raw = msgspec.Raw()


class _Mget(msgspec.Struct):
    docs: list[_MgetDoc]


class _Home(msgspec.Struct):
    partition: str


class _HomeDoc(msgspec.Struct):
    id: str = msgspec.field(name="_id")
    found: bool = False
    source: _Home | None = msgspec.field(name="_source", default=None)


class _Homes(msgspec.Struct):
    docs: list[_HomeDoc]


class _ItemError(msgspec.Struct):
    type: str = ""
    reason: str | None = None


class BulkItem(msgspec.Struct):
    id: str = msgspec.field(name="_id")
    status: int = 0
    seq_no: int | None = msgspec.field(name="_seq_no", default=None)
    primary_term: int | None = msgspec.field(name="_primary_term", default=None)
    error: _ItemError | None = None


class _Bulk(msgspec.Struct):
    errors: bool
    items: list[dict[str, BulkItem]]


class _ScanHit(msgspec.Struct):
    id: str = msgspec.field(name="_id")
    index: str = msgspec.field(name="_index", default="")
    seq_no: int = msgspec.field(name="_seq_no", default=-1)
    primary_term: int = msgspec.field(name="_primary_term", default=-1)
    source: msgspec.Raw = msgspec.field(name="_source", default=msgspec.Raw(b"{}"))


class _ScanHits(msgspec.Struct):
    hits: list[_ScanHit]


class _Scan(msgspec.Struct):
    hits: _ScanHits


class StoredSource(msgspec.Struct, frozen=True):
    """A document exactly as stored, with its concurrency token."""

    id: str
    source: bytes
    seq_no: int
    primary_term: int
    index: str = ""


class _Version(msgspec.Struct):
    version: int


class _VersionDoc(msgspec.Struct):
    found: bool = False
    source: _Version | None = msgspec.field(name="_source", default=None)


VERSION: Final = msgspec.json.Decoder(_VersionDoc)


class _Migration(msgspec.Struct):
    target: int
    phase: str


class _MigrationDoc(msgspec.Struct):
    found: bool = False
    source: _Migration | None = msgspec.field(name="_source", default=None)


MIGRATION: Final = msgspec.json.Decoder(_MigrationDoc)
MGET: Final = msgspec.json.Decoder(_Mget)
HOMES: Final = msgspec.json.Decoder(_Homes)
SCAN: Final = msgspec.json.Decoder(_Scan)
BULK: Final = msgspec.json.Decoder(_Bulk)


class WriteResult(msgspec.Struct, kw_only=True):
    written: list[str]
    #: Ids whose guarded write lost a race (409): re-read and re-plan them.
    conflicts: list[str]
    #: Ids OpenSearch refused permanently.
    rejected: dict[str, DocumentRejected]
    seconds: float
    #: ``(_seq_no, _primary_term)`` of every written id whose response carried them.
    versions: dict[str, tuple[int, int]] = msgspec.field(default_factory=dict)
