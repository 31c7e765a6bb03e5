"""The backfill's pure part: which stored documents need the current derived fields."""

from __future__ import annotations

import msgspec

from ingest.backfill import rewrites
from ingest.decode import decode_event
from ingest.merge import indexed_at_of, merge, to_source
from ingest.migrate import joined
from ingest.plan import Stored
from ingest.redact import Redactor
from ingest.store import StoredSource

EVENT = (
    b'{"id":"a","status":"success","cost":1e-7,"cache_debug":{"hit_type":"direct"},'
    b'"token_usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14}}'
)


def current_source() -> bytes:
    return to_source(merge(None, decode_event(EVENT, timestamp_ms=1, max_bytes=1 << 20)))


def test_a_current_document_is_left_alone() -> None:
    assert rewrites([StoredSource("a", current_source(), 3, 1)]) == []


def test_an_older_document_gains_the_derived_fields_and_keeps_its_bytes() -> None:
    current = current_source()
    older = msgspec.json.decode(current)
    for name in ("prompt_tokens", "completion_tokens", "cache_hit_type"):
        del older[name]
    stored = msgspec.json.encode(older)
    [action] = rewrites([StoredSource("a", stored, 7, 2)])
    assert (action.op, action.id, action.if_seq_no, action.if_primary_term) == ("index", "a", 7, 2)
    assert action.source == current
    assert b'"cost":1e-7' in action.source


def test_the_change_marker_is_kept() -> None:
    """A backfill is no change of the log: its ``indexed_at`` stays, and a current
    document with a marker is still left alone."""
    state = merge(None, decode_event(EVENT, timestamp_ms=1, max_bytes=1 << 20))
    marked = to_source(state, "2026-01-01T00:00:00.000000001Z")
    assert rewrites([StoredSource("a", marked, 3, 1)]) == []
    older = msgspec.json.decode(marked)
    del older["prompt_tokens"]
    [action] = rewrites([StoredSource("a", msgspec.json.encode(older), 3, 1)])
    assert action.source == marked


def test_with_redaction_a_clear_document_is_redacted_once() -> None:
    event = (
        b'{"id":"a","status":"success",'
        b'"input_history":[{"role":"user","content":"mail jane@example.com"}]}'
    )
    stored = to_source(merge(None, decode_event(event, timestamp_ms=1, max_bytes=1 << 20)))
    redactor = Redactor("mask")
    [action] = rewrites([StoredSource("a", stored, 7, 2)], redactor)
    assert b"jane@example.com" not in action.source
    assert b'"redaction":"mask"' in action.source
    assert rewrites([StoredSource("a", action.source, 8, 2)], redactor) == []


def test_a_migration_keeps_the_change_marker() -> None:
    """A migration is no change of the log either: the copy keeps ``indexed_at``; joined
    with a target written meanwhile, the newer marker stays."""
    old, new = "2026-01-01T00:00:00.000000001Z", "2026-01-02T00:00:00.000000001Z"
    state = merge(None, decode_event(EVENT, timestamp_ms=1, max_bytes=1 << 20))
    doc = StoredSource("a", to_source(state, old), 3, 1, "heimdall-logs-v1-2026.01.01")
    created = joined(doc, None, "heimdall-logs-v2-2026.01.01")
    assert created is not None
    assert indexed_at_of(created.source) == old
    later = decode_event(
        b'{"id":"a","status":"success","model":"m"}', timestamp_ms=2, max_bytes=1 << 20
    )
    target = merge(None, later)
    for marker, expected in ((new, new), (None, old)):
        current = Stored(state=target, seq_no=5, primary_term=1, indexed_at=marker)
        action = joined(doc, current, "heimdall-logs-v2-2026.01.01")
        assert action is not None
        assert indexed_at_of(action.source) == expected
    assert indexed_at_of(to_source(state)) is None
