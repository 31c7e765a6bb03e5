"""``GET /api/logs/{id}/similar``. The ``/logs/{id:path}`` catch-all of :mod:`api.routes.logs`
receives these requests too and hands them to :func:`similar_logs` (see
:func:`api.similar.similar_target`); the route here documents it in the OpenAPI document and
serves it wherever the router picks it."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from api.docs import LogListItem
from api.errors import LogNotFound
from api.parsing import Raw, collect
from api.routes.common import error_responses, json_response, ok, param
from api.similar import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    build_locate,
    build_similar,
    parse_locate,
    parse_similar,
    parse_similar_response,
)
from api.store import LogStore


class SimilarLogsResponse(msgspec.Struct, kw_only=True):
    """The documented shape of :class:`api.similar.SimilarLogs` (items passed through)."""

    id: str
    logs: list[LogListItem]
    """Most similar first; each has the shape of a ``GET /api/logs`` item."""
    count: int


async def similar_logs(store: LogStore, log_id: str, raw: Raw) -> Response[bytes]:
    q = parse_similar(raw)
    located = parse_locate(await store.query("similar: find", build_locate(log_id)))
    if located is None:
        raise LogNotFound(log_id)
    index, doc_id = located
    body = await store.query("similar", build_similar(q, index, doc_id))
    return json_response(parse_similar_response(body, log_id))


def raw_query(request: Request[Any, Any, Any]) -> Raw:
    return collect(request.query_params.dict())


@get(
    "/logs/{id:str}/similar",
    summary="Similar logs",
    description=(
        "The logs whose request/response content is most like this log's (more_like_this "
        "over the indexed content), most similar first (ties by id), the log itself left out. "
        "Every filter of GET /api/logs applies. Items have the list's shape. 404 when no log "
        "has the id. An id containing '/' is sent with %2F; a literal /similar at the end of "
        "the path is this route, %2Fsimilar is part of an id."
    ),
    operation_id="getSimilarLogs",
    tags=["Logging"],
    responses={**ok(SimilarLogsResponse), **error_responses(400, 401, 404, 500, 503)},
)
async def get_similar(
    params: NamedDependency[Raw],
    store: NamedDependency[LogStore],
    id: Annotated[str, Parameter(description="Log entry ID")],
    limit: Annotated[
        str | None,
        param(
            f"Number of logs to return (default {DEFAULT_LIMIT}, max {MAX_LIMIT})",
            type="integer",
            default=DEFAULT_LIMIT,
            minimum=1,
            maximum=MAX_LIMIT,
        ),
    ] = None,
) -> Response[bytes]:
    return await similar_logs(store, id, params)


ROUTES: list[Any] = [get_similar]
