"""The dashboard's pure core: its parameters, its bodies and its place in the API."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import OPENAPI_JSON, create_app
from api.dashboard import build_rankings, build_series, parse_dashboard_query
from api.parsing import InvalidParameter
from api.settings import ApiSettings

NOW = 1_764_000_000 * 1_000_000_000


def test_one_bucket_plan_and_every_series() -> None:
    q = parse_dashboard_query({"period": ["24h"], "providers": ["openai"]}, now_ns=NOW)
    assert q.plan.size == 3600
    assert q.plan.keys is not None
    assert len(q.plan.keys) in (24, 25)
    bodies = build_series(q)
    assert len(bodies) == 10
    intervals = {b["aggs"]["buckets"]["date_histogram"]["fixed_interval"] for b in bodies}
    assert intervals == {"3600s"}
    # a closed window: every ranking has its previous window in the same _msearch
    assert [len(group) for group in build_rankings(q)] == [2] * 6
    assert q.limit == 100


def test_without_a_window_there_are_no_trends() -> None:
    q = parse_dashboard_query({"all": ["true"]}, now_ns=NOW)
    assert q.limit is None
    assert q.plan.keys is None
    assert [len(group) for group in build_rankings(q)] == [1] * 6


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"dimension": ["team"]}, "dimension"),
        ({"limit": ["-1"]}, "limit"),
        ({"period": ["1h"], "start_time": ["2026-01-01T00:00:00Z"]}, "period"),
        ({"status": ["done"]}, "status"),
    ],
)
def test_bad_parameters_name_themselves(params: dict[str, list[str]], param: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        parse_dashboard_query(params, now_ns=NOW)
    assert info.value.param == param


def test_mcp_filters_are_accepted() -> None:
    q = parse_dashboard_query({"tool_names": ["search,fetch"], "server_labels": ["a"]})
    assert q.filter.filters == ()


def test_documented_with_every_section() -> None:
    with TestClient(create_app(ApiSettings(opensearch_url="http://127.0.0.1:1"))) as client:
        doc: dict[str, Any] = client.get(OPENAPI_JSON).json()
    operation = doc["paths"]["/api/logs/dashboard"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"limit", "all", "tool_names", "providers", "period"} <= names
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    result = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(result["properties"]) == {
        "meta",
        "overview",
        "provider_usage",
        "model_rankings",
        "dimension_rankings",
        "mcp",
    }
