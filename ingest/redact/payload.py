"""Redaction of a log's stored fields: every string inside every content payload (pure).

Payloads are kept as :class:`msgspec.Raw` (the producer's bytes). A payload is decoded, its
string values are redacted wherever they sit (message contents, tool-call arguments, raw
bodies, which are JSON strings holding JSON text, metadata values, ...), and it is
re-encoded only if a string changed; otherwise the very same bytes are kept. Object keys,
numbers and booleans are never changed, so every payload keeps its shape and its type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from shared.index import REDACTION
from shared.schema import PAYLOAD_SHAPES

#: Payloads that hold numbers only (token counts, embedding vectors): never read.
NUMERIC: Final = frozenset({"token_usage", "embedding_output"})
#: Every payload redaction reads.
REDACTED_FIELDS: Final = frozenset(PAYLOAD_SHAPES) - NUMERIC

_DECODER: Final = msgspec.json.Decoder()
_ENCODER: Final = msgspec.json.Encoder()


def _walk(value: Any, redact: Callable[[str], str]) -> Any:
    """``value`` with its strings redacted; the very same object where nothing changed."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        items = [_walk(item, redact) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):
        changed = False
        result: dict[str, Any] = {}
        for key, item in value.items():
            new = _walk(item, redact)
            changed = changed or new is not item
            result[key] = new
        return result if changed else value
    return value


def redact_raw(raw: msgspec.Raw, redact: Callable[[str], str]) -> msgspec.Raw:
    """One payload with its strings redacted (``raw`` itself if nothing was found)."""
    value = _DECODER.decode(raw)
    new = _walk(value, redact)
    return raw if new is value else msgspec.Raw(_ENCODER.encode(new))


def redact_fields(
    fields: Mapping[str, msgspec.Raw], redact: Callable[[str], str], mode: str
) -> dict[str, msgspec.Raw]:
    """A log's (or one event's) fields with every content payload redacted, and the mode
    recorded in :data:`shared.index.REDACTION`."""
    result = {
        name: redact_raw(raw, redact) if name in REDACTED_FIELDS else raw
        for name, raw in fields.items()
    }
    result[REDACTION] = msgspec.Raw(_ENCODER.encode(mode))
    return result
