"""OTLP payloads made by the real OpenTelemetry SDK and its OTLP protobuf encoder.

:class:`Instrumented` plays an instrumented application: each :meth:`Instrumented.call` records
one GenAI inference span and (optionally) its ``gen_ai.client.inference.operation.details``
event, as an instrumentation library does. :func:`export_spans` / :func:`export_logs` give
the bytes the OpenTelemetry Collector's Kafka exporter writes for them, in either encoding.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

Encoding = Literal["otlp_proto", "otlp_json"]

INPUT = [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
OUTPUT = [
    {
        "role": "assistant",
        "parts": [{"type": "text", "content": "Sunny, 21 degrees."}],
        "finish_reason": "stop",
    }
]
T0 = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z, in ns


def chat_attributes(**overrides: Any) -> dict[str, Any]:
    """A chat call's span attributes, current conventions (messages as JSON strings, as span
    attributes cannot hold maps)."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 200,
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.input.messages": msgspec.json.encode(INPUT).decode(),
        "gen_ai.output.messages": msgspec.json.encode(OUTPUT).decode(),
    }
    attributes.update(overrides)
    return {k: v for k, v in attributes.items() if v is not None}


class Instrumented:
    """An application instrumented with the OpenTelemetry SDK, exporting to memory."""

    def __init__(self, service: str = "checkout") -> None:
        resource = Resource.create({"service.name": service})
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.tracer = self.tracer_provider.get_tracer("genai-test")
        self.logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.logger_provider = LoggerProvider(resource=resource)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.logger = self.logger_provider.get_logger("genai-test")

    def call(
        self,
        attributes: Mapping[str, Any],
        *,
        start_ns: int = T0,
        duration_ms: int = 812,
        error: str | None = None,
        event_attributes: Mapping[str, Any] | None = None,
        parent: trace.Span | None = None,
    ) -> tuple[str, str]:
        """Record one call; returns its (trace id, span id) as hex."""
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = self.tracer.start_span(
            f"chat {attributes.get('gen_ai.request.model', '')}",
            context=context,
            kind=trace.SpanKind.CLIENT,
            attributes=dict(attributes),
            start_time=start_ns,
        )
        if error is not None:
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR, f"{error}: upstream failed"))
        if event_attributes is not None:
            self.logger.emit(
                timestamp=start_ns + duration_ms * 1_000_000,
                context=trace.set_span_in_context(span),
                event_name="gen_ai.client.inference.operation.details",
                attributes=dict(event_attributes),
            )
        span.end(end_time=start_ns + duration_ms * 1_000_000)
        ctx = span.get_span_context()
        return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"

    def parent(self, name: str = "invoke_agent") -> trace.Span:
        return self.tracer.start_span(name, start_time=T0 - 1_000_000)

    def finished_spans(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def finished_logs(self) -> list[ReadableLogRecord]:
        return list(self.logs.get_finished_logs())


def _hex_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: base64.b64decode(v).hex()
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
            else _hex_ids(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


def encode(message: Message, encoding: Encoding) -> bytes:
    """A request as the Collector's Kafka exporter writes it: protobuf bytes, or OTLP/JSON
    (protobuf's JSON mapping with hex trace and span ids)."""
    if encoding == "otlp_proto":
        return message.SerializeToString()
    return msgspec.json.encode(_hex_ids(json_format.MessageToDict(message)))


def export_spans(spans: Sequence[ReadableSpan], encoding: Encoding = "otlp_proto") -> bytes:
    return encode(encode_spans(spans), encoding)


def export_logs(logs: Sequence[ReadableLogRecord], encoding: Encoding = "otlp_proto") -> bytes:
    return encode(encode_logs(logs), encoding)
