from __future__ import annotations

import json
from pathlib import Path

from ingest.event_schema import event_schema

SHIPPED = Path(__file__).parents[2] / "docs" / "event.schema.json"


def test_shipped_schema_is_current() -> None:
    regenerate = "python -m ingest.event_schema > docs/event.schema.json"
    assert json.loads(SHIPPED.read_text()) == event_schema(), f"stale schema: run `{regenerate}`"


def test_schema_requires_an_id_and_knows_both_forms() -> None:
    schema = event_schema()
    assert schema["$defs"]["LogEntry"]["required"] == ["id"]
    envelope = schema["$defs"]["LogEnvelope"]["properties"]
    assert envelope["operation"]["enum"] == ["create", "update"]
    assert "cancelled" in schema["$defs"]["LogEntry"]["properties"]["status"]["anyOf"][0]["enum"]
