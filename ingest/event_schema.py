"""JSON Schema of a Kafka event value, generated from the msgspec types.

``python -m ingest.event_schema > docs/event.schema.json`` regenerates the shipped copy;
a unit test fails when the two drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_type_hints

import msgspec

from shared import schema

_STORED = "stored verbatim and returned by GET /api/logs/{id}"
#: Each payload shape (``shared.schema.PAYLOAD_SHAPES``, checked by ``ingest.decode``).
_PAYLOAD_TYPES: dict[schema.PayloadShape, Any] = {
    "string": Annotated[
        Any,
        msgspec.Meta(
            description="A string (a raw body). Any other JSON value is accepted and stored as "
            "a string holding its exact JSON text."
        ),
    ],
    "object": Annotated[dict[str, Any] | None, msgspec.Meta(description=f"An object, {_STORED}.")],
    "object_array": Annotated[
        list[dict[str, Any]] | None,
        msgspec.Meta(description=f"An array of objects, {_STORED}."),
    ],
    "number_matrix": Annotated[
        list[list[float]] | None,
        msgspec.Meta(description=f"An array of arrays of numbers, {_STORED}."),
    ],
}


def _payload_type(name: str) -> Any:
    also = schema.ALSO_ACCEPTED.get(name)
    main = _PAYLOAD_TYPES[schema.PAYLOAD_SHAPES[name]]
    if also is None:
        return main
    return Annotated[
        Any,
        msgspec.Meta(
            description=f"{main.__metadata__[0].description} Bifrost's own rows send "
            f"{also.replace('_', ' ')} here instead, also accepted and stored as sent."
        ),
    ]


# The wire type with each ``msgspec.Raw`` payload shown with its checked type (Raw has none).
LogEntry: Any = msgspec.defstruct(
    "LogEntry",
    [
        (name, _payload_type(name) if hint is msgspec.Raw else hint, None)
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
        "erase stored values. Payloads of the documented type are stored verbatim; a wrong "
        "type is a bad event (dead-lettered). See docs/events.md."
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
