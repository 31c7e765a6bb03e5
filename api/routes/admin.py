"""``GET /api/logs/dropped``, ``GET /api/logs/freshness`` and ``DELETE /api/logs``."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Annotated, Any

from litestar import Request, Response, delete, get
from litestar.di import NamedDependency

from api.deletion import (
    DeleteIncomplete,
    DeleteResult,
    audit_finished,
    audit_started,
    build_delete_query,
    parse_count,
    parse_delete,
    parse_deleted,
)
from api.dropped import DroppedResponse, build_dropped, parse_dropped, parse_dropped_response
from api.freshness import Freshness, FreshnessCache
from api.parsing import Raw, collect
from api.routes.common import ROLE_OPT, error_responses, json_response, ok, param
from api.store import LogStore
from api.tokens import Access
from shared.errors import StoreUnavailable
from shared.ops_index import dropped_index

log = logging.getLogger("api")


@get(
    "/logs/dropped",
    summary="Dropped events",
    description=(
        "Bifrost's dropped_requests: the events Heimdall could not index (dead-lettered by the "
        "worker), counted once per Kafka record. Beyond Bifrost: the count by reason and by "
        "time bucket (Kafka record time), for an optional window (start_time/end_time or "
        "period; the other filters do not apply). Survives restarts."
    ),
    operation_id="getDroppedRequests",
    tags=["Logging"],
    opt={ROLE_OPT: "admin"},
    responses={**ok(DroppedResponse), **error_responses(400, 401, 403, 500, 503)},
)
async def dropped(
    request: Request[Any, Any, Any],
    store: NamedDependency[LogStore],
    start_time: Annotated[
        str | None, param("Start of the window, inclusive (RFC 3339)", format="date-time")
    ] = None,
    end_time: Annotated[
        str | None, param("End of the window, inclusive (RFC 3339)", format="date-time")
    ] = None,
    period: Annotated[
        str | None, param("Window ending now (1h, 6h, 24h, 7d, 30d), instead of the times")
    ] = None,
    bucket_size_seconds: Annotated[
        str | None,
        param(
            "Bucket size in seconds (60..2592000); default: chosen from the window", type="integer"
        ),
    ] = None,
) -> Response[bytes]:
    q = parse_dropped(_raw_query(request))
    raw = await store.query("dropped", build_dropped(q), index=dropped_index(store.alias))
    return json_response(parse_dropped_response(raw, q))


@get(
    "/logs/freshness",
    summary="Ingestion freshness",
    description=(
        "How far ingestion has come: the newest log timestamp indexed and the consumer lag, "
        "overall and per partition, as the worker last recorded them (re-read at most once a "
        "second). Every /api/* response carries the same as X-Heimdall-Indexed-Through and "
        "X-Heimdall-Consumer-Lag headers."
    ),
    operation_id="getFreshness",
    tags=["Logging"],
    responses={**ok(Freshness), **error_responses(401, 500)},
)
async def freshness(freshness: NamedDependency[FreshnessCache]) -> Response[bytes]:
    return json_response(await freshness.get())


@delete(
    "/logs",
    summary="Delete logs",
    description=(
        'Bifrost\'s form: body {"ids": [...]}. Beyond Bifrost: any filter of GET /api/logs as '
        "query parameters (ANDed with ids when both are given); dry_run=true only counts; "
        "with neither ids nor a filter, all=true is required. Every delete writes an audit "
        "record (who, when, query, counts) to <alias>-audit. Needs role delete when "
        "authentication is on; a scoped token deletes (and counts) only logs in its scope."
    ),
    operation_id="deleteLogs",
    tags=["Logging"],
    status_code=200,
    opt={ROLE_OPT: "delete"},
    responses={**ok(DeleteResult), **error_responses(400, 401, 403, 500, 503)},
)
async def delete_logs(
    request: Request[Any, Any, Any],
    params: NamedDependency[Raw],
    store: NamedDependency[LogStore],
    access: NamedDependency[Access],
    dry_run: Annotated[
        str | None, param("Only count the logs that would be deleted", type="boolean")
    ] = None,
    all: Annotated[
        str | None,
        param("Required to delete with neither ids nor a filter (every log)", type="boolean"),
    ] = None,
) -> Response[bytes]:
    req = parse_delete(params, await request.body())
    query = build_delete_query(req)
    if req.dry_run:
        return json_response(parse_count(await store.count("delete dry run", query)))
    audit_id = str(uuid.uuid4())
    record = audit_started(req, access.principal, _now_ms(), store.scope_query(query))
    await store.write_audit(audit_id, record)
    try:
        result = parse_deleted(await store.delete_by_query(query))
    except Exception as exc:
        log.warning("delete %s did not complete: %r", audit_id, exc)
        await store.write_audit(audit_id, audit_finished(record, None, repr(exc), _now_ms()))
        if isinstance(exc, DeleteIncomplete):
            raise StoreUnavailable(str(exc)) from exc
        raise
    await store.write_audit(audit_id, audit_finished(record, result, None, _now_ms()))
    return json_response(result)


def _raw_query(request: Request[Any, Any, Any]) -> Raw:
    return collect(request.query_params.dict())


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


ROUTES: list[Any] = [dropped, freshness, delete_logs]
