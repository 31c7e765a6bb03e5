"""``GET /api/logs`` (filter, search, sort, page) and ``GET /api/logs/{id}``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from api.docs import LogEntryDoc, LogsBody, LogsResponse, Pagination
from api.errors import LogNotFound
from api.params import DEFAULT_LIMIT, MAX_LIMIT, ORDER_VALUES, SORT_BY_VALUES, parse_params
from api.parsing import Raw
from api.routes.common import JSON, error_responses, json_response, ok, param
from api.routes.similar import raw_query, similar_logs
from api.similar import similar_target
from api.store import LogStore


@get(
    "/logs",
    summary="Get logs",
    description=(
        "Filter, search, sort and page request logs. Comma lists are OR within a parameter "
        "and AND across parameters; ranges are inclusive. Also accepts metadata_<key>=<value> "
        "(exact match on metadata). List items leave out the heavy payloads (raw_request, "
        "raw_response, histories, outputs, embeddings, tools, params, cache_debug, ...); "
        "GET /api/logs/{id} returns everything. Pages past offset+limit=10000 need cursor."
    ),
    operation_id="getLogs",
    tags=["Logging"],
    responses={**ok(LogsResponse), **error_responses(400, 401, 500, 503)},
)
async def list_logs(
    params: NamedDependency[Raw],
    store: NamedDependency[LogStore],
    limit: Annotated[
        str | None,
        param(
            "Number of logs to return (default 50, max 1000)",
            type="integer",
            default=DEFAULT_LIMIT,
            minimum=1,
            maximum=MAX_LIMIT,
        ),
    ] = None,
    offset: Annotated[
        str | None,
        param(
            "Number of logs to skip (offset + limit <= 10000)", type="integer", default=0, minimum=0
        ),
    ] = None,
    sort_by: Annotated[
        str | None,
        param("Field to sort by", enum=list(SORT_BY_VALUES), default="timestamp"),
    ] = None,
    order: Annotated[
        str | None, param("Sort order", enum=list(ORDER_VALUES), default="desc")
    ] = None,
    cursor: Annotated[
        str | None,
        param(
            "Opaque cursor: next_cursor of the previous page (same filters and sort); "
            "pages past the 10000 result window"
        ),
    ] = None,
    highlight: Annotated[
        str | None,
        param(
            "With content_search: each log carries `highlights`, short snippets of its "
            "content with the matched words marked <mark>…</mark> (HTML-escaped)",
            type="boolean",
            default=False,
        ),
    ] = None,
) -> Response[bytes]:
    q = parse_params(params)
    page = await store.search(q)
    body = LogsBody(
        logs=page.logs,
        total=page.total,
        offset=page.offset,
        limit=q.limit,
        pagination=Pagination(
            limit=q.limit,
            offset=page.offset,
            sort_by=q.sort_by,
            order=q.order,
            total_count=page.total,
        ),
        stats=page.stats,
        has_logs=page.has_logs,
        next_cursor=page.next_cursor,
    )
    return json_response(body)


@get(
    # ``path``, not ``str``: a log id may contain "/" (sent as %2F).
    "/logs/{id:path}",
    summary="Get a single log entry",
    description="Retrieves a single log entry by its ID, with every field as ingested.",
    operation_id="getLogById",
    tags=["Logging"],
    responses={**ok(LogEntryDoc), **error_responses(400, 401, 404, 500, 503)},
)
async def get_log(
    request: Request[Any, Any, Any],
    store: NamedDependency[LogStore],
    id: Annotated[str, Parameter(description="Log entry ID")],
) -> Response[bytes]:
    log_id = id.removeprefix("/")  # a path parameter starts with its separator
    similar_of = similar_target(log_id, request.scope.get("raw_path"))
    if similar_of is not None:  # GET /api/logs/{id}/similar reaches this catch-all
        return await similar_logs(store, similar_of, raw_query(request))
    source = await store.get(log_id)
    if source is None:
        raise LogNotFound(log_id)
    return Response(content=bytes(source), media_type=JSON)


ROUTES: list[Any] = [list_logs, get_log]
