"""Decoding of both wire forms and every kind of bad input."""

from __future__ import annotations

import json

import msgspec
import pytest

from ingest.decode import (
    INVALID,
    MISSING_ID,
    STAGE_CORRECTION,
    STAGE_FINISH,
    STAGE_START,
    TOO_LARGE,
    UNDECODABLE,
    decode_event,
)
from shared.errors import BadEvent

MAX = 1 << 20


def decode(value: bytes | None, max_bytes: int = MAX) -> object:
    return decode_event(value, timestamp_ms=1_700_000_000_000, max_bytes=max_bytes)


def test_bare_log_entry() -> None:
    event = decode_event(
        b'{"id":"a","status":"processing","model":"gpt-4o","latency":null,"unknown":1}',
        timestamp_ms=5,
        max_bytes=MAX,
    )
    assert event.id == "a"
    assert event.operation is None
    assert set(event.fields) == {"status", "model"}  # null and unknown keys dropped, id apart
    assert event.version.startswith(f"{STAGE_START}:0000000000000005:")


def test_null_payloads_are_dropped_and_nulls_inside_values_kept() -> None:
    event = decode_event(
        b'{"id":"a","token_usage":null,"params":{"stop":null},"model":"x:null",'
        b'"raw_request":null,"metadata":{"k":"v"}}',
        timestamp_ms=5,
        max_bytes=MAX,
    )
    assert {k: bytes(v) for k, v in event.fields.items()} == {
        "model": b'"x:null"',
        "params": b'{"stop":null}',
        "metadata": b'{"k":"v"}',
    }


def test_envelope() -> None:
    payload = {"id": "a", "status": "success", "raw_response": '{"choices":[]}'}
    value = json.dumps({"type": "log", "operation": "update", "payload": payload}).encode()
    event = decode_event(value, timestamp_ms=7, max_bytes=MAX)
    assert event.id == "a"
    assert event.operation == "update"
    assert msgspec.json.decode(event.fields["raw_response"]) == '{"choices":[]}'
    assert event.version.startswith(f"{STAGE_FINISH}:")


def test_nested_values_are_kept_verbatim() -> None:
    value = b'{"id":"a","params":{"temperature":0.70,"z":[1,  2]}}'
    event = decode_event(value, timestamp_ms=0, max_bytes=MAX)
    assert bytes(event.fields["params"]) == b'{"temperature":0.70,"z":[1,  2]}'


@pytest.mark.parametrize(
    ("doc", "stage"),
    [
        ({"id": "a", "status": "processing"}, STAGE_START),
        ({"type": "log", "operation": "create", "payload": {"id": "a"}}, STAGE_START),
        ({"id": "a", "status": "error"}, STAGE_FINISH),
        ({"id": "a", "status": "cancelled"}, STAGE_FINISH),
        ({"id": "a", "cost": 1.0}, STAGE_CORRECTION),
        (
            {"type": "log", "operation": "update", "payload": {"id": "a", "cost": 1}},
            STAGE_CORRECTION,
        ),
    ],
)
def test_stages(doc: dict[str, object], stage: int) -> None:
    event = decode_event(json.dumps(doc).encode(), timestamp_ms=0, max_bytes=MAX)
    assert event.version.startswith(f"{stage}:")


def test_same_record_same_version_and_different_records_differ() -> None:
    a = decode_event(b'{"id":"a","cost":1}', timestamp_ms=1, max_bytes=MAX)
    again = decode_event(b'{"id":"a","cost":1}', timestamp_ms=1, max_bytes=MAX)
    other = decode_event(b'{"id":"a","cost":2}', timestamp_ms=1, max_bytes=MAX)
    assert a.version == again.version
    assert a.version != other.version


@pytest.mark.parametrize(
    ("value", "reason", "where"),
    [
        (b"{", UNDECODABLE, "truncated"),
        (b"not json", UNDECODABLE, "malformed"),
        (b"\xff\xfe{}", UNDECODABLE, "not UTF-8"),
        (None, UNDECODABLE, "tombstone"),
        (b"[]", INVALID, "Expected `object`"),
        (b'{"id": 5}', INVALID, "$.id"),
        (b'{"id":"a","latency":"fast"}', INVALID, "$.latency"),
        (b'{"id":"a","status":"done"}', INVALID, "$.status"),
        (b'{"id":"a","timestamp":"2026-11-21T10:00:00"}', INVALID, "timezone"),
        (b'{"id":"a","timestamp":"yesterday"}', INVALID, "$.timestamp"),
        (
            b'{"id":"a","input_history":[{"role":"user","content":7}]}',
            INVALID,
            "$.input_history[0].content",
        ),
        (
            b'{"id":"a","token_usage":{"total_tokens":"many"}}',
            INVALID,
            "$.token_usage.total_tokens",
        ),
        (b'{"id":"a","metadata":[1]}', INVALID, "$.metadata"),
        (b'{"type":"log","payload":{"id":"a","cost":"x"}}', INVALID, "$.payload.cost"),
        (b'{"type":"metric","payload":{"id":"a"}}', INVALID, "$.type"),
        (b'{"type":"log","operation":"delete","payload":{"id":"a"}}', INVALID, "$.operation"),
        (b'{"type":"log","operation":"create"}', INVALID, "$.payload"),
        (b'{"id":"a","model":"\xc3"}', UNDECODABLE, "not UTF-8"),
        (b'{"id":"a","raw_request":"ok \xff"}', UNDECODABLE, "not UTF-8"),
        (b'{"id":"a","params":' + b"[" * 5000 + b"]" * 5000 + b"}", UNDECODABLE, "nested"),
        (b'{"id":"a","number_of_retries":2147483648}', INVALID, "$.number_of_retries"),
        (b'{"id":"a","fallback_index":-2147483649}', INVALID, "$.fallback_index"),
        (b'{"id":"a","token_usage":{"total_tokens":9223372036854775808}}', INVALID, "token_usage"),
        (b'{"id":"a","timestamp":"1969-12-31T23:59:59Z"}', INVALID, "$.timestamp"),
        (b'{"id":"a","created_at":"2300-01-01T00:00:00Z"}', INVALID, "$.created_at"),
        (b'{"id":"' + b"x" * 513 + b'"}', INVALID, "512 bytes"),
        (b"{}", MISSING_ID, "$.id"),
        (b'{"id":"   "}', MISSING_ID, "$.id"),
        (
            b'{"type":"log","operation":"create","payload":{"status":"processing"}}',
            MISSING_ID,
            "$.payload.id",
        ),
    ],
)
def test_bad_input(value: bytes | None, reason: str, where: str) -> None:
    with pytest.raises(BadEvent) as caught:
        decode(value)
    assert caught.value.reason == reason
    assert where in caught.value.detail
    assert caught.value.dead_letter
    assert not caught.value.retriable


def test_too_large_is_checked_before_decoding() -> None:
    with pytest.raises(BadEvent) as caught:
        decode(b'{"id":"a","raw_request":"' + b"x" * 100 + b'"}', max_bytes=64)
    assert caught.value.reason == TOO_LARGE
    assert "HEIMDALL_MAX_EVENT_BYTES=64" in caught.value.detail


def test_go_zero_time_means_not_set() -> None:
    event = decode_event(
        b'{"id":"a","timestamp":"0001-01-01T00:00:00Z","created_at":"0001-01-01T00:00:00Z"}',
        timestamp_ms=0,
        max_bytes=MAX,
    )
    assert "timestamp" not in event.fields
    assert "created_at" not in event.fields


def test_limits_that_still_decode() -> None:
    event = decode_event(
        b'{"id":"' + b"x" * 512 + b'","fallback_index":2147483647,'
        b'"timestamp":"1970-01-01T00:00:00Z","token_usage":{"total_tokens":9223372036854775807}}',
        timestamp_ms=0,
        max_bytes=MAX,
    )
    assert bytes(event.fields["fallback_index"]) == b"2147483647"
