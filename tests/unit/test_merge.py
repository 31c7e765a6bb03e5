"""The merge rules: field-wise, monotonic in status, order-independent, idempotent."""

from __future__ import annotations

import itertools
import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.decode import LogEvent, decode_event
from ingest.merge import LogState, from_source, merge, merge_all, to_source
from shared.schema import TERMINAL_STATUSES

MAX = 1 << 20


def event(doc: dict[str, Any], *, at: int, envelope: str | None = None) -> LogEvent:
    body: dict[str, Any] = doc
    if envelope is not None:
        body = {"type": "log", "operation": envelope, "payload": doc}
    return decode_event(json.dumps(body).encode(), timestamp_ms=at, max_bytes=MAX)


def source(state: LogState | None) -> dict[str, Any]:
    assert state is not None
    decoded: dict[str, Any] = msgspec.json.decode(to_source(state))
    return decoded


CREATE = {
    "id": "L1",
    "status": "processing",
    "model": "gpt-4o",
    "provider": "openai",
    "timestamp": "2026-11-21T10:00:00Z",
    "input_history": [{"role": "user", "content": "What is the capital of France?"}],
}
FINISH = {
    "id": "L1",
    "status": "success",
    "latency": 812.5,
    "cost": 0.0042,
    "token_usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    "output_message": {"role": "assistant", "content": "Paris."},
}
CORRECTION = {
    "id": "L1",
    "cost": 0.005,
    "token_usage": {"prompt_tokens": 12, "completion_tokens": 6},
}


def test_lifecycle_every_order_gives_the_same_document() -> None:
    events = [
        event(CREATE, at=100, envelope="create"),
        event(FINISH, at=200, envelope="update"),
        event(CORRECTION, at=300, envelope="update"),
    ]
    results = {to_source(merge_all(None, order)) for order in itertools.permutations(events)}  # type: ignore[arg-type]
    assert len(results) == 1
    doc = msgspec.json.decode(results.pop())
    assert doc["status"] == "success"
    assert doc["model"] == "gpt-4o"
    assert doc["cost"] == 0.005  # the correction applies
    assert doc["token_usage"] == {"prompt_tokens": 12, "completion_tokens": 6}
    assert doc["total_tokens"] == 18  # derived: prompt + completion when total is absent
    assert doc["latency"] == 812.5
    assert "capital of France" in doc["search_text"]
    assert "Paris." in doc["search_text"]


def test_processing_never_overwrites_a_terminal_status_even_when_later() -> None:
    finish = event(FINISH, at=100)
    late_create = event(CREATE, at=999)  # a producer clock skew or a replay
    assert source(merge(merge(None, finish), late_create))["status"] == "success"
    assert source(merge(merge(None, late_create), finish))["status"] == "success"


def test_absent_or_null_never_erases() -> None:
    first = event(FINISH, at=100)
    nulls = event({"id": "L1", "cost": None, "latency": None, "output_message": None}, at=200)
    doc = source(merge(merge(None, first), nulls))
    assert doc["cost"] == 0.0042
    assert doc["latency"] == 812.5
    assert doc["output_message"] == FINISH["output_message"]


def test_create_arriving_after_its_update_keeps_the_update_fields() -> None:
    create = event({**CREATE, "model": "gpt-4o-requested"}, at=100, envelope="create")
    update = event({**FINISH, "model": "gpt-4o-2024-08-06"}, at=200, envelope="update")
    doc = source(merge(merge(None, update), create))
    assert doc["model"] == "gpt-4o-2024-08-06"
    assert doc["provider"] == "openai"  # fields only the create has are still merged in


def test_terminal_disagreement_later_record_wins_field_by_field() -> None:
    success = event({"id": "L1", "status": "success", "latency": 10.0, "cost": 1.0}, at=100)
    error = event(
        {"id": "L1", "status": "error", "error_details": {"error": {"message": "boom"}}}, at=200
    )
    for order in ((success, error), (error, success)):
        doc = source(merge_all(None, order))
        assert doc["status"] == "error"
        assert doc["latency"] == 10.0  # the error event has no latency: nothing erased
        assert doc["error_details"] == {"error": {"message": "boom"}}


def test_terminal_disagreement_on_equal_timestamps_is_decided_by_digest() -> None:
    a = event({"id": "L1", "status": "success"}, at=100)
    b = event({"id": "L1", "status": "cancelled"}, at=100)
    winner = max((a, b), key=lambda e: e.version)
    assert source(merge_all(None, (a, b)))["status"] == source(merge_all(None, (b, a)))["status"]
    assert source(merge_all(None, (a, b)))["status"] == msgspec.json.decode(winner.fields["status"])


def test_corrections_beat_the_finish_whatever_their_timestamps() -> None:
    finish = event(FINISH, at=500)
    early_correction = event(CORRECTION, at=100)  # clocks differ between producers
    assert source(merge(merge(None, early_correction), finish))["cost"] == 0.005


def test_later_correction_wins_over_earlier_correction() -> None:
    c1 = event({"id": "L1", "cost": 1.0}, at=100)
    c2 = event({"id": "L1", "cost": 2.0}, at=200)
    assert source(merge_all(None, (c2, c1)))["cost"] == 2.0
    assert source(merge_all(None, (c1, c2)))["cost"] == 2.0


def test_redelivery_changes_nothing() -> None:
    create, finish = event(CREATE, at=1), event(FINISH, at=2)
    once = merge_all(None, (create, finish))
    assert merge_all(once, (finish, create, finish)) == once


def test_merge_all_is_merge_applied_in_turn_and_leaves_its_input_alone() -> None:
    create, finish, fix = event(CREATE, at=1), event(FINISH, at=2), event(CORRECTION, at=3)
    stored = merge(None, create)
    before = (dict(stored.fields), dict(stored.versions))
    merged = merge_all(stored, (fix, finish, create))
    assert merged == merge(merge(merge(stored, fix), finish), create)
    assert (stored.fields, stored.versions) == before
    assert merge_all(stored, ()) is stored
    assert merge_all(None, ()) is None
    first = merge_all(None, (finish,))
    assert first is not None
    assert first.fields is not finish.fields


def test_source_round_trip() -> None:
    state = merge_all(None, (event(CREATE, at=1), event(FINISH, at=2)))
    assert state is not None
    assert from_source("L1", to_source(state)) == state


# --- property-based: random event sets, every order -------------------------------------

STATUSES = st.sampled_from([None, "processing", "success", "error", "cancelled"])
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "model": st.sampled_from(["m1", "m2", "m3"]),
    "provider": st.sampled_from(["openai", "anthropic"]),
    "latency": st.sampled_from([1.0, 2.5, 300.0]),
    "cost": st.sampled_from([0.0, 0.1, 0.2]),
    "token_usage": st.builds(
        lambda p, c: {"prompt_tokens": p, "completion_tokens": c},
        st.integers(0, 9),
        st.integers(0, 9),
    ),
    "metadata": st.dictionaries(st.sampled_from(["team", "env"]), st.sampled_from(["a", "b"])),
    "output_message": st.builds(
        lambda t: {"role": "assistant", "content": t}, st.sampled_from(["x", "y"])
    ),
}


@st.composite
def events(draw: st.DrawFn) -> LogEvent:
    doc: dict[str, Any] = {"id": "L1"}
    status = draw(STATUSES)
    if status is not None:
        doc["status"] = status
    for name in draw(st.sets(st.sampled_from(sorted(FIELD_VALUES)))):
        doc[name] = draw(st.one_of(st.none(), FIELD_VALUES[name]))
    envelope = draw(st.sampled_from([None, "create", "update"]))
    return event(doc, at=draw(st.integers(0, 3)), envelope=envelope)


@settings(max_examples=150, deadline=None)
@given(st.lists(events(), min_size=1, max_size=5))
def test_every_arrival_order_gives_the_same_state(batch: list[LogEvent]) -> None:
    results = {to_source(merge_all(None, order)) for order in itertools.permutations(batch)}  # type: ignore[arg-type]
    assert len(results) == 1


@settings(max_examples=150, deadline=None)
@given(st.lists(events(), min_size=1, max_size=6), st.data())
def test_redelivery_and_regrouping_are_harmless(batch: list[LogEvent], data: st.DataObject) -> None:
    expected = merge_all(None, batch)
    replayed = data.draw(st.lists(st.sampled_from(batch), max_size=8))
    # Merge in two halves, as two batches of a worker would, with duplicates in between.
    split = data.draw(st.integers(0, len(batch)))
    state = merge_all(None, batch[:split])
    state = merge_all(state, replayed)
    state = merge_all(state, batch[split:])
    assert state == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(events(), min_size=1, max_size=6))
def test_invariants(batch: list[LogEvent]) -> None:
    state = merge_all(None, batch)
    assert state is not None
    # Field-wise: every field any event carried is present.
    assert set(state.fields) == {name for e in batch for name in e.fields}
    # Monotonic: a terminal status anywhere means a terminal status at the end.
    statuses = {msgspec.json.decode(e.fields["status"]) for e in batch if "status" in e.fields}
    if statuses & TERMINAL_STATUSES:
        assert msgspec.json.decode(state.fields["status"]) in TERMINAL_STATUSES
    # Each field holds the value of the highest-versioned event carrying it.
    for name, raw in state.fields.items():
        best = max((e for e in batch if name in e.fields), key=lambda e: e.version)
        assert bytes(raw) == bytes(best.fields[name])
