"""The live tail's pure core: change polling bodies, resume tokens and event encoding.

A *change* is one written version of a log: ``(marker, id)``, where the marker is the log's
``indexed_at`` (:mod:`shared.index`, nanoseconds, the worker's clock when it planned the
write). Changes are ordered by ``(marker, id)``; every event of ``GET /api/logs/stream``
carries the position of its change as an opaque resume token.

No I/O here: the poller (:mod:`api.live`) and the routes (:mod:`api.routes.stream`) do it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Final, Literal

import msgspec

from api.filters import FILTER_PARAMS, METADATA_PREFIX, PERIODS, LogFilter, parse_filters
from api.parsing import InvalidParameter, Raw, parse_time, reject_unknown, single
from api.query import LIST_EXCLUDES, TIEBREAKER, build_filter
from shared.index import INDEXED_AT, format_nanos

#: The query parameter carrying a resume token (the same as the ``Last-Event-ID`` header).
RESUME_PARAM: Final = "last_event_id"
_NANOS: Final = "strict_date_optional_time_nanos"
_TOKEN_VERSION: Final = 1
_MAX_ID_BYTES: Final = 512
Operation = Literal["create", "update"]


class Change(msgspec.Struct, frozen=True, order=True, array_like=True):
    """One written version of a log, in change order."""

    marker: int
    id: str


class StreamRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A validated ``GET /api/logs/stream`` (or ``/ws``) request."""

    filter: LogFilter
    resume: Change | None = None


# -- resume tokens ---------------------------------------------------------------------------


def _check(change: Change) -> bytes:
    return hashlib.blake2b(msgspec.json.encode(change), digest_size=6).digest()


def encode_token(change: Change) -> str:
    """Opaque, URL-safe, checksummed; the change's position only (no clock, no process
    state), so a token stays valid across API restarts."""
    body = msgspec.json.encode((_TOKEN_VERSION, change.marker, change.id))
    return base64.urlsafe_b64encode(_check(change) + body).decode().rstrip("=")


_TOKEN_DECODER: Final = msgspec.json.Decoder(tuple[int, int, str])


def decode_token(text: str, *, now_ns: int, max_age_s: int) -> Change:
    """The change a token names; a malformed or altered token, or one older than
    ``max_age_s``, is a 400 naming ``last_event_id``."""
    problem = (
        "last_event_id is not a valid resume token: send the id of an event of this stream, "
        "unchanged (or reconnect without it)"
    )
    try:
        padded = text.strip() + "=" * (-len(text.strip()) % 4)
        blob = base64.urlsafe_b64decode(padded.encode("ascii"))
        version, marker, log_id = _TOKEN_DECODER.decode(blob[6:])
    except (binascii.Error, ValueError, UnicodeEncodeError, msgspec.DecodeError):
        raise InvalidParameter(RESUME_PARAM, problem) from None
    change = Change(marker, log_id)
    valid = (
        version == _TOKEN_VERSION
        and 0 <= marker < 2**63
        and 0 < len(log_id.encode()) <= _MAX_ID_BYTES
        and blob[:6] == _check(change)
    )
    if not valid:
        raise InvalidParameter(RESUME_PARAM, problem)
    if marker < now_ns - max_age_s * 1_000_000_000:
        raise InvalidParameter(
            RESUME_PARAM,
            f"last_event_id is too old to resume (older than {max_age_s} s): reload the logs "
            "and reconnect without it",
        )
    return change


# -- requests --------------------------------------------------------------------------------


def parse_stream(
    raw: Raw, header_token: str | None, *, now_ns: int, max_age_s: int
) -> StreamRequest:
    """The filters (those of ``GET /api/logs``, nothing else) and the resume point: the
    ``Last-Event-ID`` header, else the ``last_event_id`` parameter (the same token; the
    header wins: an EventSource sends it, newer, when it reconnects to the same URL)."""
    reject_unknown(raw, FILTER_PARAMS | {RESUME_PARAM}, prefix=METADATA_PREFIX)
    token = single(raw, RESUME_PARAM)
    if header_token:
        token = header_token
    filters = parse_filters({k: v for k, v in raw.items() if k != RESUME_PARAM}, now_ns=now_ns)
    resume = None if token is None else decode_token(token, now_ns=now_ns, max_age_s=max_age_s)
    return StreamRequest(filter=filters, resume=resume)


def filter_key(f: LogFilter) -> bytes:
    """Identifies a filter: clients with the same key share one evaluation per poll."""
    if f.period is not None:  # a sliding window: resolved at each evaluation
        f = msgspec.structs.replace(f, start_ns=None, end_ns=None)
    return msgspec.json.encode(f)


def current_window(f: LogFilter, now_ns: int) -> LogFilter:
    """``f`` with its ``period`` window slid to end at ``now_ns``."""
    if f.period is None:
        return f
    return msgspec.structs.replace(
        f, start_ns=now_ns - PERIODS[f.period] * 1_000_000_000, end_ns=now_ns
    )


# -- OpenSearch bodies -----------------------------------------------------------------------

#: ``unmapped_type``: an index created before the marker existed (and not yet migrated by
#: the worker's start) sorts as if it had none, instead of failing the search.
_UNMAPPED: Final = "date_nanos"
_CHANGE_SORT: Final = [
    {INDEXED_AT: {"order": "asc", "unmapped_type": _UNMAPPED}},
    {TIEBREAKER: {"order": "asc"}},
]


def _since(marker: int) -> dict[str, Any]:
    return {"range": {INDEXED_AT: {"gte": format_nanos(max(marker, 0)), "format": _NANOS}}}


def build_changes(since: int, size: int, after: Change | None = None) -> dict[str, Any]:
    """Every change with a marker at or after ``since`` (any log), in change order; only
    the positions (sort values), no document."""
    body: dict[str, Any] = {
        "query": {"bool": {"filter": [_since(since)]}},
        "sort": _CHANGE_SORT,
        "size": size,
        "_source": False,
        "track_total_hits": False,
    }
    if after is not None:
        body["search_after"] = [after.marker, after.id]
    return body


def build_latest() -> dict[str, Any]:
    """The newest change marker of the store (where a new poller starts)."""
    return {
        "query": {"exists": {"field": INDEXED_AT}},
        "sort": [{INDEXED_AT: {"order": "desc", "unmapped_type": _UNMAPPED}}],
        "size": 1,
        "_source": False,
        "track_total_hits": False,
    }


def build_matching(f: LogFilter, ids: list[str]) -> dict[str, Any]:
    """The logs among ``ids`` that match ``f`` (list item shape)."""
    return {
        "query": build_filter(f, {"ids": {"values": ids}}),
        "size": len(ids),
        "_source": {"excludes": LIST_EXCLUDES},
        "track_total_hits": False,
    }


def build_replay(f: LogFilter, after: Change, size: int) -> dict[str, Any]:
    """The changes after ``after`` that match ``f``, in change order, with their logs."""
    return {
        "query": build_filter(f, _since(after.marker)),
        "sort": _CHANGE_SORT,
        "search_after": [after.marker, after.id],
        "size": size,
        "_source": {"excludes": LIST_EXCLUDES},
        "track_total_hits": False,
    }


class _Hit(msgspec.Struct):
    id: str = msgspec.field(name="_id")
    sort: list[Any] = msgspec.field(default_factory=list)
    source: msgspec.Raw = msgspec.field(name="_source", default=msgspec.Raw(b""))


class _Hits(msgspec.Struct):
    hits: list[_Hit]


class _Response(msgspec.Struct):
    hits: _Hits


_RESPONSE: Final = msgspec.json.Decoder(_Response)


def parse_changes(body: bytes) -> list[Change]:
    """The changes of a :func:`build_changes` (or :func:`build_latest`) answer."""
    return [
        Change(int(hit.sort[0]), str(hit.sort[1]) if len(hit.sort) > 1 else hit.id)
        for hit in _RESPONSE.decode(body).hits.hits
        if hit.sort
    ]


def parse_matching(body: bytes) -> dict[str, msgspec.Raw]:
    """Log id -> log, of a :func:`build_matching` answer."""
    return {hit.id: hit.source for hit in _RESPONSE.decode(body).hits.hits if len(hit.source)}


def parse_replay(body: bytes) -> list[tuple[Change, msgspec.Raw]]:
    """(change, log) pairs of a :func:`build_replay` answer, in change order."""
    return [
        (Change(int(hit.sort[0]), str(hit.sort[1])), hit.source)
        for hit in _RESPONSE.decode(body).hits.hits
        if len(hit.source) and len(hit.sort) == 2
    ]


# -- events ----------------------------------------------------------------------------------


class _Lifecycle(msgspec.Struct):
    status: str | None = None
    created_at: str | None = None
    timestamp: str | None = None


_LIFECYCLE: Final = msgspec.json.Decoder(_Lifecycle)


def _instant(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_time("timestamp", text)
    except InvalidParameter:
        return None


def operation(log: msgspec.Raw) -> Operation:
    """Bifrost's rule: ``create`` iff ``status == "processing"`` and ``created_at`` is the
    same instant as ``timestamp``; otherwise ``update``."""
    fields = _LIFECYCLE.decode(log)
    if fields.status != "processing":
        return "update"
    created = _instant(fields.created_at)
    return "create" if created is not None and created == _instant(fields.timestamp) else "update"


def _one_line(log: msgspec.Raw) -> bytes:
    """A stored JSON value on one line: a line break can only be whitespace between tokens
    (inside a JSON string it is escaped), so it is replaced by a space."""
    return bytes(log).replace(b"\r", b" ").replace(b"\n", b" ")


HEARTBEAT: Final = b": heartbeat\n\n"
#: Sent first: the stream is open (and proxies flush their buffers).
OPENED: Final = b": open\n\n"


def sse_event(change: Change, log: msgspec.Raw) -> bytes:
    """One ``event: log`` of ``GET /api/logs/stream``."""
    return (
        b"id: "
        + encode_token(change).encode()
        + b'\nevent: log\ndata: {"operation":"'
        + operation(log).encode()
        + b'","log":'
        + _one_line(log)
        + b"}\n\n"
    )


def sse_reset(reason: str) -> bytes:
    return b"event: reset\ndata: " + msgspec.json.encode({"reason": reason}) + b"\n\n"


def ws_frame(log: msgspec.Raw) -> bytes:
    """One ``/ws`` text frame (``dashboards.md`` section 5)."""
    return (
        b'{"type":"log","operation":"'
        + operation(log).encode()
        + b'","payload":'
        + bytes(log)
        + b"}"
    )
