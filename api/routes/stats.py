"""``GET /api/logs/stats``, and :func:`load_stats` (the I/O of one or two windows' stats)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, get
from litestar.di import NamedDependency

from api.aggs.stats import (
    Partial,
    SearchStats,
    StatsResponse,
    build_parents,
    build_rescued,
    build_stats,
    finish,
    parse_count,
    parse_parents,
    parse_stats,
    previous_window,
    response,
)
from api.filters import FILTER_PARAMS, METADATA_PREFIX, LogFilter, parse_filters
from api.parsing import Raw, boolean, reject_unknown
from api.routes.common import error_responses, json_response, ok, param
from api.store import LogStore

STATS_PARAMS = FILTER_PARAMS | {"compare_to_previous"}


async def _complete_parents(store: LogStore, f: LogFilter, part: Partial) -> None:
    while part.after is not None:
        more, part.after = parse_parents(await store.query("stats", build_parents(f, part.after)))
        part.parents.extend(more)


async def load_stats(store: LogStore, f: LogFilter, *, compare: bool) -> StatsResponse:
    """Stats of ``f``'s window (and of the previous window when ``compare`` and comparable):
    one ``_msearch``, plus one more to count rescued roots when fallbacks succeeded."""
    previous = previous_window(f) if compare else None
    windows = [f] if previous is None else [f, previous]
    searches = [build_stats(w) for w in windows]
    answers = await store.multi_query("stats", [body for s in searches for body in s])
    partials: list[Partial] = []
    for w, s in zip(windows, searches, strict=True):
        partials.append(parse_stats(answers[: len(s)], w))
        answers = answers[len(s) :]
    bodies: list[dict[str, Any]] = []
    owners: list[int] = []
    for i, (w, part) in enumerate(zip(windows, partials, strict=True)):
        if part.roots > part.roots_succeeded:
            await _complete_parents(store, w, part)
        if part.needs_rescued:
            chunk = build_rescued(w, part.parents)
            bodies.extend(chunk)
            owners.extend([i] * len(chunk))
    rescued = [0] * len(windows)
    if bodies:
        for i, raw in zip(owners, await store.multi_query("stats", bodies), strict=True):
            rescued[i] += parse_count(raw)
    done: list[SearchStats] = [finish(p, r) for p, r in zip(partials, rescued, strict=True)]
    return response(done[0], done[1] if previous is not None else None)


@get(
    "/logs/stats",
    summary="Get log statistics",
    description=(
        "Statistics over the filtered logs: total_requests counts every matching log "
        "(processing included); rates, averages and sums are over terminal logs (success, "
        "error, cancelled). user_facing_success_rate counts each fallback chain once. "
        "compare_to_previous=true adds the window [start - d, start - 1 ns]."
    ),
    operation_id="getLogsStats",
    tags=["Logging"],
    responses={**ok(StatsResponse), **error_responses(400, 401, 500, 503)},
)
async def get_stats(
    params: NamedDependency[Raw],
    store: NamedDependency[LogStore],
    compare_to_previous: Annotated[
        str | None,
        param(
            "Also compute the previous window of the same length (needs start_time and "
            "end_time or period, and no request_id)",
            type="boolean",
            default=False,
        ),
    ] = None,
) -> Response[bytes]:
    reject_unknown(params, STATS_PARAMS, prefix=METADATA_PREFIX)
    f = parse_filters(params)
    compare = boolean(params, "compare_to_previous")
    return json_response(await load_stats(store, f, compare=compare))


ROUTES: list[Any] = [get_stats]
