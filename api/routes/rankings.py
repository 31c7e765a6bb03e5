"""``GET /api/logs/rankings`` and ``GET /api/logs/rankings/by-dimension``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, get
from litestar.di import NamedDependency

from api.aggs.paging import MAX_GROUPS, fetch_all
from api.aggs.ranking_answers import (
    DimensionRankingResult,
    ModelRankingResult,
    parse_dimension_rankings,
    parse_model_rankings,
)
from api.aggs.rankings import (
    DEFAULT_RANKING_LIMIT,
    RANKING_DIMENSIONS,
    build_dimension_rankings,
    build_model_rankings,
    parse_ranking_query,
)
from api.parsing import Raw
from api.routes.common import error_responses, json_response, ok, param
from api.store import LogStore

_LIMIT = param(
    f"Number of rows (default {DEFAULT_RANKING_LIMIT})",
    type="integer",
    minimum=1,
    default=DEFAULT_RANKING_LIMIT,
)
_ALL = param(
    f"true: every row, limit ignored (at most {MAX_GROUPS} groups, else 400)",
    type="boolean",
    default=False,
)
_TREND = (
    "Only terminal logs (success, error, cancelled) count. Ordered by total_requests "
    "descending, ties by key ascending. With a closed window (start_time and end_time, or "
    "period) every row carries its trend: percent change against the previous window "
    "[start - d, start - 1ns] with the same filters."
)


@get(
    "/logs/rankings",
    summary="Model rankings",
    description=f"Usage per (model, provider) with trends. {_TREND}",
    operation_id="getModelRankings",
    tags=["Logging"],
    responses={**ok(ModelRankingResult), **error_responses(400, 401, 500, 503)},
)
async def model_rankings(
    params: NamedDependency[Raw],
    store: NamedDependency[LogStore],
    limit: Annotated[str | None, _LIMIT] = None,
    all: Annotated[str | None, _ALL] = None,
) -> Response[bytes]:
    q = parse_ranking_query(params, by_dimension=False)
    pages = await fetch_all(store, "rankings", build_model_rankings(q.filter))
    previous = pages[1] if len(pages) > 1 else None
    return json_response(parse_model_rankings(pages[0], previous, q.limit))


@get(
    "/logs/rankings/by-dimension",
    summary="Rankings by team, customer, business unit, user or virtual key",
    description=(
        "Usage per id of the dimension with trends. Teams, customers and business units fan "
        "out: a log attributed to several counts for each (total_attributed_requests), "
        f"total_actual_requests counts it once. {_TREND}"
    ),
    operation_id="getDimensionRankings",
    tags=["Logging"],
    responses={**ok(DimensionRankingResult), **error_responses(400, 401, 500, 503)},
)
async def dimension_rankings(
    params: NamedDependency[Raw],
    store: NamedDependency[LogStore],
    dimension: Annotated[
        str | None, param("Required: what to rank by", enum=list(RANKING_DIMENSIONS))
    ] = None,
    limit: Annotated[str | None, _LIMIT] = None,
    all: Annotated[str | None, _ALL] = None,
) -> Response[bytes]:
    q = parse_ranking_query(params, by_dimension=True)
    assert q.dimension is not None
    pages = await fetch_all(store, "rankings", build_dimension_rankings(q.filter, q.dimension))
    previous = pages[1] if len(pages) > 1 else None
    return json_response(parse_dimension_rankings(q.dimension, pages[0], previous, q.limit))


ROUTES: list[Any] = [model_rankings, dimension_rankings]
