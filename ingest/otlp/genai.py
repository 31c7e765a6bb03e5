"""OpenTelemetry GenAI semantic conventions -> Bifrost ``LogEntry`` fields (pure).

The table of what maps to what is in ``docs/events.md`` (*OpenTelemetry GenAI*). A span or
log record that is not a GenAI inference call gives ``None`` (it is skipped, not an error);
a GenAI one whose attributes have the wrong type raises :class:`BadEvent` naming the
attribute.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from ingest.otlp.wire import LogItem, SpanItem, attributes, hex_id
from shared.errors import BadEvent

INVALID: Final = "invalid"
MISSING_ID: Final = "missing_id"

#: The log record event that carries a call's details (and, opt-in, its messages).
DETAILS_EVENT: Final = "gen_ai.client.inference.operation.details"

#: ``gen_ai.operation.name`` values that are model calls, and Bifrost's ``object`` for each.
#: Other operations (``execute_tool``, ``invoke_agent``, ...) are not gateway requests.
OPERATIONS: Final[Mapping[str, str]] = {
    "chat": "chat_completion",
    "generate_content": "chat_completion",
    "text_completion": "text_completion",
    "embeddings": "embedding",
}

#: Request parameters: semantic-convention attribute -> key in ``params``.
PARAMS: Final[Mapping[str, str]] = {
    "gen_ai.request.temperature": "temperature",
    "gen_ai.request.top_p": "top_p",
    "gen_ai.request.top_k": "top_k",
    "gen_ai.request.max_tokens": "max_completion_tokens",
    "gen_ai.request.frequency_penalty": "frequency_penalty",
    "gen_ai.request.presence_penalty": "presence_penalty",
    "gen_ai.request.stop_sequences": "stop",
    "gen_ai.request.seed": "seed",
    "gen_ai.request.choice.count": "n",
}

#: Attributes copied into ``metadata`` (so ``metadata_<key>=<value>`` finds them).
METADATA: Final[Mapping[str, str]] = {
    "gen_ai.response.id": "response_id",
    "gen_ai.response.model": "response_model",
    "gen_ai.response.finish_reasons": "finish_reasons",
    "gen_ai.conversation.id": "conversation_id",
    "gen_ai.operation.name": "operation",
    "server.address": "server_address",
}

_INDEXED: Final = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(role|content)$")
_JSON: Final = msgspec.json.Decoder()
_STATUS_ERROR: Final = 2  # Status.STATUS_CODE_ERROR


class _Attrs:
    """Typed access to one item's attributes; a wrong type names the attribute."""

    def __init__(self, values: dict[str, Any], where: str) -> None:
        self.values = values
        self.where = where

    def _bad(self, key: str, expected: str) -> BadEvent:
        got = type(self.values[key]).__name__
        return BadEvent(INVALID, f"`{key}` must be {expected}, got {got} - at {self.where}")

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self._bad(key, "a string")

    def integer(self, key: str) -> int | None:
        value = self.values.get(key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise self._bad(key, "an int")

    def number(self, key: str) -> float | int | None:
        value = self.values.get(key)
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return value
        raise self._bad(key, "a number")

    def flag(self, key: str) -> bool | None:
        value = self.values.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise self._bad(key, "a boolean")

    def structured(self, key: str) -> Any:
        """A structured value: as an OTLP array/map, or as the JSON string most SDKs write
        (span attributes cannot hold maps)."""
        value = self.values.get(key)
        if not isinstance(value, str):
            return value
        try:
            return _JSON.decode(value)
        except msgspec.DecodeError:
            raise BadEvent(INVALID, f"`{key}` is not valid JSON - at {self.where}") from None


def is_genai(values: Mapping[str, Any]) -> bool:
    operation = values.get("gen_ai.operation.name")
    if operation is not None:
        return operation in OPERATIONS
    return "gen_ai.provider.name" in values or "gen_ai.system" in values


def log_id(trace_id: str, span_id: str) -> str:
    """The log id of a call: the span of the call and its events share it."""
    return f"{trace_id}-{span_id}"


def _time(nanos: int, where: str) -> str | None:
    if not nanos:
        return None
    seconds, rest = divmod(nanos, 1_000_000_000)
    try:
        moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)
    except (OverflowError, OSError, ValueError):
        raise BadEvent(INVALID, f"time {nanos} ns is out of range - at {where}") from None
    return moment.isoformat().replace("+00:00", "Z")


# -- messages ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


def chat_message(message: Any, where: str, default_role: str = "user") -> dict[str, Any]:
    """One semantic-convention message (``{"role", "parts": [...]}``, or the older flat
    ``{"role", "content"}``) as a Bifrost chat message."""
    if not isinstance(message, dict):
        raise BadEvent(INVALID, f"a message must be an object - at {where}")
    role = message.get("role")
    out: dict[str, Any] = {"role": role if isinstance(role, str) else default_role}
    parts = message.get("parts")
    if not isinstance(parts, list):
        content = message.get("content")
        if content is not None:
            out["content"] = _text(content)
        return out
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for part in parts:
        if not isinstance(part, dict):
            raise BadEvent(INVALID, f"a message part must be an object - at {where}")
        kind = part.get("type")
        if kind == "text" and part.get("content") is not None:
            texts.append(_text(part["content"]))
        elif kind == "tool_call":
            arguments = part.get("arguments")
            function = {"name": str(part.get("name", ""))}
            if arguments is not None:
                function["arguments"] = _text(arguments)
            call: dict[str, Any] = {"type": "function", "function": function}
            if part.get("id") is not None:
                call["id"] = str(part["id"])
            tool_calls.append(call)
        elif kind == "tool_call_response":
            out["role"] = "tool"
            if part.get("id") is not None:
                out["tool_call_id"] = str(part["id"])
            texts.append(_text(part.get("response", "")))
    if texts:
        out["content"] = "\n".join(texts)
    if tool_calls:
        out["tool_calls"] = tool_calls
    return out


def _messages(value: Any, key: str, where: str, role: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadEvent(INVALID, f"`{key}` must be an array of messages - at {where}")
    return [chat_message(m, f"{where} `{key}`[{i}]", role) for i, m in enumerate(value)]


def _indexed(values: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """The older flat attributes ``gen_ai.prompt.<i>.role`` / ``.content`` (and
    ``gen_ai.completion.<i>.*``) that OpenLLMetry and LiteLLM still write."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in values.items():
        match = _INDEXED.match(key)
        if match and match[1] == kind and value is not None:
            found.setdefault(int(match[2]), {})[match[3]] = _text(value)
    return [
        {"role": m.get("role", "user" if kind == "prompt" else "assistant"), **m}
        for _, m in sorted(found.items())
    ]


def _system_instructions(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, list):
        texts = [_text(p.get("content", "")) for p in value if isinstance(p, dict)]
        return {"role": "system", "content": "\n".join(texts)}
    return {"role": "system", "content": _text(value)}


# -- one call ---------------------------------------------------------------------------


def _usage(a: _Attrs) -> dict[str, int] | None:
    prompt = a.integer("gen_ai.usage.input_tokens")
    if prompt is None:
        prompt = a.integer("gen_ai.usage.prompt_tokens")
    completion = a.integer("gen_ai.usage.output_tokens")
    if completion is None:
        completion = a.integer("gen_ai.usage.completion_tokens")
    if prompt is None and completion is None:
        return None
    usage = {"prompt_tokens": prompt or 0, "completion_tokens": completion or 0}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    cached = a.integer("gen_ai.usage.cache_read.input_tokens")
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}  # type: ignore[assignment]
    return usage


def _common(a: _Attrs, resource: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a span and a details event both carry, from their attributes."""
    entry: dict[str, Any] = {}
    provider = a.text("gen_ai.provider.name") or a.text("gen_ai.system")
    model = a.text("gen_ai.request.model") or a.text("gen_ai.response.model")
    operation = a.text("gen_ai.operation.name")
    entry["provider"] = provider
    entry["model"] = model
    entry["object"] = OPERATIONS.get(operation) if operation else None
    entry["stream"] = a.flag("gen_ai.request.stream")
    entry["token_usage"] = _usage(a)

    history = _messages(
        a.structured("gen_ai.input.messages"), "gen_ai.input.messages", a.where, "user"
    )
    history = history or _indexed(a.values, "prompt")
    system = _system_instructions(a.structured("gen_ai.system_instructions"))
    if system is not None:
        history = [system, *history]
    entry["input_history"] = history or None
    outputs = _messages(
        a.structured("gen_ai.output.messages"), "gen_ai.output.messages", a.where, "assistant"
    )
    outputs = outputs or _indexed(a.values, "completion")
    entry["output_message"] = outputs[0] if outputs else None

    params = {}
    for key, name in PARAMS.items():
        value = a.values.get(key)
        if value is not None:
            params[name] = value
    entry["params"] = params or None

    metadata: dict[str, Any] = {}
    for key, name in METADATA.items():
        value = a.values.get(key)
        if value is not None:
            metadata[name] = value
    service = resource.get("service.name")
    if isinstance(service, str):
        metadata["service_name"] = service
    entry["metadata"] = metadata
    return entry


def _ids(trace_id: bytes, span_id: bytes, what: str, where: str) -> tuple[str, str]:
    """The call's trace and span ids as hex; a GenAI item without valid ones has no log id."""
    if not (len(trace_id) == 16 and len(span_id) == 8 and hex_id(trace_id) and hex_id(span_id)):
        raise BadEvent(
            MISSING_ID, f"{what} needs a 16-byte trace id and an 8-byte span id - at {where}"
        )
    return hex_id(trace_id), hex_id(span_id)


def _link(entry: dict[str, Any], trace_id: str, span_id: str, parent_span_id: str) -> None:
    entry["id"] = log_id(trace_id, span_id)
    entry["metadata"].update(trace_id=trace_id, span_id=span_id)
    if parent_span_id:
        entry["metadata"]["parent_span_id"] = parent_span_id
        entry["parent_request_id"] = log_id(trace_id, parent_span_id)


def _error(a: _Attrs, message: str) -> dict[str, Any]:
    error_type = a.text("error.type")
    error: dict[str, Any] = {"message": message or error_type or "error"}
    if error_type:
        error["type"] = error_type
    return {"is_bifrost_error": False, "error": error}


def from_span(item: SpanItem) -> dict[str, Any] | None:
    """A GenAI inference span as a finished log (``None``: not a GenAI inference span)."""
    span = item.span
    where = f"span `{item.path}`"
    values = attributes(span.attributes)
    if not is_genai(values):
        return None
    a = _Attrs(values, where)
    trace_id, span_id = _ids(span.trace_id, span.span_id, "a GenAI span", where)
    entry = _common(a, item.resource)
    _link(entry, trace_id, span_id, hex_id(span.parent_span_id))
    failed = span.status.code == _STATUS_ERROR or a.text("error.type") is not None
    entry["status"] = "error" if failed else "success"
    if failed:
        entry["error_details"] = _error(a, span.status.message)
    start = _time(span.start_time_unix_nano, where)
    entry["timestamp"] = entry["created_at"] = start
    if span.start_time_unix_nano and span.end_time_unix_nano >= span.start_time_unix_nano:
        entry["latency"] = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
    return entry


def from_log_record(item: LogItem) -> dict[str, Any] | None:
    """A ``gen_ai.client.inference.operation.details`` event as a log (``None``: another
    kind of log record)."""
    record = item.record
    values = attributes(record.attributes)
    name = record.event_name or values.get("event.name")
    if name != DETAILS_EVENT:
        return None
    where = f"log record `{item.path}`"
    a = _Attrs(values, where)
    trace_id, span_id = _ids(record.trace_id, record.span_id, f"a {DETAILS_EVENT} event", where)
    entry = _common(a, item.resource)
    _link(entry, trace_id, span_id, "")
    failed = a.text("error.type") is not None
    entry["status"] = "error" if failed else "success"
    if failed:
        entry["error_details"] = _error(a, "")
    entry["timestamp"] = entry["created_at"] = _time(
        record.time_unix_nano or record.observed_time_unix_nano, where
    )
    return entry
