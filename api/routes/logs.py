"""``GET /api/logs`` (filter, search, sort, page) and ``GET /api/logs/{id}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final
from urllib.parse import unquote_to_bytes

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from api.docs import LogEntryDoc, LogsBody, LogsResponse, Pagination
from api.errors import LogNotFound
from api.params import DEFAULT_LIMIT, MAX_LIMIT, ORDER_VALUES, SORT_BY_VALUES, parse_params
from api.parsing import InvalidParameter, Raw
from api.routes.common import JSON, error_responses, json_response, ok, param
from api.routes.similar import raw_query, similar_logs
from api.similar import similar_target
from api.store import LogStore
from shared.index import MAX_RESULT_WINDOW


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
    request: Request[Any, Any, Any],
    params: NamedDependency[Raw],
    store: NamedDependency[LogStore],
    limit: Annotated[
        str | None,
        param(
            f"Number of logs to return (default {DEFAULT_LIMIT}, max {MAX_LIMIT}); "
            f"offset + limit <= {MAX_RESULT_WINDOW} without cursor",
            type="integer",
            default=DEFAULT_LIMIT,
            minimum=1,
            maximum=MAX_LIMIT,
        ),
    ] = None,
    offset: Annotated[
        str | None,
        param(
            f"Number of logs to skip; offset + limit <= {MAX_RESULT_WINDOW} (the result window: "
            "page deeper with cursor); not together with cursor",
            type="integer",
            default=0,
            minimum=0,
            maximum=MAX_RESULT_WINDOW - 1,
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
            "Opaque cursor: next_cursor of the previous page, unchanged, with the same filters, "
            f"sort_by and order and without offset; pages past the {MAX_RESULT_WINDOW} result "
            "window"
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
    log_id = path_log_id(request)
    if log_id is not None:  # e.g. /api/logs/%2F: the router collapsed the id's slashes away
        return await one_log(store, log_id)
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
    id: Annotated[
        str,
        Parameter(
            description="Log entry ID, percent-encoded: '/' as %2F (an id may start or end "
            "with '/'); the ids '.' and '..' as %2E and %2E%2E (clients drop dot segments)",
            min_length=1,
        ),
    ],
) -> Response[bytes]:
    log_id = path_log_id(request)
    if log_id is None:
        log_id = id.removeprefix("/")  # a path parameter starts with its separator
    return await log_or_similar(request, store, log_id)


async def log_or_similar(
    request: Request[Any, Any, Any], store: LogStore, log_id: str
) -> Response[bytes]:
    """``GET /api/logs/{id}``, or ``/api/logs/{id}/similar``, which reaches the catch-all."""
    similar_of = similar_target(log_id, request.scope.get("raw_path"))
    if similar_of is not None:
        return await similar_logs(store, similar_of, raw_query(request))
    return await one_log(store, log_id)


_LOG_PREFIX: Final = b"/api/logs/"


def path_log_id(request: Request[Any, Any, Any]) -> str | None:
    """The log id of ``/api/logs/<id>``, read from the request's raw (still percent-encoded)
    path; ``None`` for ``/api/logs`` itself or a server that gives no raw path.

    The router matches the decoded path, in which ``%2F`` has become ``/`` and leading,
    trailing and repeated slashes are collapsed: ``/api/logs/%2Fabc`` would look up ``abc``
    and ``/api/logs/%2F`` would list. The raw path keeps the id exactly as sent."""
    raw = _raw_id(request)
    if not raw:
        return None
    try:
        return unquote_to_bytes(raw).decode()
    except UnicodeDecodeError:
        raise InvalidParameter("id", "id must be percent-encoded UTF-8") from None


async def misrouted_log(request: Request[Any, Any, Any], store: LogStore) -> Response[bytes] | None:
    """The answer to ``GET /api/logs/<id>`` when the router sent it to another route: it
    matches the decoded path, so the log ``stats/`` (``/api/logs/stats%2F``) would get the
    stats and ``histogram/cost`` the cost histogram. A first raw segment holding an encoded
    ``/`` is never a fixed route's name, so it is a log id (or its ``/similar``).
    ``None``: the route the router chose is the right one."""
    if not is_misrouted_log(request.scope, request.scope.get("route_handler")):
        return None
    return await log_or_similar(request, store, path_log_id(request) or "")


def is_misrouted_log(scope: Mapping[str, Any], handler: Any) -> bool:
    """Whether :func:`misrouted_log` answers this request (``handler``: the route the router
    chose) as ``GET /api/logs/<id>``: the guard then asks for role ``read``, the role of
    that route, not the chosen one's (``/api/logs/dropped%2F`` is the log ``dropped/``)."""
    if scope.get("method") != "GET" or getattr(handler, "fn", None) in (list_logs.fn, get_log.fn):
        return False
    raw = _raw_id_of(scope)
    return raw is not None and b"%2f" in raw.split(b"/", 1)[0].lower()


def _raw_id(request: Request[Any, Any, Any]) -> bytes | None:
    return _raw_id_of(request.scope)


def _raw_id_of(scope: Mapping[str, Any]) -> bytes | None:
    """What follows ``/api/logs/`` in the raw path, still percent-encoded; ``None`` when
    the path is elsewhere or the server gives no raw path."""
    raw: bytes | None = scope.get("raw_path")
    if not raw:
        return None
    raw = raw.split(b"?", 1)[0]  # some clients' raw_path carries the query string
    root = scope.get("root_path", "").encode("latin-1")
    if root and raw.startswith(root):
        raw = raw[len(root) :]
    return raw[len(_LOG_PREFIX) :] if raw.startswith(_LOG_PREFIX) else None


async def one_log(store: LogStore, log_id: str) -> Response[bytes]:
    source = await store.get(log_id)
    if source is None:
        raise LogNotFound(log_id)
    return Response(content=bytes(source), media_type=JSON)


ROUTES: list[Any] = [list_logs, get_log]
