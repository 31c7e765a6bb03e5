"""One OTLP Kafka record -> the :class:`LogEvent` of every GenAI call in it (pure).

Each mapped span or details event is validated exactly like a producer's bare ``LogEntry``
(:func:`ingest.decode.decode_event`), so the same types, limits and merge apply. Its version:

- stage ``1`` for a span, ``0`` for a ``gen_ai.client.inference.operation.details`` event:
  the span is authoritative, the event fills in what the span lacks (often the messages);
- the Kafka record time, as for every event;
- a digest of the mapped call, so a span exported twice gives the same fields.

A record is decoded as a whole: if any GenAI item in it cannot be mapped, the record goes to
the dead-letter topic (reason and the item's path in the detail) and none of it is indexed;
after a fix, producing it again is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

import msgspec

from ingest.decode import (
    STAGE_FINISH,
    STAGE_START,
    TOO_LARGE,
    UNDECODABLE,
    LogEvent,
    decode_event,
    make_version,
)
from ingest.otlp import genai, wire
from shared.errors import BadEvent

_ENCODER: Final = msgspec.json.Encoder()


def _events(
    items: Iterable[Any],
    mapper: Callable[[Any], dict[str, Any] | None],
    stage: int,
    timestamp_ms: int,
    max_bytes: int,
) -> list[LogEvent]:
    events: list[LogEvent] = []
    for item in items:
        entry = mapper(item)
        if entry is None:
            continue
        value = _ENCODER.encode({k: v for k, v in entry.items() if v is not None})
        try:
            event = decode_event(value, timestamp_ms=timestamp_ms, max_bytes=max_bytes)
        except BadEvent as exc:
            raise BadEvent(exc.reason, f"`{item.path}` mapped to {exc.detail}") from None
        events.append(
            msgspec.structs.replace(event, version=make_version(stage, timestamp_ms, value))
        )
    return events


def _check(value: bytes | None, max_bytes: int) -> bytes:
    if value is None:
        raise BadEvent(UNDECODABLE, "the record has no value (tombstone); expected OTLP")
    if len(value) > max_bytes:
        raise BadEvent(
            TOO_LARGE, f"value is {len(value)} bytes, over HEIMDALL_MAX_EVENT_BYTES={max_bytes}"
        )
    return value


def decode_traces(value: bytes | None, *, timestamp_ms: int, max_bytes: int) -> list[LogEvent]:
    """Every GenAI inference span of one ``ExportTraceServiceRequest`` record."""
    payload = _check(value, max_bytes)
    return _events(wire.spans(payload), genai.from_span, STAGE_FINISH, timestamp_ms, max_bytes)


def decode_logs(value: bytes | None, *, timestamp_ms: int, max_bytes: int) -> list[LogEvent]:
    """Every details event of one ``ExportLogsServiceRequest`` record."""
    payload = _check(value, max_bytes)
    return _events(
        wire.log_records(payload), genai.from_log_record, STAGE_START, timestamp_ms, max_bytes
    )
