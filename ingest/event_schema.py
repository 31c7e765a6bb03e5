"""JSON Schema of a Kafka event value, generated from the msgspec types.

``python -m ingest.event_schema > docs/event.schema.json`` regenerates the shipped copy;
a unit test fails when the two drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_type_hints

import msgspec

from shared import schema

_VERBATIM = Annotated[
    Any,
    msgspec.Meta(description="Any JSON value; stored verbatim and returned by GET /api/logs/{id}."),
]

# The wire type with each ``msgspec.Raw`` field shown as "any JSON value" (Raw has no schema).
LogEntry: Any = msgspec.defstruct(
    "LogEntry",
    [
        (name, _VERBATIM if hint is msgspec.Raw else hint, None)
        for name, hint in get_type_hints(schema.LogEntry, include_extras=True).items()
    ],
    kw_only=True,
)


class LogEnvelope(msgspec.Struct, kw_only=True):
    """Bifrost's live-log envelope."""

    type: Literal["log"]
    operation: Literal["create", "update"]
    payload: LogEntry


def event_schema() -> dict[str, Any]:
    (entry_ref, envelope_ref), components = msgspec.json.schema_components(
        [LogEntry, LogEnvelope], ref_template="#/$defs/{name}"
    )
    entry = components["LogEntry"]
    entry["required"] = ["id"]
    entry["properties"]["id"] = {"type": "string", "minLength": 1, "pattern": r"\S"}
    entry["description"] = (
        "A gateway log, possibly partial: only `id` is required. Null or absent fields never "
        "erase stored values. Nested objects are stored verbatim; see docs/events.md."
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Heimdall gateway log event",
        "description": (
            "Value of a record on the log topic (UTF-8 JSON); the record key is the log id."
        ),
        "anyOf": [entry_ref, envelope_ref],
        "$defs": components,
    }


def main() -> None:
    print(msgspec.json.format(msgspec.json.encode(event_schema()), indent=2).decode())


if __name__ == "__main__":
    main()
