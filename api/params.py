"""``GET /api/logs`` query string -> :class:`LogQuery`: the shared filters
(:mod:`api.filters`) plus paging, sort and cursor. Pure: no I/O, one error type.

Unknown parameters are errors (a typo must not silently widen the result); see
:mod:`api.parsing` for the rules every parameter follows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from typing import Final, Literal, get_args

import msgspec

from api.filters import FILTER_PARAMS, METADATA_PREFIX, LogFilter, parse_filters
from api.parsing import (
    LONG_MAX,
    LONG_MIN,
    InvalidParameter,
    QueryInput,
    boolean,
    bounded_integer,
    collect,
    enum,
    reject_unknown,
    single,
)
from shared.index import MAX_RESULT_WINDOW

SortBy = Literal["timestamp", "latency", "tokens", "cost"]
Order = Literal["asc", "desc"]
SORT_BY_VALUES: Final[tuple[str, ...]] = get_args(SortBy)
ORDER_VALUES: Final[tuple[str, ...]] = get_args(Order)

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 1000
CURSOR_PARAM: Final = "cursor"
#: date_nanos covers 1970-01-01 .. 2262-04-11 (nanoseconds since the epoch in a signed long).
NANOS_MAX: Final = LONG_MAX
#: Parameters of the list beyond the shared filters.
LIST_PARAMS: Final[frozenset[str]] = frozenset(
    {"limit", "offset", "sort_by", "order", CURSOR_PARAM, "highlight"}
)
KNOWN_PARAMS: Final[frozenset[str]] = FILTER_PARAMS | LIST_PARAMS

SortValue = int | float | str


class Cursor(msgspec.Struct, frozen=True, array_like=True):
    """Where the next page starts: the last hit's sort values (``search_after``), the
    absolute position of the next page, and a fingerprint of the query it belongs to."""

    fingerprint: str
    after: tuple[SortValue, str]
    position: int


class LogQuery(LogFilter, frozen=True, kw_only=True):
    """A validated ``GET /api/logs`` request: the filters plus the page."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    sort_by: SortBy = "timestamp"
    order: Order = "desc"
    cursor: Cursor | None = None
    highlight: bool = False


def fingerprint(q: LogQuery) -> str:
    """Identifies the filters and sort of a query (not its page): a cursor only continues
    the query it came from."""
    base = msgspec.structs.replace(q, limit=DEFAULT_LIMIT, offset=0, cursor=None, highlight=False)
    if base.period is not None:  # a sliding window: the same query, whatever its clock
        base = msgspec.structs.replace(base, start_ns=None, end_ns=None)
    return hashlib.sha256(msgspec.json.encode(base)).hexdigest()[:16]


def encode_cursor(cursor: Cursor) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(cursor)).decode().rstrip("=")


def _decode_cursor(text: str) -> Cursor:
    problem = (
        "cursor is not valid: pass next_cursor from the previous page unchanged, "
        "with the same filters and sort"
    )
    try:
        padded = text.strip() + "=" * (-len(text.strip()) % 4)
        cursor = msgspec.json.decode(base64.urlsafe_b64decode(padded), type=Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidParameter(CURSOR_PARAM, problem) from None
    if cursor.position < 0 or cursor.position > LONG_MAX:
        raise InvalidParameter(CURSOR_PARAM, problem)
    return cursor


def _check_sort_value(sort_by: str, value: SortValue) -> bool:
    if sort_by in ("timestamp", "tokens"):
        return isinstance(value, int) and LONG_MIN <= value <= LONG_MAX
    if isinstance(value, str):
        return value in ("Infinity", "-Infinity")
    return isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value))


def parse_params(query: QueryInput, *, now_ns: int | None = None) -> LogQuery:
    """Validate a raw query string (name -> values) into a :class:`LogQuery`."""
    raw = collect(query)
    reject_unknown(raw, KNOWN_PARAMS, prefix=METADATA_PREFIX)
    base = parse_filters(raw, now_ns=now_ns)
    limit = bounded_integer(
        raw, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT, example="50"
    )
    offset = bounded_integer(raw, "offset", default=0, low=0, high=LONG_MAX, example="100")
    q = LogQuery(
        **msgspec.structs.asdict(base),
        limit=limit,
        offset=offset,
        sort_by=enum(raw, "sort_by", SORT_BY_VALUES, "timestamp"),  # type: ignore[arg-type]
        order=enum(raw, "order", ORDER_VALUES, "desc"),  # type: ignore[arg-type]
        highlight=boolean(raw, "highlight"),
    )

    cursor_text = single(raw, CURSOR_PARAM)
    if cursor_text is None:
        if offset + limit > MAX_RESULT_WINDOW:
            raise InvalidParameter(
                "offset",
                f"offset + limit cannot exceed {MAX_RESULT_WINDOW} (the result window); to page"
                f" deeper pass the previous page's next_cursor as the {CURSOR_PARAM} parameter",
            )
        return q
    if offset:
        raise InvalidParameter(
            "offset",
            f"offset cannot be combined with {CURSOR_PARAM}: the cursor already holds the"
            " position; drop offset",
        )
    cursor = _decode_cursor(cursor_text)
    if cursor.fingerprint != fingerprint(q):
        raise InvalidParameter(
            CURSOR_PARAM,
            "cursor belongs to a different query: send the same filters, sort_by and order"
            " as the request that returned it",
        )
    if not _check_sort_value(q.sort_by, cursor.after[0]):
        raise InvalidParameter(CURSOR_PARAM, "cursor is not valid: corrupted sort values")
    return msgspec.structs.replace(q, cursor=cursor)
