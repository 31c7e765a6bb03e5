"""Decoding of one Kafka record value into a :class:`LogEvent`.

Two wire forms are accepted (see ``docs/events.md``):

- a bare ``LogEntry`` object: ``{"id": "...", "status": "processing", ...}``;
- Bifrost's live-log envelope: ``{"type": "log", "operation": "create" | "update",
  "payload": {...LogEntry...}}``.

One module-level typed decoder handles both in a single pass. Anything that can never be
indexed raises :class:`shared.errors.BadEvent` with a reason and the JSON path.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Final, Literal

import msgspec

from ingest import derive
from shared.errors import BadEvent
from shared.schema import (
    ALSO_ACCEPTED,
    PAYLOAD_SHAPES,
    TERMINAL_STATUSES,
    LogEntry,
    PayloadShape,
    as_json_text,
)

Operation = Literal["create", "update"]

# Reasons, as written to the dead-letter header ``x-heimdall-reason``.
UNDECODABLE: Final = "undecodable"
INVALID: Final = "invalid"
MISSING_ID: Final = "missing_id"
TOO_LARGE: Final = "too_large"
REJECTED: Final = "rejected"
#: The log's home partition is past ``HEIMDALL_RETENTION_DAYS`` (see docs/lifecycle.md).
EXPIRED: Final = "expired"

# Event stages, the first key of a version (see ``ingest.merge``).
STAGE_START: Final = 0
STAGE_FINISH: Final = 1
STAGE_CORRECTION: Final = 2

_NULL: Final = msgspec.Raw(b"null")
#: In an encoded entry, what any null value starts with (also found inside some strings).
_NULL_VALUE: Final = b":null"
#: OpenSearch refuses longer document ids.
MAX_ID_BYTES: Final = 512
#: What ``date_nanos`` can hold.
_EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST: Final = datetime(2262, 4, 11, tzinfo=UTC)
#: Go's zero ``time.Time``, which Go producers write for "not set".
_GO_ZERO_TIME: Final = datetime(1, 1, 1, tzinfo=UTC)


def _storable_time(value: datetime | None, path: str) -> datetime | None:
    if value is None or value == _GO_ZERO_TIME:
        return None
    if not _EARLIEST <= value < _LATEST:
        raise BadEvent(INVALID, f"time {value.isoformat()} is outside 1970..2262 - at `{path}`")
    return value


#: Checks a payload's type where its first byte cannot (nested values stay unread, as Raw).
_ITEMS: Final[dict[PayloadShape, msgspec.json.Decoder[Any]]] = {
    "object_array": msgspec.json.Decoder(list[dict[str, msgspec.Raw]]),
    "number_matrix": msgspec.json.Decoder(list[list[float]]),
}
_FIRST_BYTE: Final[dict[PayloadShape, int]] = {
    "object": ord("{"),
    "object_array": ord("["),
    "number_matrix": ord("["),
}
_KIND: Final = {ord("["): "array", ord('"'): "str", ord("t"): "bool", ord("f"): "bool"}
#: The payloads this module checks; :func:`ingest.derive.validate` decodes the others.
_CHECKED: Final = {
    name: shape
    for name, shape in PAYLOAD_SHAPES.items()
    if shape == "string" or name not in derive.VALIDATED_FIELDS
}
_CHECKED_NAMES: Final = frozenset(_CHECKED)


def _conforms(shape: PayloadShape, raw: msgspec.Raw, first: int) -> bool:
    if shape == "string":
        return first == ord('"')
    if first != _FIRST_BYTE[shape]:
        return False
    if shape not in _ITEMS:
        return True
    try:
        _ITEMS[shape].decode(raw)
    except msgspec.ValidationError:
        return False
    return True


def check_payloads(fields: dict[str, msgspec.Raw], path: str) -> None:
    """Give every payload of ``fields`` (an event's non-null values) its contract type
    (:data:`shared.schema.PAYLOAD_SHAPES`): a string-typed one sent as another JSON value
    becomes its exact JSON text (lossless); any other payload of the wrong type is a
    :class:`BadEvent` naming its JSON path (the first such field, by name).

    The event is valid JSON already, so a value's first byte is its type; only arrays are
    read further (their items), and the payloads derivation decodes are checked there."""
    for name in sorted(_CHECKED_NAMES.intersection(fields)):
        shape, raw = _CHECKED[name], fields[name]
        if shape == "string":
            fields[name] = as_json_text(raw)
            continue
        first = memoryview(raw)[0]
        if name in ALSO_ACCEPTED and _conforms(ALSO_ACCEPTED[name], raw, first):
            continue
        if first != _FIRST_BYTE[shape]:
            got = "object" if first == ord("{") else _KIND.get(first, "number")
            expected = "object" if shape == "object" else "array"
            raise BadEvent(INVALID, f"Expected `{expected}`, got `{got}` - at `{path}.{name}`")
        if shape in _ITEMS:
            derive.decode_at(_ITEMS[shape], raw, f"{path}.{name}")


class _Wire(LogEntry, kw_only=True, omit_defaults=True):
    """Both wire forms at once: the ``LogEntry`` fields, or the envelope's three keys."""

    type: str | None = None
    operation: Operation | None = None
    payload: LogEntry | None = None


_DECODER: Final = msgspec.json.Decoder(_Wire)
_FIELDS_DECODER: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ENCODER: Final = msgspec.json.Encoder()


class LogEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A decoded, validated event, ready to merge.

    ``fields`` holds every non-null ``LogEntry`` field of the event as JSON bytes;
    ``version`` orders this event against every other event of the same log.
    """

    id: str
    operation: Operation | None
    fields: dict[str, msgspec.Raw]
    version: str


def stage_of(entry: LogEntry, operation: Operation | None) -> int:
    """``processing`` (or a status-less create) starts a log, a terminal status finishes it,
    and a status-less update (``cost``/``token_usage`` fix-ups) corrects it."""
    if entry.status in TERMINAL_STATUSES:
        return STAGE_FINISH
    if entry.status == "processing" or operation == "create":
        return STAGE_START
    return STAGE_CORRECTION


def make_version(stage: int, timestamp_ms: int, value: bytes) -> str:
    """``<stage>:<record time, ms, 16 digits>:<digest of the record value>``.

    Versions compare as strings. Equal versions mean the very same record (redelivery),
    so keeping the stored value is always right.
    """
    digest = hashlib.blake2b(value, digest_size=8).hexdigest()
    return f"{stage}:{max(timestamp_ms, 0):016d}:{digest}"


def decode_event(value: bytes | None, *, timestamp_ms: int, max_bytes: int) -> LogEvent:
    """Decode and validate one record value; raise :class:`BadEvent` on any problem."""
    if value is None:
        raise BadEvent(UNDECODABLE, "the record has no value (tombstone); expected a JSON object")
    if len(value) > max_bytes:
        raise BadEvent(
            TOO_LARGE,
            f"value is {len(value)} bytes, over HEIMDALL_MAX_EVENT_BYTES={max_bytes}",
        )
    try:
        # Nested values are kept as Raw bytes, which msgspec does not check: check UTF-8 once.
        value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadEvent(UNDECODABLE, f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        return _decode(value, timestamp_ms)
    except RecursionError:
        raise BadEvent(UNDECODABLE, "JSON nested too deeply") from None


def _decode(value: bytes, timestamp_ms: int) -> LogEvent:
    try:
        wire = _DECODER.decode(value)
    except msgspec.ValidationError as exc:
        raise BadEvent(INVALID, str(exc)) from None
    except msgspec.DecodeError as exc:
        raise BadEvent(UNDECODABLE, str(exc)) from None

    entry: LogEntry = wire
    path = "$"
    if wire.payload is not None:
        if wire.type not in (None, "log"):
            raise BadEvent(INVALID, f"envelope type must be 'log', got {wire.type!r} - at `$.type`")
        entry, path = wire.payload, "$.payload"
    elif wire.type is not None or wire.operation is not None:
        raise BadEvent(INVALID, "envelope has no `payload` object - at `$.payload`")

    if entry.id is None or not entry.id.strip():
        raise BadEvent(MISSING_ID, f"`id` is missing or empty - at `{path}.id`")
    if len(entry.id.encode()) > MAX_ID_BYTES:
        raise BadEvent(INVALID, f"`id` is over {MAX_ID_BYTES} bytes - at `{path}.id`")
    entry.timestamp = _storable_time(entry.timestamp, f"{path}.timestamp")
    entry.created_at = _storable_time(entry.created_at, f"{path}.created_at")

    derive.validate(entry, path)
    encoded = _ENCODER.encode(entry)
    fields = _FIELDS_DECODER.decode(encoded)
    if _NULL_VALUE in encoded:  # only payloads can be null here (None scalars are omitted)
        fields = {name: raw for name, raw in fields.items() if raw != _NULL}
    del fields["id"]
    check_payloads(fields, path)
    return LogEvent(
        id=entry.id,
        operation=wire.operation,
        fields=fields,
        version=make_version(stage_of(entry, wire.operation), timestamp_ms, value),
    )
