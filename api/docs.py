"""Typed shapes of the API's responses, for the generated OpenAPI document.

At runtime the handlers pass the stored ``_source`` through (see :mod:`api.query`); these
Structs describe the same JSON with the contract's names and types. A payload is documented
with the type the worker enforces (:data:`DOC_TYPES`), not more: ``error_details`` is an
object, whatever keys it holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from api.query import Stats
from shared.schema import ALSO_ACCEPTED, PAYLOAD_SHAPES, PayloadShape

DocStatus = Literal["processing", "success", "error", "cancelled"]
Object = dict[str, Any]
#: How each payload shape (``shared.schema.PAYLOAD_SHAPES``, checked by the worker) is
#: documented; ``tests/unit/test_payload_shapes.py`` holds every payload field to it.
DOC_TYPES: dict[PayloadShape, Any] = {
    "string": str,
    "object": Object,
    "object_array": list[Object],
    "number_matrix": list[list[float]],
}


def payload_doc_type(name: str) -> Any:
    """The documented type of payload ``name``: its contract shape, widened by the shape
    Bifrost's own rows send where they differ (``shared.schema.ALSO_ACCEPTED``)."""
    shape = PAYLOAD_SHAPES[name]
    also = ALSO_ACCEPTED.get(name)
    if also is None:
        return DOC_TYPES[shape]
    if shape == "number_matrix":  # two array types: one JSON Schema array of either item
        return list[Any]
    return DOC_TYPES[shape] | DOC_TYPES[also]


class LogSummary(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Every field of a log except the heavy payloads (see ``shared.schema.HEAVY_FIELDS``)."""

    id: str | UnsetType = UNSET
    parent_request_id: str | UnsetType = UNSET
    provider: str | UnsetType = UNSET
    model: str | UnsetType = UNSET
    status: DocStatus | UnsetType = UNSET
    object: str | UnsetType = UNSET
    timestamp: datetime | UnsetType = UNSET
    created_at: datetime | UnsetType = UNSET
    number_of_retries: int | UnsetType = UNSET
    fallback_index: int | UnsetType = UNSET
    latency: float | UnsetType = UNSET
    cost: float | UnsetType = UNSET
    selected_key_id: str | UnsetType = UNSET
    selected_key_name: str | UnsetType = UNSET
    virtual_key_id: str | UnsetType = UNSET
    virtual_key_name: str | UnsetType | None = UNSET
    routing_engines_used: list[str] | UnsetType | None = UNSET
    routing_rule_id: str | UnsetType | None = UNSET
    routing_rule_name: str | UnsetType | None = UNSET
    stream: bool | UnsetType = UNSET
    alias: str | UnsetType = UNSET
    canonical_model_name: str | UnsetType = UNSET
    stop_reason: str | UnsetType = UNSET
    user_id: str | UnsetType = UNSET
    user_name: str | UnsetType = UNSET
    team_id: str | UnsetType = UNSET
    team_name: str | UnsetType = UNSET
    customer_id: str | UnsetType = UNSET
    customer_name: str | UnsetType = UNSET
    business_unit_id: str | UnsetType = UNSET
    business_unit_name: str | UnsetType = UNSET
    team_ids: list[str] | UnsetType = UNSET
    team_names: list[str] | UnsetType = UNSET
    customer_ids: list[str] | UnsetType = UNSET
    customer_names: list[str] | UnsetType = UNSET
    business_unit_ids: list[str] | UnsetType = UNSET
    business_unit_names: list[str] | UnsetType = UNSET
    user_agent: str | UnsetType = UNSET
    app: str | UnsetType = UNSET
    is_large_payload_request: bool | UnsetType = UNSET
    is_large_payload_response: bool | UnsetType = UNSET
    token_usage: Object | UnsetType = UNSET
    error_details: Object | UnsetType = UNSET
    metadata: Object | UnsetType = UNSET
    selected_key: Object | UnsetType = UNSET
    virtual_key: Object | UnsetType = UNSET
    redaction: Literal["mask", "hash"] | UnsetType = UNSET
    """Heimdall's: how the worker redacted this log's content (``HEIMDALL_REDACTION``);
    absent: stored as sent."""


class LogListItem(LogSummary, kw_only=True, omit_defaults=True):
    """A log in a ``GET /api/logs`` page: every field except the heavy payloads."""

    highlights: list[str] | UnsetType = UNSET
    """With ``highlight=true`` and ``content_search``: snippets of the log's content, the
    matched words marked ``<mark>…</mark>``, the rest HTML-escaped."""


class LogEntryDoc(LogSummary, kw_only=True, omit_defaults=True):
    """One log with every field as ingested (``GET /api/logs/{id}``)."""

    raw_request: str | UnsetType = UNSET
    raw_response: str | UnsetType = UNSET
    passthrough_request_body: str | UnsetType = UNSET
    passthrough_response_body: str | UnsetType = UNSET
    input_history: list[Object] | UnsetType = UNSET
    responses_input_history: list[Object] | UnsetType = UNSET
    output_message: Object | UnsetType = UNSET
    responses_output: list[Object] | UnsetType = UNSET
    embedding_output: list[Any] | UnsetType = UNSET
    params: Object | UnsetType = UNSET
    tools: list[Object] | UnsetType = UNSET
    tool_calls: list[Object] | UnsetType = UNSET
    speech_input: Object | UnsetType = UNSET
    transcription_input: Object | UnsetType = UNSET
    image_generation_input: Object | UnsetType = UNSET
    speech_output: Object | UnsetType = UNSET
    transcription_output: Object | UnsetType = UNSET
    image_generation_output: Object | UnsetType = UNSET
    cache_debug: Object | UnsetType = UNSET
    routing_engine_logs: Object | str | UnsetType = UNSET
    rerank_output: Object | list[Object] | UnsetType = UNSET
    video_generation_input: Object | UnsetType = UNSET
    video_generation_output: Object | UnsetType = UNSET
    video_retrieve_output: Object | UnsetType = UNSET
    video_list_output: Object | UnsetType = UNSET
    video_delete_output: Object | UnsetType = UNSET
    video_download_output: Object | UnsetType = UNSET
    list_models_output: Object | list[Object] | UnsetType = UNSET


class Pagination(msgspec.Struct, kw_only=True):
    """Bifrost's own pagination block (same values as the contract's top-level keys)."""

    limit: int
    offset: int
    sort_by: str
    order: str
    total_count: int


class LogsResponse(msgspec.Struct, kw_only=True):
    """``GET /api/logs``: the contract's ``logs/total/offset/limit`` plus Bifrost's
    ``pagination/stats/has_logs`` plus ``next_cursor`` (null on the last page)."""

    logs: list[LogListItem]
    total: int
    offset: int
    limit: int
    pagination: Pagination
    stats: Stats
    has_logs: bool
    next_cursor: str | None


class LogsBody(msgspec.Struct, kw_only=True):
    """What is actually encoded: :class:`LogsResponse` with each log passed through."""

    logs: list[msgspec.Raw]
    total: int
    offset: int
    limit: int
    pagination: Pagination
    stats: Stats
    has_logs: bool
    next_cursor: str | None


class Health(msgspec.Struct, kw_only=True):
    status: Literal["ok", "unavailable"]
    opensearch: Literal["reachable", "unreachable"]
