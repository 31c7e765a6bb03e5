"""Which decoder reads which input topic (pure).

- ``HEIMDALL_TOPIC``: Bifrost ``LogEntry`` events, bare or in the live-log envelope;
- ``HEIMDALL_OTLP_TRACES_TOPIC``: the Collector's Kafka exporter traces (GenAI spans);
- ``HEIMDALL_OTLP_LOGS_TOPIC``: its logs (``gen_ai.client.inference.operation.details``).

Every decoder turns one record value into zero or more :class:`LogEvent` (an OTLP export
holds many calls, or none that is a GenAI call) and raises :class:`BadEvent` for a record
that goes to the dead-letter topic. With ``HEIMDALL_REDACTION`` on, every event a decoder
returns is redacted (:mod:`ingest.redact`) before it is merged.
"""

from __future__ import annotations

from typing import Protocol

from ingest.decode import LogEvent, decode_event
from ingest.otlp.events import decode_logs, decode_traces
from ingest.redact import Redactor
from ingest.settings import WorkerSettings


class Decoder(Protocol):
    def __call__(
        self, value: bytes | None, *, timestamp_ms: int, max_bytes: int
    ) -> list[LogEvent]: ...


def decode_log_entry(value: bytes | None, *, timestamp_ms: int, max_bytes: int) -> list[LogEvent]:
    """A Bifrost ``LogEntry`` record: always exactly one event."""
    return [decode_event(value, timestamp_ms=timestamp_ms, max_bytes=max_bytes)]


def decoders(settings: WorkerSettings) -> dict[str, Decoder]:
    """Input topic -> its decoder; the topics to subscribe to are the keys."""
    by_topic: dict[str, Decoder] = {settings.topic: decode_log_entry}
    if settings.otlp_traces_topic:
        by_topic[settings.otlp_traces_topic] = decode_traces
    if settings.otlp_logs_topic:
        by_topic[settings.otlp_logs_topic] = decode_logs
    redactor = redactor_of(settings)
    if redactor is None:
        return by_topic
    return {topic: redacting(decode, redactor) for topic, decode in by_topic.items()}


def redactor_of(settings: WorkerSettings) -> Redactor | None:
    """The redactor ``HEIMDALL_REDACTION*`` configure (``None`` when off)."""
    if settings.redaction == "off":
        return None
    return Redactor(
        settings.redaction,
        key=settings.redaction_key.reveal(),
        patterns=settings.redaction_patterns,
        phone_region=settings.redaction_phone_region,
    )


def redacting(decode: Decoder, redactor: Redactor) -> Decoder:
    """``decode``, with every event it returns redacted."""

    def decode_redacted(
        value: bytes | None, *, timestamp_ms: int, max_bytes: int
    ) -> list[LogEvent]:
        events = decode(value, timestamp_ms=timestamp_ms, max_bytes=max_bytes)
        return [redactor.event(event) for event in events]

    return decode_redacted
