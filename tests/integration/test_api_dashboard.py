"""``GET /api/logs/dashboard`` against real OpenSearch: every section equals what the
standalone endpoint answers for the same filters (those are checked number by number against
plain-Python references in test_api_aggs.py and test_api_rankings.py), on one bucket size."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.settings import ApiSettings
from shared.opensearch import make_client
from shared.settings import OpenSearchSettings
from tests.conftest import Services
from tests.support.dashboard_seed import BASE_TIME, SPAN, make_records, seeded

START = BASE_TIME.isoformat().replace("+00:00", "Z")
END = (BASE_TIME + SPAN).isoformat().replace("+00:00", "Z")
#: (section path in the dashboard, standalone route)
SECTIONS = [
    (("overview", "requests"), "histogram"),
    (("overview", "tokens"), "histogram/tokens"),
    (("overview", "cost"), "histogram/cost"),
    (("overview", "models"), "histogram/models"),
    (("overview", "latency"), "histogram/latency"),
    (("overview", "throughput"), "histogram/throughput"),
    (("provider_usage", "cost"), "histogram/cost/by-provider"),
    (("provider_usage", "tokens"), "histogram/tokens/by-provider"),
    (("provider_usage", "latency"), "histogram/latency/by-provider"),
    (("provider_usage", "throughput"), "histogram/throughput/by-provider"),
    (("model_rankings", "histogram"), "histogram/models"),
]
DIMENSIONS = ("team", "customer", "business_unit", "user", "virtual_key")


@pytest.fixture(scope="module")
async def api(services: Services) -> AsyncIterator[AsyncTestClient[Any]]:
    name = f"t-dash-{uuid.uuid4().hex[:10]}"
    client = make_client(OpenSearchSettings(opensearch_url=services.opensearch_url))
    try:
        async with seeded(
            services.kafka_bootstrap, services.opensearch_url, client, name, make_records(1500)
        ):
            settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=name)
            async with AsyncTestClient(create_app(settings)) as test_client:
                yield test_client
    finally:
        await client.close()


async def get(api: AsyncTestClient[Any], path: str, query: str) -> Any:
    response = await api.get(f"/api/logs/{path}?{query}")
    assert response.status_code == 200, (path, response.text)
    return response.json()


@pytest.mark.parametrize(
    "query",
    [
        f"start_time={START}&end_time={END}",
        f"start_time={START}&end_time={END}&providers=openai,anthropic&limit=2",
        f"start_time={START}&end_time={END}&team_ids=t-search&status=success,error",
        "models=gpt-4o",  # no window: non-empty buckets only, no trends
        f"start_time={END}&end_time={END}",  # empty window
    ],
)
async def test_every_section_equals_its_endpoint(api: AsyncTestClient[Any], query: str) -> None:
    board = await get(api, "dashboard", query)
    standalone = query.replace("&limit=2", "")
    for (section, key), route in SECTIONS:
        assert board[section][key] == await get(api, route, standalone), (section, key)
    stats = await get(api, "stats", f"{standalone}&compare_to_previous=true")
    assert board["overview"]["stats"] == stats
    limit = "&limit=2" if "limit=2" in query else ""
    rankings = await get(api, "rankings", f"{standalone}{limit}")
    assert board["model_rankings"]["rankings"] == rankings["rankings"]
    for dimension in DIMENSIONS:
        expected = await get(api, "rankings/by-dimension", f"{query}&dimension={dimension}")
        assert board["dimension_rankings"][dimension] == expected, dimension
    sizes = {board[s][k]["bucket_size_seconds"] for (s, k), _ in SECTIONS}
    assert sizes == {board["meta"]["bucket_size_seconds"]}
    assert board["mcp"] == {
        "volume": {"buckets": [], "bucket_size_seconds": board["meta"]["bucket_size_seconds"]},
        "cost": {"buckets": [], "bucket_size_seconds": board["meta"]["bucket_size_seconds"]},
        "top_tools": {"tools": []},
    }


async def test_meta_states_the_resolved_window(api: AsyncTestClient[Any]) -> None:
    board = await get(api, "dashboard", f"start_time={START}&end_time={END}")
    assert board["meta"]["start_time"].startswith("2026-03-01T00:00:00")
    assert board["meta"]["end_time"].startswith("2026-03-04T00:00:00")
    assert board["meta"]["bucket_size_seconds"] == 28_800  # 3 days: 8-hour buckets
    assert board["overview"]["requests"]["buckets"], "the seeded window has data"
    assert any(r["total_requests"] for r in board["model_rankings"]["rankings"])


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("bogus=1", "bogus"),
        ("limit=0", "limit"),
        ("all=maybe", "all"),
        ("period=2d", "period"),
        ("start_time=yesterday", "start_time"),
    ],
)
async def test_bad_parameters_are_400(api: AsyncTestClient[Any], query: str, param: str) -> None:
    response = await api.get(f"/api/logs/dashboard?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
