"""``GET /api/logs/sessions/{session_id}`` and ``GET /api/logs/sessions/{session_id}/summary``.

A session id may contain "/" (sent as %2F). Litestar routes on the decoded path, so both
handlers read the raw path to tell ``<id>/summary`` (the summary) from an id that itself ends
in "%2Fsummary" (its logs).
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import unquote

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from api.docs import LogListItem
from api.parsing import collect, reject_unknown
from api.routes.common import error_responses, json_response, ok, param
from api.routes.logs import log_or_similar, path_log_id
from api.sessions import (
    SESSION_LIMIT,
    SessionLogs,
    SessionSummary,
    build_session,
    build_session_summary,
    parse_session,
    parse_session_page,
    parse_session_summary,
)
from api.store import LogStore

_PREFIX: Final = "/logs/sessions/"
_SUMMARY: Final = "/summary"
_ID = Parameter(description="Session id: the parent_request_id its logs share")


class SessionLogsDoc(SessionLogs, kw_only=True):
    """:class:`SessionLogs` as documented: each item like a ``GET /api/logs`` item."""

    logs: list[LogListItem]  # type: ignore[assignment]


def _target(request: Request[Any, Any, Any]) -> tuple[str, bool] | None:
    """(session id, whether the summary is asked for), from the raw request path; ``None``
    when the raw path is a log id that starts with "sessions/" (``/api/logs/sessions%2Fx``,
    routed here on the decoded path)."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.decode("latin-1").partition("?")[0]  # some servers keep the query
    start = path.find(_PREFIX)
    if start < 0:
        return None
    rest = path[start + len(_PREFIX) :]
    summary = rest.endswith(_SUMMARY)
    if summary:
        rest = rest[: -len(_SUMMARY)]
    return unquote(rest), summary


async def _answer(request: Request[Any, Any, Any], store: LogStore) -> Response[bytes]:
    # Not the shared ``params`` dependency: sessions take no log filters (and the filter
    # ``session_id`` would clash with the path parameter in the OpenAPI document).
    params = collect(request.query_params.dict())
    target = _target(request)
    if target is None:  # GET /api/logs/{id} of an id "sessions/...", sent with %2F
        return await log_or_similar(request, store, path_log_id(request) or "")
    session_id, summary = target
    if summary:
        reject_unknown(params, frozenset())
        raw = await store.query("session summary", build_session_summary(session_id))
        return json_response(parse_session_summary(session_id, raw))
    page = parse_session_page(session_id, params)
    return json_response(parse_session(page, await store.query("session", build_session(page))))


@get(
    "/logs/sessions/{session_id:path}",
    summary="Logs of a session",
    description=(
        "The logs whose parent_request_id is the session id (the root log itself is not "
        "part of it), any status and time, sorted by timestamp then id. Items leave out the "
        "heavy payloads, like GET /api/logs."
    ),
    operation_id="getLogSession",
    tags=["Logging"],
    responses={**ok(SessionLogsDoc), **error_responses(400, 401, 500, 503)},
)
async def session_logs(
    request: Request[Any, Any, Any],
    store: NamedDependency[LogStore],
    session_id: Annotated[str, _ID],
    limit: Annotated[
        str | None,
        param(
            f"Logs per page (default {SESSION_LIMIT}, max {SESSION_LIMIT})",
            type="integer",
            minimum=1,
            maximum=SESSION_LIMIT,
            default=SESSION_LIMIT,
        ),
    ] = None,
    offset: Annotated[
        str | None, param("Logs to skip", type="integer", minimum=0, default=0)
    ] = None,
    order: Annotated[
        str | None, param("Order of timestamp and id", enum=["asc", "desc"], default="asc")
    ] = None,
) -> Response[bytes]:
    return await _answer(request, store)


@get(
    "/logs/sessions/{session_id:str}/summary",
    summary="Totals of a session",
    description=(
        "Count, cost and tokens of the session's logs (any status), and its first and last "
        "timestamp."
    ),
    operation_id="getLogSessionSummary",
    tags=["Logging"],
    responses={**ok(SessionSummary), **error_responses(400, 401, 500, 503)},
)
async def session_summary(
    request: Request[Any, Any, Any],
    store: NamedDependency[LogStore],
    session_id: Annotated[str, _ID],
) -> Response[bytes]:
    return await _answer(request, store)


ROUTES: list[Any] = [session_logs, session_summary]
