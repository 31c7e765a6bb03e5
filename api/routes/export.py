"""``GET /api/logs/export``: every matching log as NDJSON or CSV, streamed.

One point in time (PIT) is opened per export and read page by page with ``search_after``
(:mod:`api.export`); each page is encoded and sent before the next is read, so memory stays
bounded by one page whatever the number of logs. The PIT is closed when the export ends,
fails, or the client goes away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator
from typing import Annotated, Any, Final

import anyio
from litestar import get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.response import Stream

from api.export import (
    MEDIA_TYPES,
    PIT_KEEP_ALIVE,
    ExportQuery,
    build_page,
    csv_header,
    encode,
    filename,
    parse_export,
    parse_page,
)
from api.params import ORDER_VALUES, SORT_BY_VALUES
from api.parsing import Raw
from api.routes.common import error_responses, param
from api.settings import ApiSettings
from api.store import LogStore

log = logging.getLogger(__name__)

_DESCRIPTION: Final = (
    "Every log matching the filters (those of GET /api/logs), streamed as a file "
    "(Content-Disposition: attachment; filename=heimdall-logs-<UTC time>.<format>), read "
    "through one point in time in the order of sort_by/order (default timestamp desc, ties by "
    "id). ndjson: one list item per line (with payloads=true, the log as GET /api/logs/{id}). "
    "csv: a header row, then id, timestamp, status, provider, model, object, latency, "
    "prompt_tokens, completion_tokens, total_tokens, cost, virtual_key_id, virtual_key_name, "
    "selected_key_id, selected_key_name, parent_request_id, error (the message), and with "
    "payloads=true input_history, output_message, raw_request, raw_response as JSON text "
    "(RFC 4180)."
)


@get(
    "/logs/export",
    summary="Export logs (NDJSON or CSV)",
    description=_DESCRIPTION,
    operation_id="exportLogs",
    tags=["Logging"],
    responses={
        200: ResponseSpec(
            data_container=str,
            media_type="application/x-ndjson",
            description="The logs, one per line (or CSV rows with format=csv)",
            generate_examples=False,
        ),
        **error_responses(400, 401, 503),
    },
)
async def export_logs(
    params: NamedDependency[Raw],
    store: NamedDependency[LogStore],
    settings: NamedDependency[ApiSettings],
    format: Annotated[str | None, param("File format (required)", enum=["ndjson", "csv"])] = None,
    payloads: Annotated[
        str | None,
        param(
            "Include the heavy payloads (histories, outputs, raw request and response, ...)",
            type="boolean",
            default=False,
        ),
    ] = None,
    sort_by: Annotated[
        str | None, param("Field to sort by", enum=list(SORT_BY_VALUES), default="timestamp")
    ] = None,
    order: Annotated[
        str | None, param("Sort order", enum=list(ORDER_VALUES), default="desc")
    ] = None,
) -> Stream:
    del format, payloads, sort_by, order  # read from ``params`` (they document them)
    now = time.time_ns()
    export = parse_export(params, now_ns=now)
    # Opened before answering: an unavailable store is a 503, not a truncated file.
    pit_id = await store.open_pit(PIT_KEEP_ALIVE)
    return Stream(
        export_chunks(store, export, pit_id, settings.api_export_page),
        media_type=MEDIA_TYPES[export.format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename(now, export.format)}"',
            "Cache-Control": "no-store",
        },
    )


async def export_chunks(
    store: LogStore, export: ExportQuery, pit_id: str | None, page: int
) -> AsyncGenerator[bytes]:
    """The file, one chunk per page; closes ``pit_id`` however it ends."""
    try:
        if export.format == "csv":
            yield csv_header(export)
        if pit_id is None:  # no log index yet: nothing to export
            return
        after: list[Any] | None = None
        while True:
            answer = parse_page(await store.search_pit(build_page(export, pit_id, page, after)))
            if answer.pit_id:
                pit_id = answer.pit_id
            hits = answer.hits.hits
            if hits:
                yield b"".join(encode(export, hit.source) for hit in hits)
            if len(hits) < page:
                return
            after = hits[-1].sort
    finally:
        if pit_id is not None:
            # Also when the client went away: the response's cancelled scope would cancel
            # the request at once, so it runs shielded.
            with anyio.CancelScope(shield=True):
                await store.close_pit(pit_id)


ROUTES: list[Any] = [export_logs]
