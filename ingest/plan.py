"""Pure planning of one batch's writes: events + stored documents -> bulk actions.

No I/O here. For every id of the batch the merged state is computed from the stored state
(if any) and the batch's events, then:

- no stored document: ``create`` (fails with 409 if another writer created it meanwhile);
- stored document: ``index`` guarded by ``if_seq_no``/``if_primary_term`` (optimistic
  concurrency: 409 if it changed since it was read);
- merged state equal to the stored one (a redelivery, or an older event already superseded):
  nothing at all, so redelivery costs no write.

A 409 is resolved by the caller re-reading those ids and planning again (see
:mod:`ingest.store` and :mod:`ingest.writer`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal

import msgspec

from ingest.decode import LogEvent
from ingest.merge import LogState, merge_all, to_source


class Stored(msgspec.Struct, frozen=True, kw_only=True):
    """A document as read from the index, with its concurrency token."""

    state: LogState
    seq_no: int
    primary_term: int
    #: The concrete index holding it ("": the alias's write index).
    index: str = ""
    #: Its change marker (:data:`shared.index.INDEXED_AT`; None: written before markers).
    indexed_at: str | None = None


class Action(msgspec.Struct, frozen=True, kw_only=True):
    """One bulk item: ``create`` a new document or ``index`` (replace) a known version."""

    op: Literal["create", "index"]
    id: str
    source: bytes
    if_seq_no: int | None = None
    if_primary_term: int | None = None
    #: The concrete index written ("": the alias's write index).
    index: str = ""


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    actions: list[Action]
    #: Ids whose merged state equals the stored document: nothing to write.
    unchanged: list[str]


def plan(
    events: Mapping[str, Sequence[LogEvent]],
    stored: Mapping[str, Stored],
    homes: Mapping[str, str] | None = None,
    *,
    indexed_at: str | None = None,
) -> Plan:
    """The writes that bring every id of ``events`` to its merged state. A new document is
    created in its home partition (``homes``; absent: the alias's write index), a stored
    one is replaced where it is. Every written source carries ``indexed_at``, the change
    marker (the writer passes its clock)."""
    actions: list[Action] = []
    unchanged: list[str] = []
    for doc_id, doc_events in events.items():
        current = stored.get(doc_id)
        merged = merge_all(current.state if current else None, doc_events)
        if merged is None:
            continue
        if current is None:
            home = homes.get(doc_id, "") if homes is not None else ""
            source = to_source(merged, indexed_at)
            actions.append(Action(op="create", id=doc_id, source=source, index=home))
        elif merged == current.state:
            unchanged.append(doc_id)
        else:
            actions.append(
                Action(
                    op="index",
                    id=doc_id,
                    source=to_source(merged, indexed_at),
                    if_seq_no=current.seq_no,
                    if_primary_term=current.primary_term,
                    index=current.index,
                )
            )
    return Plan(actions=actions, unchanged=unchanged)


class _Meta(msgspec.Struct, omit_defaults=True):
    id: str = msgspec.field(name="_id")
    index: str = msgspec.field(name="_index", default="")
    if_seq_no: int | None = None
    if_primary_term: int | None = None


_ENCODER: Final = msgspec.json.Encoder()


def bulk_body(actions: Iterable[Action]) -> bytes:
    """The NDJSON body of a ``_bulk`` request (index given by the URL unless the action names
    one); sources verbatim.
    Built with one join: the body is the only copy of the sources it makes."""
    parts: list[bytes] = []
    for action in actions:
        meta = _Meta(action.id, action.index, action.if_seq_no, action.if_primary_term)
        parts.append(_ENCODER.encode({action.op: meta}))
        parts.append(action.source)
    parts.append(b"")
    return b"\n".join(parts)
