"""The pure batch planner: create / guarded index / nothing, and the bulk body."""

from __future__ import annotations

import itertools

import msgspec

from ingest.decode import LogEvent, decode_event
from ingest.merge import LogState, merge_all, to_source
from ingest.plan import Action, Stored, bulk_body, plan

MAX = 1 << 20


def event(value: bytes, ts: int) -> LogEvent:
    return decode_event(value, timestamp_ms=ts, max_bytes=MAX)


CREATE = event(
    b'{"id":"a","status":"processing","provider":"openai","model":"gpt-4o",'
    b'"timestamp":"2025-01-01T00:00:00Z"}',
    1000,
)
FINISH = event(b'{"id":"a","status":"success","latency":12.5,"cost":0.5}', 2000)
FIX = event(b'{"type":"log","operation":"update","payload":{"id":"a","cost":0.25}}', 3000)
OTHER = event(b'{"id":"b","status":"error","latency":1}', 1500)


def stored(state: LogState, seq_no: int = 7, term: int = 2) -> Stored:
    return Stored(state=state, seq_no=seq_no, primary_term=term)


def state(*events: LogEvent) -> LogState:
    merged = merge_all(None, events)
    assert merged is not None
    return merged


def test_new_ids_are_created_with_the_merged_source() -> None:
    result = plan({"a": [CREATE, FINISH], "b": [OTHER]}, {})
    assert result.unchanged == []
    assert result.actions == [
        Action(op="create", id="a", source=to_source(state(CREATE, FINISH))),
        Action(op="create", id="b", source=to_source(state(OTHER))),
    ]


def test_existing_id_is_replaced_guarded_by_its_seq_no() -> None:
    result = plan({"a": [FIX]}, {"a": stored(state(CREATE, FINISH), seq_no=41, term=3)})
    assert result.actions == [
        Action(
            op="index",
            id="a",
            source=to_source(state(CREATE, FINISH, FIX)),
            if_seq_no=41,
            if_primary_term=3,
        )
    ]
    assert b'"cost":0.25' in result.actions[0].source


def test_redelivery_plans_no_write() -> None:
    current = stored(state(CREATE, FINISH, FIX))
    result = plan({"a": [FINISH, CREATE, FIX, FINISH]}, {"a": current})
    assert result.actions == []
    assert result.unchanged == ["a"]


def test_superseded_event_plans_no_write() -> None:
    # A late "processing" create never overwrites a finished log's fields it shares.
    late_create = event(b'{"id":"a","status":"processing"}', 5000)
    result = plan({"a": [late_create]}, {"a": stored(state(CREATE, FINISH))})
    assert result.actions == []
    assert result.unchanged == ["a"]


def test_batch_order_does_not_change_the_planned_source() -> None:
    sources = {
        plan({"a": list(order)}, {}).actions[0].source
        for order in itertools.permutations([CREATE, FINISH, FIX])
    }
    assert len(sources) == 1
    # ...and equals merging across batches (stored state + the rest).
    split = plan({"a": [CREATE]}, {"a": stored(state(FIX, FINISH))}).actions[0].source
    assert sources == {split}


def test_mixed_batch() -> None:
    result = plan(
        {"a": [FIX], "b": [OTHER], "c": [event(b'{"id":"c","model":"m"}', 1)]},
        {"a": stored(state(CREATE, FINISH, FIX)), "b": stored(state(CREATE))},
    )
    assert result.unchanged == ["a"]
    assert [(a.op, a.id) for a in result.actions] == [("index", "b"), ("create", "c")]


def test_bulk_body_is_ndjson_with_sources_verbatim() -> None:
    actions = [
        Action(op="create", id="x", source=b'{"id":"x","note":"caf\xc3\xa9"}'),
        Action(op="index", id="y\n", source=b'{"id":"y"}', if_seq_no=0, if_primary_term=1),
    ]
    body = bulk_body(actions)
    assert body.endswith(b"\n")
    lines = body.split(b"\n")[:-1]
    assert len(lines) == 4
    assert msgspec.json.decode(lines[0]) == {"create": {"_id": "x"}}
    assert lines[1] == actions[0].source
    assert msgspec.json.decode(lines[2]) == {
        "index": {"_id": "y\n", "if_seq_no": 0, "if_primary_term": 1}
    }
    assert lines[3] == b'{"id":"y"}'
    assert bulk_body([]) == b""


def test_every_write_carries_the_change_marker() -> None:
    marker = "2026-01-01T00:00:00.123456789Z"
    created = plan({"a": [CREATE]}, {}, indexed_at=marker).actions
    updated = plan({"a": [FINISH]}, {"a": stored(state(CREATE))}, indexed_at=marker).actions
    for [action] in (created, updated):
        assert msgspec.json.decode(action.source)["indexed_at"] == marker
    # Nothing to write: no new marker either.
    assert plan({"a": [CREATE]}, {"a": stored(state(CREATE))}, indexed_at=marker).actions == []
