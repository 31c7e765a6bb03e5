"""The order-independent merge of a log's events, and the stored document it produces.

The rule (also in ``docs/events.md``). Every event gets a *version*
``(stage, record time, digest)``, compared in that order:

1. stage: ``0`` start (``status: processing``, or a status-less ``create``), ``1`` finish
   (``success``/``error``/``cancelled``), ``2`` correction (a status-less update, e.g. a later
   ``cost`` or ``token_usage`` fix);
2. the Kafka record timestamp (producer ``CreateTime``, ms);
3. a digest of the record value, so two different events never tie.

The stored log is, field by field, the value of the highest-versioned event that carries a
non-null value for that field. Absent or null never erases. So:

- ``processing`` never overwrites a terminal status (stage 0 < 1);
- a create that arrives after its update loses to it on every field the update carries;
- corrections beat the finish they correct; of two corrections, the later record wins;
- where two terminal events disagree, the one with the later record timestamp wins each
  field it carries; on equal timestamps the higher digest wins (arbitrary but fixed);
- redelivering an event finds its own version already stored and changes nothing.

This is a last-writer-wins map keyed by a total order, so the result depends only on the
set of events: merging is commutative, associative and idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec

from ingest.decode import LogEvent
from ingest.derive import derived_fields
from shared.index import DERIVED_FIELDS, INDEXED_AT, MERGE_VERSIONS, REDACTION
from shared.schema import LOG_FIELDS


class LogState(msgspec.Struct, kw_only=True):
    """A log as stored: its fields (JSON bytes) and, per field, the winning version."""

    id: str
    fields: dict[str, msgspec.Raw]
    versions: dict[str, str]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, LogState)
            and self.id == other.id
            and self.versions == other.versions
            and {k: bytes(v) for k, v in self.fields.items()}
            == {k: bytes(v) for k, v in other.fields.items()}
        )

    __hash__ = None  # type: ignore[assignment]


def merge(state: LogState | None, event: LogEvent) -> LogState:
    """Apply one event; returns a new state (the input is not modified)."""
    if state is None:
        return LogState(
            id=event.id,
            fields=dict(event.fields),
            versions=dict.fromkeys(event.fields, event.version),
        )
    fields = dict(state.fields)
    versions = dict(state.versions)
    for name, raw in event.fields.items():
        current = versions.get(name)
        if current is None or event.version > current:
            fields[name] = raw
            versions[name] = event.version
    return LogState(id=state.id, fields=fields, versions=versions)


def merge_all(state: LogState | None, events: Iterable[LogEvent]) -> LogState | None:
    """:func:`merge` of every event in turn, copying the state's dictionaries once."""
    fields: dict[str, msgspec.Raw] | None = None
    versions: dict[str, str] = {}
    doc_id = ""
    for event in events:
        if fields is None:
            if state is None:
                doc_id, fields = event.id, dict(event.fields)
                versions = dict.fromkeys(event.fields, event.version)
                continue
            doc_id, fields, versions = state.id, dict(state.fields), dict(state.versions)
        version = event.version
        for name, raw in event.fields.items():
            current = versions.get(name)
            if current is None or version > current:
                fields[name] = raw
                versions[name] = version
    if fields is None:
        return state
    return LogState(id=doc_id, fields=fields, versions=versions)


_ENCODER: Final = msgspec.json.Encoder()
_SOURCE_DECODER: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])
_VERSIONS_DECODER: Final = msgspec.json.Decoder(dict[str, str])
_SKIP_ON_READ: Final = frozenset({"id", *DERIVED_FIELDS})
#: The fields of a state written to ``_source``, in order: the log's, then the redaction mode.
_STORED: Final = (*LOG_FIELDS, REDACTION)
#: A field's position in :data:`_STORED`: the order of a stored document's fields.
_SCHEMA_ORDER: Final = {name: position for position, name in enumerate(_STORED)}


def to_source(state: LogState, indexed_at: str | None = None) -> bytes:
    """The ``_source`` written to OpenSearch: the log's fields plus derived fields, and
    ``indexed_at`` (the change marker, :func:`shared.index.format_nanos`) when given.

    Canonical: the same state (and marker) always gives the same bytes, whatever order its
    events came in.
    """
    fields = state.fields
    document: dict[str, object] = {"id": state.id}
    for name in sorted(fields, key=_SCHEMA_ORDER.__getitem__):
        document[name] = fields[name]
    document.update(derived_fields(state.fields))
    document[MERGE_VERSIONS] = dict(sorted(state.versions.items()))
    if indexed_at is not None:
        document[INDEXED_AT] = indexed_at
    return _ENCODER.encode(document)


class _Marker(msgspec.Struct):
    indexed_at: Any = msgspec.field(name=INDEXED_AT, default=None)


#: Reads the marker only (every other field is skipped, not decoded).
_MARKER_DECODER: Final = msgspec.json.Decoder(_Marker)


def indexed_at_of(source: bytes | msgspec.Raw) -> str | None:
    """The change marker a stored ``_source`` carries (None: written before markers)."""
    value = _MARKER_DECODER.decode(source).indexed_at
    return value if isinstance(value, str) else None


def from_source(doc_id: str, source: bytes | msgspec.Raw) -> LogState:
    """Inverse of :func:`to_source` (derived fields are dropped; they are recomputed)."""
    raw = _SOURCE_DECODER.decode(source)
    versions = _VERSIONS_DECODER.decode(raw[MERGE_VERSIONS]) if MERGE_VERSIONS in raw else {}
    fields = {name: value for name, value in raw.items() if name not in _SKIP_ON_READ}
    return LogState(id=doc_id, fields=fields, versions=versions)


def join(a: LogState, b: LogState) -> LogState:
    """The state holding both ``a``'s and ``b``'s events: field by field, the value of the
    higher version (the merge rule, applied to two stored states; commutative, associative,
    idempotent). Used to bring a copy and the original together (``ingest.migrate``)."""
    fields = dict(a.fields)
    versions = dict(a.versions)
    for name, raw in b.fields.items():
        current = versions.get(name)
        theirs = b.versions.get(name, "")
        if name not in fields or (current is not None and theirs > current):
            fields[name] = raw
            versions[name] = theirs
    for name, version in b.versions.items():
        if name not in versions:
            versions[name] = version
    return LogState(id=a.id, fields=fields, versions=versions)
