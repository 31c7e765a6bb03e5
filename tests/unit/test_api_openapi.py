"""The generated OpenAPI document agrees with the contract (shared/spec): parameter names,
types, formats, enums and defaults; response field names and types."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import TestClient

from api.app import OPENAPI_JSON, create_app
from api.settings import ApiSettings
from shared.index import REDACTION
from shared.schema import ALSO_ACCEPTED, HEAVY_FIELDS, LOG_FIELDS

ROOT = Path(__file__).resolve().parents[2]
SPEC_CANDIDATES = [
    *([Path(os.environ["HEIMDALL_SPEC_DIR"])] if os.environ.get("HEIMDALL_SPEC_DIR") else []),
    ROOT.parent / "shared" / "spec",  # the contract kit, beside the checkout (authoritative)
    ROOT / "spec",  # its copy in the repo, for clones without the kit
]


@cache
def spec(name: str) -> dict[str, Any]:
    for directory in SPEC_CANDIDATES:
        path = directory / name
        if path.is_file():
            loaded: dict[str, Any] = yaml.safe_load(path.read_text())
            return loaded
    raise AssertionError(f"contract {name} not found in {SPEC_CANDIDATES} (set HEIMDALL_SPEC_DIR)")


@cache
def generated() -> dict[str, Any]:
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1")
    with TestClient(create_app(settings)) as client:
        response = client.get(OPENAPI_JSON)
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    alternatives = [
        s for s in schema.get("oneOf", schema.get("anyOf", [])) if s.get("type") != "null"
    ]
    if len(alternatives) == 1:
        return resolve(doc, alternatives[0])
    return schema


def shape(doc: dict[str, Any], schema: dict[str, Any]) -> tuple[Any, ...]:
    """(type, format, enum) with null-ability ignored."""
    s = resolve(doc, schema)
    kind = s.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else tuple(kinds)
    if kind is None and "properties" in s:
        kind = "object"
    return kind, s.get("format"), tuple(s.get("enum", ()))


def same_shape(
    doc_a: dict[str, Any], a: dict[str, Any], doc_b: dict[str, Any], b: dict[str, Any]
) -> None:
    kind_a, format_a, enum_a = shape(doc_a, a)
    kind_b, format_b, enum_b = shape(doc_b, b)
    assert kind_a is not None
    assert kind_a == kind_b
    assert format_a == format_b
    # Heimdall's status enum adds "cancelled" (newer Bifrost); every contract value is there.
    assert set(enum_a) <= set(enum_b)


def operation(doc: dict[str, Any], path: str) -> dict[str, Any]:
    op: dict[str, Any] = doc["paths"][path]["get"]
    return op


def params_by_name(op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in op.get("parameters", [])}


@pytest.mark.parametrize(
    ("spec_file", "path"),
    [("get-logs.openapi.yaml", "/api/logs"), ("get-log-by-id.openapi.yaml", "/api/logs/{id}")],
)
def test_parameters_match_contract(spec_file: str, path: str) -> None:
    contract = spec(spec_file)
    ours = generated()
    theirs = params_by_name(operation(contract, path))
    mine = params_by_name(operation(ours, path))
    assert set(theirs) <= set(mine)
    for name, param in theirs.items():
        got = mine[name]
        assert got["in"] == param["in"], name
        assert bool(got.get("required")) == bool(param.get("required")), name
        same_shape(contract, param["schema"], ours, got["schema"])
        for key in ("default", "maximum", "minimum"):
            if key in param["schema"]:
                assert got["schema"].get(key) == param["schema"][key], (name, key)
        if "enum" in param["schema"]:
            assert got["schema"]["enum"] == param["schema"]["enum"], name


def response_schema(doc: dict[str, Any], path: str, status: str) -> dict[str, Any]:
    content = operation(doc, path)["responses"][status]["content"]["application/json"]
    return resolve(doc, content["schema"])


def test_list_response_matches_contract() -> None:
    contract, ours = spec("get-logs.openapi.yaml"), generated()
    theirs = response_schema(contract, "/api/logs", "200")["properties"]
    mine = response_schema(ours, "/api/logs", "200")["properties"]
    assert set(theirs) <= set(mine)
    assert {"pagination", "stats", "has_logs", "next_cursor"} <= set(mine)
    for name in ("total", "offset", "limit"):
        same_shape(contract, theirs[name], ours, mine[name])
    their_item = resolve(contract, theirs["logs"]["items"])["properties"]
    my_item = resolve(ours, mine["logs"]["items"])["properties"]
    # List items leave out exactly the heavy payloads.
    assert set(their_item) - HEAVY_FIELDS <= set(my_item)
    assert not HEAVY_FIELDS & set(my_item)
    for name in set(their_item) & set(my_item):
        same_shape(contract, their_item[name], ours, my_item[name])
    stats = resolve(ours, mine["stats"])["properties"]
    assert set(stats) == {
        "total_requests",
        "success_rate",
        "average_latency",
        "total_tokens",
        "total_cost",
    }
    pagination = resolve(ours, mine["pagination"])["properties"]
    assert set(pagination) == {"limit", "offset", "sort_by", "order", "total_count"}


NEWER_FIELDS = {
    "alias",
    "canonical_model_name",
    "stop_reason",
    "user_id",
    "user_name",
    "team_id",
    "team_name",
    "customer_id",
    "customer_name",
    "business_unit_id",
    "business_unit_name",
    "team_ids",
    "team_names",
    "customer_ids",
    "customer_names",
    "business_unit_ids",
    "business_unit_names",
    "user_agent",
    "app",
}


def test_log_entry_matches_contract() -> None:
    contract, ours = spec("get-log-by-id.openapi.yaml"), generated()
    theirs = contract["components"]["schemas"]["LogEntry"]["properties"]
    mine = response_schema(ours, "/api/logs/{id}", "200")["properties"]
    # The contract's fields, plus (additively) the ones Bifrost's newer log rows carry, and
    # Heimdall's redaction mode.
    assert set(mine) - {REDACTION} == set(LOG_FIELDS) == set(theirs) | NEWER_FIELDS
    assert mine[REDACTION] == {"oneOf": [{"type": "string", "enum": ["mask", "hash"]}]}
    for name, schema in theirs.items():
        if name in ALSO_ACCEPTED:  # widened to Bifrost's own row shape: see test_payload_shapes
            continue
        same_shape(contract, schema, ours, mine[name])


@pytest.mark.parametrize(
    ("spec_file", "path", "statuses"),
    [
        ("get-logs.openapi.yaml", "/api/logs", ("400", "500")),
        ("get-log-by-id.openapi.yaml", "/api/logs/{id}", ("404", "500")),
    ],
)
def test_error_bodies_match_contract(spec_file: str, path: str, statuses: tuple[str, ...]) -> None:
    contract, ours = spec(spec_file), generated()
    for status in (*statuses, "503"):
        mine = response_schema(ours, path, status)["properties"]
        if status == "503":
            theirs = response_schema(contract, path, statuses[0])["properties"]
        else:
            theirs = response_schema(contract, path, status)["properties"]
        # BifrostError: we never send event_id/type; the names we send are the contract's.
        assert set(mine) <= set(theirs)
        assert {"is_bifrost_error", "status_code", "error", "extra_fields"} <= set(mine)
        error = resolve(ours, mine["error"])["properties"]
        assert (
            {"message", "param"}
            <= set(error)
            <= set(resolve(contract, theirs["error"])["properties"])
        )


def test_security_schemes_match_contract() -> None:
    theirs = spec("get-log-by-id.openapi.yaml")["components"]["securitySchemes"]
    mine = generated()["components"]["securitySchemes"]
    assert set(mine) == set(theirs)
    for name, scheme in theirs.items():
        for key in ("type", "scheme", "in", "name"):
            assert mine[name].get(key) == scheme.get(key), (name, key)
