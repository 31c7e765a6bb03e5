"""The gateway log schema (Bifrost's ``LogEntry``) as msgspec Structs.

Binding contract: ``components.schemas.LogEntry`` in ``get-log-by-id.openapi.yaml``.

Scalars the project filters, sorts or validates on are typed. Every payload (histories,
outputs, usage, raw bodies, ...) is kept as :class:`msgspec.Raw`: the bytes are stored
exactly as the producer sent them and are decoded only where a value is needed (see
:mod:`ingest.derive`). Each payload has a contract type (:data:`PAYLOAD_SHAPES`), checked at
decode time (:mod:`ingest.decode`) and stated by the API's document (:mod:`api.docs`).
Schema changes are additive: new fields get a default, existing types never change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec

Status = Literal["processing", "success", "error", "cancelled"]
TERMINAL_STATUSES: Final = frozenset({"success", "error", "cancelled"})

#: RFC 3339 with a mandatory offset (``Z`` or ``+hh:mm``).
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]

#: Integers the index stores as OpenSearch ``integer``.
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]

NO_VALUE: Final = msgspec.Raw()


class LogEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One gateway request log. Every field is optional on the wire except ``id``,
    which :func:`ingest.decode.decode_event` enforces (so the error can name the path)."""

    id: str | None = None
    parent_request_id: str | None = None
    provider: str | None = None
    model: str | None = None
    status: Status | None = None
    object: str | None = None
    timestamp: Timestamp | None = None
    created_at: Timestamp | None = None
    number_of_retries: Int32 | None = None
    fallback_index: Int32 | None = None
    latency: float | None = None
    cost: float | None = None
    selected_key_id: str | None = None
    selected_key_name: str | None = None
    virtual_key_id: str | None = None
    virtual_key_name: str | None = None
    routing_engines_used: list[str] | None = None
    routing_rule_id: str | None = None
    routing_rule_name: str | None = None
    stream: bool | None = None
    # Added with Bifrost's newer log rows (governance, aliases, clients); all optional.
    alias: str | None = None
    canonical_model_name: str | None = None
    stop_reason: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    team_id: str | None = None
    team_name: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    business_unit_id: str | None = None
    business_unit_name: str | None = None
    team_ids: list[str] | None = None
    team_names: list[str] | None = None
    customer_ids: list[str] | None = None
    customer_names: list[str] | None = None
    business_unit_ids: list[str] | None = None
    business_unit_names: list[str] | None = None
    user_agent: str | None = None
    app: str | None = None
    is_large_payload_request: bool | None = None
    is_large_payload_response: bool | None = None
    # Nested or heavy values, kept verbatim.
    raw_request: msgspec.Raw = NO_VALUE
    raw_response: msgspec.Raw = NO_VALUE
    passthrough_request_body: msgspec.Raw = NO_VALUE
    passthrough_response_body: msgspec.Raw = NO_VALUE
    token_usage: msgspec.Raw = NO_VALUE
    error_details: msgspec.Raw = NO_VALUE
    input_history: msgspec.Raw = NO_VALUE
    responses_input_history: msgspec.Raw = NO_VALUE
    output_message: msgspec.Raw = NO_VALUE
    responses_output: msgspec.Raw = NO_VALUE
    embedding_output: msgspec.Raw = NO_VALUE
    params: msgspec.Raw = NO_VALUE
    tools: msgspec.Raw = NO_VALUE
    tool_calls: msgspec.Raw = NO_VALUE
    speech_input: msgspec.Raw = NO_VALUE
    transcription_input: msgspec.Raw = NO_VALUE
    image_generation_input: msgspec.Raw = NO_VALUE
    speech_output: msgspec.Raw = NO_VALUE
    transcription_output: msgspec.Raw = NO_VALUE
    image_generation_output: msgspec.Raw = NO_VALUE
    cache_debug: msgspec.Raw = NO_VALUE
    metadata: msgspec.Raw = NO_VALUE
    selected_key: msgspec.Raw = NO_VALUE
    virtual_key: msgspec.Raw = NO_VALUE
    routing_engine_logs: msgspec.Raw = NO_VALUE
    rerank_output: msgspec.Raw = NO_VALUE
    video_generation_input: msgspec.Raw = NO_VALUE
    video_generation_output: msgspec.Raw = NO_VALUE
    video_retrieve_output: msgspec.Raw = NO_VALUE
    video_list_output: msgspec.Raw = NO_VALUE
    video_delete_output: msgspec.Raw = NO_VALUE
    video_download_output: msgspec.Raw = NO_VALUE
    list_models_output: msgspec.Raw = NO_VALUE


#: Every ``LogEntry`` field name, in schema order.
LOG_FIELDS: Final[tuple[str, ...]] = LogEntry.__struct_fields__

#: Payloads left out of list items (``GET /api/logs``) but returned by ``GET /api/logs/{id}``.
HEAVY_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "raw_request",
        "raw_response",
        "passthrough_request_body",
        "passthrough_response_body",
        "input_history",
        "responses_input_history",
        "output_message",
        "responses_output",
        "embedding_output",
        "tools",
        "tool_calls",
        "params",
        "speech_input",
        "transcription_input",
        "image_generation_input",
        "speech_output",
        "transcription_output",
        "image_generation_output",
        "rerank_output",
        "video_generation_input",
        "video_generation_output",
        "video_retrieve_output",
        "video_list_output",
        "video_delete_output",
        "video_download_output",
        "list_models_output",
        "routing_engine_logs",
        "cache_debug",
    }
)


#: The top-level JSON type of a payload, as the contract's ``LogEntry`` types it:
#: ``string``, ``object``, ``object_array`` (an array of objects) or ``number_matrix`` (an
#: array of arrays of numbers).
PayloadShape = Literal["string", "object", "object_array", "number_matrix"]

#: Every payload (``msgspec.Raw``) field of :class:`LogEntry` and its contract type.
PAYLOAD_SHAPES: Final[dict[str, PayloadShape]] = {
    "raw_request": "string",
    "raw_response": "string",
    "passthrough_request_body": "string",
    "passthrough_response_body": "string",
    "token_usage": "object",
    "error_details": "object",
    "input_history": "object_array",
    "responses_input_history": "object_array",
    "output_message": "object",
    "responses_output": "object_array",
    "embedding_output": "number_matrix",
    "params": "object",
    "tools": "object_array",
    "tool_calls": "object_array",
    "speech_input": "object",
    "transcription_input": "object",
    "image_generation_input": "object",
    "speech_output": "object",
    "transcription_output": "object",
    "image_generation_output": "object",
    "cache_debug": "object",
    "metadata": "object",
    "selected_key": "object",
    "virtual_key": "object",
    "routing_engine_logs": "object",
    "rerank_output": "object",
    "video_generation_input": "object",
    "video_generation_output": "object",
    "video_retrieve_output": "object",
    "video_list_output": "object",
    "video_delete_output": "object",
    "video_download_output": "object",
    "list_models_output": "object",
}
#: Payloads that Bifrost's own log rows (``framework/logstore/tables.go``) send in another
#: shape than its published contract: accepted in that shape too, stored and served as sent
#: (``docs/events.md``), so a feed of real Bifrost rows (e.g. the live-log bridge) loses none.
ALSO_ACCEPTED: Final[dict[str, PayloadShape]] = {
    "routing_engine_logs": "string",
    "rerank_output": "object_array",
    "list_models_output": "object_array",
    "embedding_output": "object_array",
}
#: Payloads the contract types as strings (raw bodies).
STRING_PAYLOADS: Final = frozenset(n for n, shape in PAYLOAD_SHAPES.items() if shape == "string")


def as_json_text(raw: msgspec.Raw) -> msgspec.Raw:
    """A string-typed payload as the contract types it: a JSON string (or null) stays as it
    is; any other JSON value becomes a JSON string holding its exact JSON text, byte for byte
    as sent (``{"id": 1}`` -> ``"{\"id\": 1}"``), so nothing is lost. ``raw`` is UTF-8."""
    data = bytes(raw)
    if data.startswith(b'"') or data == b"null":
        return raw
    return msgspec.Raw(msgspec.json.encode(data.decode()))


class ErrorField(msgspec.Struct, kw_only=True, omit_defaults=True):
    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None
    event_id: str | None = None


class BifrostError(msgspec.Struct, kw_only=True):
    """The contract's error body, e.g. ``{"is_bifrost_error": false, "status_code": 400,
    "error": {"message": "limit cannot exceed 1000", "param": "limit"}, "extra_fields": {}}``."""

    status_code: int
    error: ErrorField
    is_bifrost_error: bool = False
    extra_fields: dict[str, str] = msgspec.field(default_factory=dict)
