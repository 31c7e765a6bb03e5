"""OTLP export requests as the OpenTelemetry Collector's Kafka exporter writes them.

One Kafka record holds one ``ExportTraceServiceRequest`` (traces topic) or one
``ExportLogsServiceRequest`` (logs topic), in either of the exporter's encodings:

- ``otlp_proto`` (its default): the protobuf bytes;
- ``otlp_json``: OTLP/JSON, i.e. protobuf's JSON mapping with the OTLP exceptions (trace and
  span ids as hex strings, not base64).

The encoding is recognised from the first byte, so one topic may carry both: a JSON value
starts with ``{``, which can never start these protobuf messages (it would be field 15 as a
group). Everything here is pure; a payload that is neither raises :class:`BadEvent`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any, Final, NamedTuple, TypeVar

import msgspec
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from shared.errors import BadEvent

M = TypeVar("M", bound=Message)

UNDECODABLE: Final = "undecodable"
INVALID: Final = "invalid"

#: OTLP/JSON writes these ``bytes`` fields as hex; protobuf's JSON mapping expects base64.
_HEX_ID_KEYS: Final = frozenset(
    {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}
)
_JSON: Final = msgspec.json.Decoder()


def _hex_ids_to_base64(node: Any, path: str) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _HEX_ID_KEYS and isinstance(value, str):
                try:
                    out[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise BadEvent(
                        INVALID, f"`{key}` is not a hex id: {value[:64]!r} - at `{path}.{key}`"
                    ) from None
            else:
                out[key] = _hex_ids_to_base64(value, f"{path}.{key}")
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(item, f"{path}[{i}]") for i, item in enumerate(node)]
    return node


def parse(value: bytes, message_type: type[M]) -> M:
    """Decode one record value (protobuf or OTLP/JSON) into ``message_type``."""
    message: M = message_type()
    if value.lstrip()[:1] == b"{":
        try:
            tree = _JSON.decode(value)
        except msgspec.DecodeError as exc:
            raise BadEvent(UNDECODABLE, f"not OTLP/JSON: {exc}") from None
        try:
            json_format.ParseDict(
                _hex_ids_to_base64(tree, "$"), message, ignore_unknown_fields=True
            )
        except json_format.ParseError as exc:
            raise BadEvent(INVALID, f"not an OTLP/JSON {message_type.__name__}: {exc}") from None
        return message
    try:
        message.ParseFromString(value)
    except (DecodeError, RecursionError) as exc:
        raise BadEvent(
            UNDECODABLE, f"not an OTLP protobuf {message_type.__name__}: {exc}"
        ) from None
    return message


def any_value(value: AnyValue) -> Any:
    """An attribute value as plain Python (arrays as lists, key-value lists as dicts)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def attributes(kvs: Iterator[KeyValue] | Any) -> dict[str, Any]:
    """Key-value pairs as a dict; of repeated keys the last one counts (as in the SDKs)."""
    return {kv.key: any_value(kv.value) for kv in kvs}


def hex_id(raw: bytes) -> str:
    """A trace or span id as lowercase hex; all-zero or empty ids mean "none": ``""``."""
    return binascii.hexlify(raw).decode() if raw.strip(b"\x00") else ""


class SpanItem(NamedTuple):
    path: str
    resource: dict[str, Any]
    span: Span


class LogItem(NamedTuple):
    path: str
    resource: dict[str, Any]
    record: LogRecord


def _not_empty(count: int, what: str) -> None:
    # The exporter never writes an empty export; a record that decodes to one is something
    # else on the wrong topic (protobuf and OTLP/JSON both ignore unknown fields).
    if not count:
        raise BadEvent(INVALID, f"the record holds no {what}: not an OTLP export")


def spans(value: bytes) -> Iterator[SpanItem]:
    request = parse(value, ExportTraceServiceRequest)
    _not_empty(len(request.resource_spans), "resourceSpans")
    for i, resource_spans in enumerate(request.resource_spans):
        resource = attributes(resource_spans.resource.attributes)
        for j, scope_spans in enumerate(resource_spans.scope_spans):
            for k, span in enumerate(scope_spans.spans):
                yield SpanItem(f"resourceSpans[{i}].scopeSpans[{j}].spans[{k}]", resource, span)


def log_records(value: bytes) -> Iterator[LogItem]:
    request = parse(value, ExportLogsServiceRequest)
    _not_empty(len(request.resource_logs), "resourceLogs")
    for i, resource_logs in enumerate(request.resource_logs):
        resource = attributes(resource_logs.resource.attributes)
        for j, scope_logs in enumerate(resource_logs.scope_logs):
            for k, record in enumerate(scope_logs.log_records):
                yield LogItem(f"resourceLogs[{i}].scopeLogs[{j}].logRecords[{k}]", resource, record)
