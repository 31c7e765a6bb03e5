"""``GET /api/logs/filterdata``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, get
from litestar.di import NamedDependency

from api.aggs.filterdata import (
    ALL_DIMENSIONS,
    DIMENSION_LIMIT,
    FilterData,
    build_filterdata,
    parse_filterdata,
    parse_filterdata_query,
)
from api.parsing import Raw
from api.routes.common import error_responses, json_response, ok, param
from api.store import LogStore


@get(
    "/logs/filterdata",
    summary="Values for the filter dropdowns",
    description=(
        "Distinct values per dimension among the logs matching the filters (the last 30 days "
        "unless start_time, end_time or period is given), ascending, at most "
        f"{DIMENSION_LIMIT} per dimension, each with its number of matching logs: `count` "
        "in every {id, name} object, `counts.<dimension>` for the string lists."
    ),
    operation_id="getFilterData",
    tags=["Logging"],
    responses={**ok(FilterData), **error_responses(400, 401, 500, 503)},
)
async def filter_data(
    params: NamedDependency[Raw],
    store: NamedDependency[LogStore],
    dimensions: Annotated[
        str | None,
        param(f"Comma-separated list of dimensions (default: all): {', '.join(ALL_DIMENSIONS)}"),
    ] = None,
    q: Annotated[
        str | None,
        param(
            "Only values containing q, ignoring case (for {id, name}: the name; for "
            "metadata: the key or the value)"
        ),
    ] = None,
) -> Response[bytes]:
    query = parse_filterdata_query(params)
    raw = await store.query("filterdata", build_filterdata(query))
    return json_response(parse_filterdata(query, raw))


ROUTES: list[Any] = [filter_data]
