"""``GET /api/logs/dashboard``: every dashboard section in one call (:mod:`api.dashboard`)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from litestar import Response, get
from litestar.di import NamedDependency

from api.aggs.paging import MAX_GROUPS, fetch_all
from api.aggs.rankings import DEFAULT_RANKING_LIMIT
from api.dashboard import DashboardResult, build_rankings, build_series, dashboard
from api.dashboard import parse_dashboard_query as parse
from api.parsing import Raw
from api.routes.common import error_responses, json_response, ok, param
from api.routes.stats import load_stats
from api.store import LogStore


@get(
    "/logs/dashboard",
    summary="Consolidated dashboard",
    description=(
        "Bifrost's dashboard payload in one call: stats (with the previous window when the "
        "window is closed), the request, token, cost, model, latency and throughput "
        "histograms, the same by provider, model rankings and rankings by team, customer, "
        "business unit, user and virtual key, all on one bucket size (meta). Three "
        "OpenSearch round trips run in parallel. The mcp section is empty: MCP tool logs are "
        "not ingested yet."
    ),
    operation_id="getDashboard",
    tags=["Logging"],
    responses={**ok(DashboardResult), **error_responses(400, 401, 500, 503)},
)
async def get_dashboard(
    params: NamedDependency[Raw],
    store: NamedDependency[LogStore],
    limit: Annotated[
        str | None,
        param(
            f"Rows per ranking (default {DEFAULT_RANKING_LIMIT})",
            type="integer",
            minimum=1,
            default=DEFAULT_RANKING_LIMIT,
        ),
    ] = None,
    all: Annotated[
        str | None,
        param(
            f"true: every ranking row, limit ignored (at most {MAX_GROUPS} groups, else 400)",
            type="boolean",
            default=False,
        ),
    ] = None,
    tool_names: Annotated[
        str | None, param("MCP tool names (comma list); only for the mcp section")
    ] = None,
    server_labels: Annotated[
        str | None, param("MCP server labels (comma list); only for the mcp section")
    ] = None,
) -> Response[bytes]:
    now_ns = time.time_ns()
    q = parse(params, now_ns=now_ns)
    groups = build_rankings(q)
    series, stats, pages = await asyncio.gather(
        store.multi_query("dashboard", build_series(q)),
        load_stats(store, q.filter, compare=True),
        fetch_all(store, "dashboard", [body for group in groups for body in group]),
    )
    rankings, at = [], 0
    for group in groups:
        rankings.append(pages[at : at + len(group)])
        at += len(group)
    result = dashboard(q, now_ns=now_ns, series=series, stats=stats, rankings=rankings)
    return json_response(result)


ROUTES: list[Any] = [get_dashboard]
