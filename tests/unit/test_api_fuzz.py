"""Values generated from the served OpenAPI document's parameter schemas are never refused
for a reason the document does not state.

Each parameter's value alone, drawn from its schema (enum, pattern, format, range, length),
must be accepted: the schema states every rule the parser applies to the value. A combination
of valid values may be refused only by a rule across parameters, and then the refused
parameter's description in the document must name the other parameter of the rule (e.g.
``min_latency`` "at most max_latency").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from api.app import OPENAPI_JSON, create_app
from api.settings import ApiSettings
from tests.unit.test_api_server import EchoStore

#: Its only valid values are next_cursor values of earlier pages, as its description says.
NOT_GENERATED = {"cursor"}
FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SINGLE = settings(FUZZ, max_examples=100)


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient[Any]]:
    config = ApiSettings(opensearch_url="http://127.0.0.1:1")
    with TestClient(create_app(config, EchoStore(config))) as client:
        yield client


@pytest.fixture(scope="module")
def document(api: TestClient[Any]) -> dict[str, Any]:
    served: dict[str, Any] = api.get(OPENAPI_JSON).json()
    return served


def parameters(document: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}


def _calendar_date(text: str) -> bool:
    """``format: date-time`` (RFC 3339) requires a date that exists (no 2023-02-30)."""
    year, month, day = (int(part) for part in text.strip()[:10].split("-"))
    try:
        datetime(year, month, day)
    except ValueError:
        return False
    return True


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    """The query-string text of any value the schema allows."""
    if "enum" in schema:
        return st.sampled_from([str(value) for value in schema["enum"]])
    kind = schema["type"]
    if kind == "boolean":
        return st.sampled_from(["true", "false"])
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.integers(min_value=low, max_value=high).map(str)
    if kind == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        floats = st.floats(
            min_value=low, max_value=high, allow_nan=False, allow_infinity=False
        ).map(repr)
        whole = st.integers(
            min_value=None if low is None else int(low),
            max_value=None if high is None else int(high),
        ).map(str)
        return floats | whole
    assert kind == "string", schema
    if "pattern" in schema:
        text = st.from_regex(schema["pattern"])
        if schema.get("format") == "date-time":
            text = text.filter(_calendar_date)
        return text
    assert "format" not in schema, f"no generator for format {schema['format']}"
    return st.text(max_size=schema.get("maxLength", 200))


def refusal_is_documented(
    body: dict[str, Any], sent: dict[str, str], documented: dict[str, dict[str, Any]]
) -> bool:
    """A 400 for valid values is a rule across parameters: it names another parameter in force
    (sent, or applying its documented default), and the document's description of the refused
    parameter names that one too."""
    refused = body["error"].get("param")
    if refused not in sent:
        return False
    message: str = body["error"]["message"]
    description: str = documented[refused]["description"]
    in_force = set(sent) | {n for n, p in documented.items() if "default" in p["schema"]}
    others = [
        name
        for name in in_force
        if name != refused and re.search(rf"\b{name}\b", message) and name in description
    ]
    return bool(others)


@pytest.mark.parametrize("path", ["/api/logs"])
def test_each_parameter_alone_accepts_every_documented_value(
    api: TestClient[Any], document: dict[str, Any], path: str
) -> None:
    documented = parameters(document, path)
    assert {"status", "limit", "start_time", "min_latency", "user_agents"} <= set(documented)
    for name, spec in documented.items():
        if name in NOT_GENERATED:
            continue

        @SINGLE
        @given(value=from_schema(spec["schema"]))
        def accepted(value: str) -> None:
            sent = {name: value}  # noqa: B023 (called right here)
            response = api.get(path, params=sent)
            if response.status_code == 400:  # only a rule with another parameter's default
                assert refusal_is_documented(response.json(), sent, documented), response.text
            else:
                assert response.status_code == 200, (sent, response.text)

        accepted()


@pytest.mark.parametrize("path", ["/api/logs"])
def test_combinations_are_refused_only_by_documented_rules(
    api: TestClient[Any], document: dict[str, Any], path: str
) -> None:
    documented = {n: p for n, p in parameters(document, path).items() if n not in NOT_GENERATED}
    # Parameters that take part in a rule across parameters, plus a few independent ones.
    names = [
        "start_time",
        "end_time",
        "period",
        "min_latency",
        "max_latency",
        "min_tokens",
        "max_tokens",
        "min_cost",
        "max_cost",
        "parent_request_id",
        "session_id",
        "limit",
        "offset",
        "status",
        "sort_by",
    ]
    strategy = st.fixed_dictionaries(
        {}, optional={name: from_schema(documented[name]["schema"]) for name in names}
    )

    @FUZZ
    @given(sent=strategy)
    def refused_only_as_documented(sent: dict[str, str]) -> None:
        response = api.get(path, params=sent)
        if response.status_code == 400:
            assert refusal_is_documented(response.json(), sent, documented), (
                sent,
                response.text,
            )
        else:
            assert response.status_code == 200, (sent, response.text)

    refused_only_as_documented()


def test_documented_rules_do_refuse(api: TestClient[Any], document: dict[str, Any]) -> None:
    """The rules across parameters exist (the check above is not vacuous)."""
    documented = parameters(document, "/api/logs")
    for sent in (
        {"min_latency": "5", "max_latency": "1"},
        {"min_tokens": "5", "max_tokens": "1"},
        {"min_cost": "5", "max_cost": "1"},
        {"start_time": "2024-05-02T00:00:00Z", "end_time": "2024-05-01T00:00:00Z"},
        {"period": "1h", "start_time": "2024-05-01T00:00:00Z"},
        {"parent_request_id": "a", "session_id": "b"},
        {"offset": "9999", "limit": "2"},
    ):
        response = api.get("/api/logs", params=sent)
        assert response.status_code == 400, sent
        assert refusal_is_documented(response.json(), sent, documented), response.text


def test_values_outside_the_schema_are_refused_with_the_parameter_named(
    api: TestClient[Any], document: dict[str, Any]
) -> None:
    """``status=0`` (the fuzzer's find): the document's pattern excludes it, and so does the
    parser, naming the parameter."""
    documented = parameters(document, "/api/logs")
    for name, value in (
        ("status", "0"),
        ("status", "success,SUCCESS"),
        ("cache_hit_types", "exact"),
        ("start_time", "2024-05-01T00:00:60Z"),
        ("start_time", "2024-05-01T00:00:00.1234567891Z"),
        ("user_agents", '["a", 1]'),
        ("offset", "10000"),
        ("min_tokens", str(2**63)),
        ("min_cost", "1e400"),
    ):
        pattern = documented[name]["schema"].get("pattern")
        schema = documented[name]["schema"]
        outside = (pattern is not None and re.search(pattern, value) is None) or (
            "maximum" in schema and float(value) > schema["maximum"]
        )
        assert outside, (name, value)
        response = api.get("/api/logs", params={name: value})
        assert response.status_code == 400, (name, value)
        assert response.json()["error"]["param"] == name


def _sibling_routes(api: TestClient[Any]) -> set[str]:
    """The fixed segments after ``/api/logs/`` that other routes take."""
    prefix = "/api/logs/"
    return {
        path[len(prefix) :].split("/", 1)[0]
        for route in api.app.routes
        if (path := route.path).startswith(prefix) and not path[len(prefix) :].startswith("{")
    }


@FUZZ
@given(log_id=st.text(min_size=1, max_size=100))
def test_every_log_id_is_fetched_as_sent(api: TestClient[Any], log_id: str) -> None:
    """``GET /api/logs/{id}``: any non-empty id (a string, as documented), percent-encoded
    (``.`` and ``..`` as ``%2E``, as documented), reaches the store exactly."""
    # A log whose id names a sibling route (``stats``, ``filterdata``, ...) is shadowed by
    # it, in Bifrost as here; Hypothesis draws such constants from the source code.
    assume(log_id not in _sibling_routes(api))
    segment = quote(log_id, safe="")
    if segment in (".", ".."):  # a dot segment: clients drop it unless it is encoded
        segment = segment.replace(".", "%2E")
    response = api.get("/api/logs/" + segment)
    assert response.status_code == 200, (log_id, response.text)
    assert response.json() == {"id": log_id}


def test_log_id_is_documented_as_a_non_empty_string(document: dict[str, Any]) -> None:
    spec = parameters(document, "/api/logs/{id}")["id"]
    assert spec["in"] == "path"
    assert spec["schema"]["type"] == "string"
    assert spec["schema"].get("minLength") == 1
    assert set(parameters(document, "/api/logs/{id}")) == {"id"}
