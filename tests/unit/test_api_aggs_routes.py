"""The stats and histogram routes: registered before ``/logs/{id:path}``, documented in the
OpenAPI document with their parameters and response schemas, and strict about bad input
(answered before OpenSearch is asked)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.settings import ApiSettings

PATHS = (
    "/api/logs/stats",
    "/api/logs/histogram",
    "/api/logs/histogram/tokens",
    "/api/logs/histogram/cost",
    "/api/logs/histogram/models",
    "/api/logs/histogram/latency",
    "/api/logs/histogram/throughput",
    "/api/logs/histogram/cost/by-provider",
    "/api/logs/histogram/tokens/by-provider",
    "/api/logs/histogram/latency/by-provider",
    "/api/logs/histogram/throughput/by-provider",
    "/api/logs/histogram/cost/by-dimension",
    "/api/logs/histogram/tokens/by-dimension",
    "/api/logs/histogram/latency/by-dimension",
)


@pytest.fixture(scope="module")
def client() -> Any:
    # Nothing listens on port 9: a request reaching OpenSearch would answer 503, not 400.
    app = create_app(ApiSettings(opensearch_url="http://127.0.0.1:9", index_alias="t-none"))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def openapi(client: Any) -> dict[str, Any]:
    doc: dict[str, Any] = client.get("/docs/openapi.json").json()
    return doc


@pytest.mark.parametrize("path", PATHS)
def test_every_endpoint_is_documented_with_filters_and_a_typed_schema(
    openapi: dict[str, Any], path: str
) -> None:
    op = openapi["paths"][path]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"providers", "team_ids", "start_time", "end_time", "period"} <= names
    if path.endswith("/by-dimension"):
        assert "dimension" in names
    if path.endswith("/stats"):
        assert "compare_to_previous" in names
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    ref = schema["$ref"].rsplit("/", 1)[-1]
    schema = openapi["components"]["schemas"][ref]
    required = set(schema["required"])
    if path.endswith("/stats"):
        assert {"total_requests", "user_facing_success_rate", "has_previous_period"} <= required
        assert "previous" in schema["properties"]
    else:
        assert {"buckets", "bucket_size_seconds"} <= required
        item = schema["properties"]["buckets"]["items"]["$ref"].rsplit("/", 1)[-1]
        bucket = openapi["components"]["schemas"][item]
        assert set(bucket["required"]) == set(bucket["properties"])
    assert set(op["responses"]) >= {"200", "400", "503"}


@pytest.mark.parametrize("path", PATHS)
def test_fixed_paths_win_over_the_log_id_route(client: Any, path: str) -> None:
    response = client.get(path, params={"bogus": "1"})
    assert response.status_code == 400  # answered by the aggregate route's parser
    assert response.json()["error"]["param"] == "bogus"


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/api/logs/stats", {"compare_to_previous": "maybe"}, "compare_to_previous"),
        ("/api/logs/histogram", {"start_time": "yesterday"}, "start_time"),
        ("/api/logs/histogram/cost/by-dimension", {}, "dimension"),
        ("/api/logs/histogram/tokens/by-dimension", {"dimension": "team"}, "dimension"),
        ("/api/logs/histogram/latency", {"dimension": "team_id"}, "dimension"),
        (
            "/api/logs/histogram/models",
            {"start_time": "0001-01-01T00:00:00Z", "end_time": "9999-01-01T00:00:00Z"},
            "start_time",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(
    client: Any, path: str, params: dict[str, str], param: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
