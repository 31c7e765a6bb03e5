"""Every payload field has ONE type, and the contract, the worker and the API's document agree
on it: ``shared.schema.PAYLOAD_SHAPES`` is checked at decode time, states the documented types
(``api.docs.DOC_TYPES``) and matches the contract's ``LogEntry``."""

from __future__ import annotations

from typing import Any, get_type_hints

import msgspec
import pytest
from msgspec import UnsetType

from api.docs import DOC_TYPES, LogEntryDoc, LogSummary, payload_doc_type
from api.query import stored_log
from ingest.decode import INVALID, decode_event
from shared.errors import BadEvent
from shared.schema import (
    ALSO_ACCEPTED,
    PAYLOAD_SHAPES,
    STRING_PAYLOADS,
    LogEntry,
    PayloadShape,
)
from tests.unit.test_api_openapi import generated, resolve, response_schema, spec

#: A value of each shape, with the odd spacing a producer may send (kept byte for byte).
VALID: dict[PayloadShape, bytes] = {
    "string": b'"{\\"id\\": \\"chatcmpl-1\\",  \\"choices\\": []}"',
    "object": b'{ "role" : "user", "content": "hi", "nested": [1, {"x": null}] }',
    "object_array": b'[ {"role": "user", "content": "hi"} , {} ]',
    "number_matrix": b"[[0.5, -2, 3e5], [ ]]",
}
#: Values of another type than the shape, for each shape.
WRONG: dict[PayloadShape, list[bytes]] = {
    "string": [b'{"id":  "chatcmpl-1", "n": [1, 2.50]}', b"[1, 2]", b"42", b"true", b"-1.0e3"],
    "object": [b'"text"', b"[{}]", b"3", b"false"],
    "object_array": [b'"text"', b"{}", b"[1]", b'[{}, "x"]', b"[[]]"],
    "number_matrix": [b'"text"', b"{}", b"[1, 2]", b'[["x"]]', b"[[{}]]"],
}


#: Values of Bifrost's own row shapes that its contract types otherwise.
VALID_ALSO: dict[PayloadShape, list[bytes]] = {
    "string": [b'"text"'],
    "object_array": [b"[{}]", b'[ {"index": 0, "relevance_score": 0.5} ]'],
}


def event(name: str, value: bytes) -> bytes:
    return (
        b'{"type":"log","operation":"update","payload":{"id":"p1","'
        + name.encode()
        + (b'":' + value + b"}}")
    )


def decode(value: bytes) -> dict[str, msgspec.Raw]:
    return decode_event(value, timestamp_ms=1, max_bytes=1 << 20).fields


def test_shapes_cover_every_payload_field() -> None:
    hints = get_type_hints(LogEntry)
    payloads = {name for name, hint in hints.items() if hint is msgspec.Raw}
    assert payloads == set(PAYLOAD_SHAPES)
    assert {"raw_request", "raw_response", "passthrough_request_body"} <= STRING_PAYLOADS


def _contract_shape(doc: dict[str, Any], schema: dict[str, Any]) -> str:
    s = resolve(doc, schema)
    kind = s.get("type") or ("object" if "properties" in s else None)
    if kind != "array":
        assert kind in ("string", "object"), s
        return str(kind)
    items = resolve(doc, s["items"])
    item_kind = items.get("type") or ("object" if "properties" in items else None)
    if item_kind == "object":
        return "object_array"
    assert item_kind == "array", s
    assert resolve(doc, items["items"])["type"] == "number", s
    return "number_matrix"


def test_shapes_match_the_contract() -> None:
    contract = spec("get-log-by-id.openapi.yaml")
    properties = contract["components"]["schemas"]["LogEntry"]["properties"]
    for name, shape in PAYLOAD_SHAPES.items():
        assert _contract_shape(contract, properties[name]) == shape, name


def test_documented_types_follow_shapes() -> None:
    """The Structs behind the OpenAPI document, and the served document itself."""
    hints = get_type_hints(LogEntryDoc)
    summary = get_type_hints(LogSummary)
    served = response_schema(generated(), "/api/logs/{id}", "200")["properties"]
    for name, shape in PAYLOAD_SHAPES.items():
        assert hints[name] == payload_doc_type(name) | UnsetType, name
        if name in summary:
            assert summary[name] == payload_doc_type(name) | UnsetType, name
        if name not in ALSO_ACCEPTED:
            assert _contract_shape(generated(), served[name]) == shape, name
        assert (name in ALSO_ACCEPTED) == (payload_doc_type(name) != DOC_TYPES[shape]), name


@pytest.mark.parametrize("name", sorted(PAYLOAD_SHAPES))
def test_a_value_of_the_documented_type_round_trips(name: str) -> None:
    value = VALID[PAYLOAD_SHAPES[name]]
    stored = decode(event(name, value))[name]
    assert bytes(stored) == value
    source = msgspec.json.encode({"id": "p1", name: stored})
    assert msgspec.json.decode(bytes(stored_log(msgspec.Raw(source))))[name] == (
        msgspec.json.decode(value)
    )


@pytest.mark.parametrize("name", sorted(STRING_PAYLOADS))
@pytest.mark.parametrize("value", WRONG["string"])
def test_a_string_payload_sent_as_other_json_is_kept_as_its_exact_text(
    name: str, value: bytes
) -> None:
    stored = decode(event(name, value))[name]
    assert msgspec.json.decode(bytes(stored)) == value.decode()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (name, value)
        for name, shape in sorted(PAYLOAD_SHAPES.items())
        if shape != "string"
        for value in WRONG[shape]
        if not (name in ALSO_ACCEPTED and value in VALID_ALSO[ALSO_ACCEPTED[name]])
    ],
)
def test_another_payload_of_the_wrong_type_is_a_bad_event(name: str, value: bytes) -> None:
    with pytest.raises(BadEvent) as caught:
        decode(event(name, value))
    assert caught.value.reason == INVALID
    assert f"$.payload.{name}" in caught.value.detail


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, v) for name, also in sorted(ALSO_ACCEPTED.items()) for v in VALID_ALSO[also]],
)
def test_bifrost_row_shapes_are_accepted_and_kept_as_sent(name: str, value: bytes) -> None:
    assert bytes(decode(event(name, value))[name]) == value


def test_null_payloads_stay_absent() -> None:
    fields = decode(event("raw_response", b"null"))
    assert "raw_response" not in fields
    assert "tools" not in decode(event("tools", b"null"))


def test_logs_stored_before_are_served_with_string_payloads() -> None:
    """``GET /api/logs/{id}`` on a log indexed before the worker normalised raw bodies."""
    source = b'{"id":"old","raw_response":{"id": "chatcmpl-1"},"raw_request":"{}","search_text":""}'
    served = msgspec.json.decode(bytes(stored_log(msgspec.Raw(source))))
    assert served == {"id": "old", "raw_response": '{"id": "chatcmpl-1"}', "raw_request": "{}"}
