"""``GET /api/logs/stream`` (server-sent events) and ``GET /ws`` (Bifrost's WebSocket).

Both are fed by the process's one poller (:class:`api.live.LiveHub`); the encoding and the
resume tokens are :mod:`api.stream`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

from litestar import Request, WebSocket, get, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.openapi import ResponseSpec
from litestar.response import Stream

from api.auth import Authenticator
from api.live import LiveHub, Subscriber
from api.origins import origin_allowed
from api.parsing import Raw, collect
from api.routes.common import error_responses, param
from api.settings import ApiSettings
from api.store import LogStore
from api.stream import (
    HEARTBEAT,
    OPENED,
    Change,
    StreamRequest,
    build_replay,
    current_window,
    parse_replay,
    parse_stream,
    sse_event,
    sse_reset,
    ws_frame,
)
from shared.errors import HeimdallError

log = logging.getLogger(__name__)

EVENT_STREAM: Final = "text/event-stream"
#: Logs per page of a resume's replay.
REPLAY_PAGE: Final = 500
#: Seconds one WebSocket frame may take to be sent before the client is dropped.
WS_WRITE_SECONDS: Final = 10.0
#: WebSocket close codes: policy violation (Origin, credentials, filters), try again later.
WS_POLICY: Final = 1008
WS_OVERLOADED: Final = 1013
_BEHIND: Final = "client too far behind: reload the logs and reconnect without a token"
_UNAVAILABLE: Final = "log store unavailable: reconnect later"

_STREAM_DESCRIPTION = (
    "Server-sent events (text/event-stream) of new and updated logs matching the filters "
    "(the filter parameters of GET /api/logs; no paging or sort), oldest change first. "
    'Each event: "id: <resume token>", "event: log", '
    '"data: {"operation":"create"|"update","log":<list item>}"; operation is create iff '
    "status is processing and created_at equals timestamp. A ': heartbeat' comment comes at "
    "least every 15 s. Resume with the Last-Event-ID header (or last_event_id): the events "
    "after that one; a malformed or too old token is a 400. A client too far behind gets "
    '"event: reset" with data {"reason": ...} and the stream ends. See docs/api.md.'
)


@get(
    "/logs/stream",
    summary="Live tail of logs (server-sent events)",
    description=_STREAM_DESCRIPTION,
    operation_id="streamLogs",
    tags=["Logging"],
    responses={
        200: ResponseSpec(
            data_container=str,
            media_type=EVENT_STREAM,
            description="An endless stream of server-sent events",
            generate_examples=False,
        ),
        **error_responses(400, 401),
    },
    media_type=EVENT_STREAM,
)
async def stream_logs(
    request: Request[Any, Any, Any],
    params: NamedDependency[Raw],
    store: NamedDependency[LogStore],
    hub: NamedDependency[LiveHub],
    settings: NamedDependency[ApiSettings],
    last_event_id: Annotated[
        str | None,
        param(
            "Resume token: the id of the last event received; resumes after that event. "
            "The Last-Event-ID header carries the same token and wins over this parameter "
            "(an EventSource sends it when it reconnects)"
        ),
    ] = None,
) -> Stream:
    del last_event_id  # read from ``params`` (it documents the parameter)
    stream = parse_stream(
        params,
        request.headers.get("last-event-id"),
        now_ns=time.time_ns(),
        max_age_s=settings.api_stream_resume_seconds,
    )
    return Stream(
        _events(hub, store, stream, settings.api_stream_heartbeat_seconds),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    hub: LiveHub, store: LogStore, stream: StreamRequest, heartbeat: float
) -> AsyncIterator[bytes]:
    yield OPENED
    subscriber = hub.subscribe(stream.filter)
    try:
        while not await hub.ready(heartbeat):
            yield HEARTBEAT
        replayed: set[Change] = set()
        if stream.resume is not None:
            floor = hub.floor
            try:
                async for change, item in _replay(store, stream, stream.resume):
                    if change.marker >= floor:  # the poller may find it again
                        replayed.add(change)
                    yield sse_event(change, item)
                    if subscriber.overflowed.is_set():
                        break
            except HeimdallError as exc:
                log.warning("live tail replay failed: %s", exc)
                yield sse_reset(_UNAVAILABLE)
                return
        while True:
            got = await subscriber.next(heartbeat)
            if subscriber.overflowed.is_set():
                yield sse_reset(_BEHIND)
                return
            if got is None:
                yield HEARTBEAT
                continue
            change, item = got
            if change in replayed:
                replayed.discard(change)
                continue
            yield sse_event(change, item)
    finally:
        hub.unsubscribe(subscriber)


async def _replay(
    store: LogStore, stream: StreamRequest, after: Change
) -> AsyncIterator[tuple[Change, Any]]:
    """The matching changes after ``after``, in change order, page by page."""
    while True:
        body = build_replay(current_window(stream.filter, time.time_ns()), after, REPLAY_PAGE)
        page = parse_replay(await store.query("stream replay", body))
        for change, item in page:
            yield change, item
        if len(page) < REPLAY_PAGE:
            return
        after = page[-1][0]


@websocket("/ws")
async def bifrost_ws(
    socket: WebSocket[Any, Any, Any],
    hub: NamedDependency[LiveHub],
    settings: NamedDependency[ApiSettings],
    authenticator: NamedDependency[Authenticator],
) -> None:
    """Bifrost's ``/ws`` (``dashboards.md`` section 5): ``{"type":"log",...}`` text frames
    of every new or updated log (the filter parameters are accepted as an extension);
    client messages are discarded; pings come from the server (``api.server``)."""
    headers = socket.headers
    refused = not origin_allowed(headers.get("origin"), headers.get("host"), settings.ws_origins())
    try:
        if authenticator.enabled:
            authenticator.check(headers)
        stream = parse_stream(
            collect(socket.query_params.dict()),
            None,
            now_ns=time.time_ns(),
            max_age_s=settings.api_stream_resume_seconds,
        )
    except HeimdallError as exc:
        log.info("/ws refused: %s", exc)
        refused = True
    if refused:
        await socket.close(code=WS_POLICY)  # before accept: the handshake is refused (403)
        return
    subscriber = hub.subscribe(stream.filter)
    try:
        await socket.accept()
        while not await hub.ready(WS_WRITE_SECONDS):
            pass
        await _pump(socket, subscriber)
    finally:
        hub.unsubscribe(subscriber)


async def _pump(socket: WebSocket[Any, Any, Any], subscriber: Subscriber) -> None:
    reader = asyncio.create_task(_discard(socket))
    try:
        while not reader.done():
            got = await subscriber.next(1.0)
            if subscriber.overflowed.is_set():
                await socket.close(code=WS_OVERLOADED, reason="client too far behind")
                return
            if got is None:
                continue
            try:
                await asyncio.wait_for(
                    socket.send_data(ws_frame(got[1]).decode(), mode="text"), WS_WRITE_SECONDS
                )
            except (TimeoutError, WebSocketDisconnect, OSError):
                return
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await reader


async def _discard(socket: WebSocket[Any, Any, Any]) -> None:
    """Read and drop whatever the client sends, until it disconnects."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                return


STREAM_ROUTES: list[Any] = [stream_logs]
WS_ROUTES: list[Any] = [bifrost_ws]
