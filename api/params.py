"""``GET /api/logs`` query string -> :class:`LogQuery`. Pure: no I/O, one error type.

Every invalid value raises :class:`InvalidParameter` naming the parameter and saying what
is wrong and what to send instead. Rules (see ``docs/api.md``):

- An empty value (``?limit=``) counts as absent, like Bifrost.
- Comma lists: items trimmed, empty items dropped; a list parameter given several times is
  one list (``?models=a&models=b`` == ``?models=a,b``). Any other parameter given twice is
  an error.
- Unknown parameters are errors (a typo must not silently widen the result).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Final, Literal, get_args

import msgspec

from shared.errors import HeimdallError
from shared.index import MAX_RESULT_WINDOW
from shared.schema import Status

SortBy = Literal["timestamp", "latency", "tokens", "cost"]
Order = Literal["asc", "desc"]
SORT_BY_VALUES: Final[tuple[str, ...]] = get_args(SortBy)
ORDER_VALUES: Final[tuple[str, ...]] = get_args(Order)
STATUS_VALUES: Final[tuple[str, ...]] = get_args(Status)

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 1000
MAX_CONTENT_SEARCH: Final = 1000
METADATA_PREFIX: Final = "metadata_"
CURSOR_PARAM: Final = "cursor"

_LONG_MIN: Final = -(2**63)
_LONG_MAX: Final = 2**63 - 1
#: date_nanos covers 1970-01-01 .. 2262-04-11 (nanoseconds since the epoch in a signed long).
NANOS_MAX: Final = _LONG_MAX

#: List filter parameter -> stored field.
LIST_FILTERS: Final[dict[str, str]] = {
    "providers": "provider",
    "models": "model",
    "status": "status",
    "objects": "object",
    "selected_key_ids": "selected_key_id",
    "virtual_key_ids": "virtual_key_id",
    "routing_rule_ids": "routing_rule_id",
    "parent_request_id": "parent_request_id",
    "request_id": "id",
}
#: Bifrost filters on fields Heimdall's stored log does not have.
UNSUPPORTED_FILTERS: Final[dict[str, str]] = {
    "team_ids": "team",
    "customer_ids": "customer",
    "user_ids": "user",
    "stop_reasons": "stop reason",
}
_SCALARS: Final = (
    "start_time",
    "end_time",
    "min_latency",
    "max_latency",
    "min_tokens",
    "max_tokens",
    "min_cost",
    "max_cost",
    "missing_cost_only",
    "content_search",
    "limit",
    "offset",
    "sort_by",
    "order",
    CURSOR_PARAM,
)
KNOWN_PARAMS: Final[frozenset[str]] = frozenset(LIST_FILTERS) | frozenset(_SCALARS)

_INT_RE: Final = re.compile(r"[+-]?[0-9]+")
_NUMBER_RE: Final = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_RFC3339_RE: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)
_TRUE: Final = frozenset({"true", "1", "t", "yes"})
_FALSE: Final = frozenset({"false", "0", "f", "no"})


class InvalidParameter(HeimdallError):
    """A query parameter has an invalid value; ``param`` names it (HTTP 400)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


SortValue = int | float | str


class Cursor(msgspec.Struct, frozen=True, array_like=True):
    """Where the next page starts: the last hit's sort values (``search_after``), the
    absolute position of the next page, and a fingerprint of the query it belongs to."""

    fingerprint: str
    after: tuple[SortValue, str]
    position: int


class LogQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A validated ``GET /api/logs`` request. Tuples are sorted and de-duplicated."""

    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(stored field, accepted values) pairs; OR within one, AND across."""
    start_ns: int | None = None
    end_ns: int | None = None
    min_latency: float | None = None
    max_latency: float | None = None
    min_cost: float | None = None
    max_cost: float | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    missing_cost_only: bool = False
    content_words: str = ""
    """The unquoted part of ``content_search``, verbatim (every word must match)."""
    content_phrases: tuple[str, ...] = ()
    """Each ``"quoted phrase"`` of ``content_search`` (must match as a phrase)."""
    metadata: tuple[tuple[str, str], ...] = ()
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    sort_by: SortBy = "timestamp"
    order: Order = "desc"
    cursor: Cursor | None = None


QueryInput = Mapping[str, Sequence[str]] | Iterable[tuple[str, str]]


def _collect(query: QueryInput) -> dict[str, list[str]]:
    collected: dict[str, list[str]] = {}
    if isinstance(query, Mapping):
        for key, values in query.items():
            if isinstance(values, str):
                collected.setdefault(key, []).append(values)
            else:
                collected.setdefault(key, []).extend(values)
    else:
        for key, value in query:
            collected.setdefault(key, []).append(value)
    return collected


def _single(raw: dict[str, list[str]], name: str) -> str | None:
    values = [v for v in raw.get(name, ()) if v != ""]
    if len(values) > 1:
        raise InvalidParameter(name, f"{name} was given {len(values)} times; give it once")
    return values[0] if values else None


def _list(values: Iterable[str]) -> tuple[str, ...]:
    items = {item.strip() for value in values for item in value.split(",")}
    items.discard("")
    return tuple(sorted(items))


def _number(raw: dict[str, list[str]], name: str, unit: str) -> float | None:
    text = _single(raw, name)
    if text is None:
        return None
    if not _NUMBER_RE.fullmatch(text.strip()):
        raise InvalidParameter(
            name, f"{name} must be a number ({unit}), e.g. {name}=1.5; got {text!r}"
        )
    value = float(text)
    if not math.isfinite(value):
        raise InvalidParameter(name, f"{name} is out of range; got {text!r}")
    return value


def _integer(
    raw: dict[str, list[str]], name: str, example: str, *, low: int = _LONG_MIN
) -> int | None:
    text = _single(raw, name)
    if text is None:
        return None
    if not _INT_RE.fullmatch(text.strip()):
        raise InvalidParameter(
            name, f"{name} must be a whole number, e.g. {name}={example}; got {text!r}"
        )
    value = int(text)
    if value > _LONG_MAX or value < low:
        raise InvalidParameter(name, f"{name} is out of range; got {text!r}")
    return value


def parse_time(name: str, text: str) -> int:
    """RFC 3339 (offset or ``Z`` required, fraction optional, at most 9 digits) ->
    nanoseconds since the Unix epoch (may be negative or beyond ``date_nanos``)."""
    match = _RFC3339_RE.fullmatch(text.strip())
    hint = (
        f"{name} must be an RFC 3339 time such as 2024-05-01T12:00:00Z"
        " or 2024-05-01T14:00:00.5+02:00"
    )
    if match is None:
        raise InvalidParameter(name, f"{hint}; got {text!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    if len(fraction) > 9:
        raise InvalidParameter(name, f"{name} has more than nanosecond precision; got {text!r}")
    try:
        datetime(year, month, day, hour, minute, second)  # validates the calendar fields
    except ValueError as exc:
        raise InvalidParameter(name, f"{hint}; got {text!r} ({exc})") from None
    offset_s = 0
    if match.group(9):
        off_h, off_m = int(match.group(10)), int(match.group(11))
        if off_h > 23 or off_m > 59:
            raise InvalidParameter(name, f"{hint}; got {text!r} (invalid UTC offset)")
        offset_s = (off_h * 3600 + off_m * 60) * (1 if match.group(9) == "+" else -1)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset_s
    return seconds * 1_000_000_000 + int(fraction.ljust(9, "0"))


def _time(raw: dict[str, list[str]], name: str) -> int | None:
    text = _single(raw, name)
    return None if text is None else parse_time(name, text)


def _boolean(raw: dict[str, list[str]], name: str) -> bool:
    text = _single(raw, name)
    if text is None:
        return False
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidParameter(name, f"{name} must be true or false; got {text!r}")


def _enum(raw: dict[str, list[str]], name: str, allowed: tuple[str, ...], default: str) -> str:
    text = _single(raw, name)
    if text is None:
        return default
    value = text.strip().lower()
    if value not in allowed:
        raise InvalidParameter(name, f"{name} must be one of {', '.join(allowed)}; got {text!r}")
    return value


def split_content_search(text: str) -> tuple[str, tuple[str, ...]]:
    """Split into (bare words, quoted phrases). A quote without its closing partner is
    ignored: the text after it counts as bare words. Nothing here is query syntax."""
    parts = text.split('"')
    balanced = len(parts) % 2 == 1
    words: list[str] = []
    phrases: list[str] = []
    for i, part in enumerate(parts):
        inside = i % 2 == 1 and (balanced or i != len(parts) - 1)
        if inside:
            phrase = " ".join(part.split())
            if phrase:
                phrases.append(phrase)
        else:
            words.extend(part.split())
    return " ".join(words), tuple(dict.fromkeys(phrases))


def _bound_check(low_name: str, low: float | None, high_name: str, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        raise InvalidParameter(
            low_name,
            f"{low_name} ({low:g}) cannot be greater than {high_name} ({high:g})",
        )


def fingerprint(q: LogQuery) -> str:
    """Identifies the filters and sort of a query (not its page): a cursor only continues
    the query it came from."""
    base = msgspec.structs.replace(q, limit=DEFAULT_LIMIT, offset=0, cursor=None)
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
    if cursor.position < 0 or cursor.position > _LONG_MAX:
        raise InvalidParameter(CURSOR_PARAM, problem)
    return cursor


def _check_sort_value(sort_by: str, value: SortValue) -> bool:
    if sort_by in ("timestamp", "tokens"):
        return isinstance(value, int) and _LONG_MIN <= value <= _LONG_MAX
    if isinstance(value, str):
        return value in ("Infinity", "-Infinity")
    return isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value))


def parse_params(query: QueryInput) -> LogQuery:
    """Validate a raw query string (name -> values) into a :class:`LogQuery`."""
    raw = _collect(query)

    for name in sorted(raw):
        if name in UNSUPPORTED_FILTERS:
            raise InvalidParameter(
                name,
                f"{name} is not supported: Heimdall's stored logs carry no "
                f"{UNSUPPORTED_FILTERS[name]} field to filter on",
            )
        if name.startswith(METADATA_PREFIX):
            if name == METADATA_PREFIX:
                raise InvalidParameter(name, "metadata filter needs a key: metadata_<key>=<value>")
            continue
        if name not in KNOWN_PARAMS:
            raise InvalidParameter(
                name,
                f"unknown query parameter {name!r}; see /docs for the supported parameters",
            )

    filters: list[tuple[str, tuple[str, ...]]] = []
    for param, field in LIST_FILTERS.items():
        values = _list(raw.get(param, ()))
        if param == "status":
            for value in values:
                if value not in STATUS_VALUES:
                    raise InvalidParameter(
                        param,
                        f"status must be a comma-separated list of {', '.join(STATUS_VALUES)};"
                        f" got {value!r}",
                    )
        if values:
            filters.append((field, values))

    metadata: list[tuple[str, str]] = []
    for name in sorted(raw):
        if name.startswith(METADATA_PREFIX):
            meta_value = _single(raw, name)
            if meta_value is not None:
                metadata.append((name[len(METADATA_PREFIX) :], meta_value))

    start_ns = _time(raw, "start_time")
    end_ns = _time(raw, "end_time")
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise InvalidParameter("start_time", "start_time cannot be later than end_time")

    min_latency = _number(raw, "min_latency", "milliseconds")
    max_latency = _number(raw, "max_latency", "milliseconds")
    _bound_check("min_latency", min_latency, "max_latency", max_latency)
    min_tokens = _integer(raw, "min_tokens", "100")
    max_tokens = _integer(raw, "max_tokens", "4000")
    _bound_check("min_tokens", min_tokens, "max_tokens", max_tokens)
    min_cost = _number(raw, "min_cost", "US dollars")
    max_cost = _number(raw, "max_cost", "US dollars")
    _bound_check("min_cost", min_cost, "max_cost", max_cost)
    missing_cost_only = _boolean(raw, "missing_cost_only")

    content = _single(raw, "content_search") or ""
    if len(content) > MAX_CONTENT_SEARCH:
        raise InvalidParameter(
            "content_search",
            f"content_search is too long: at most {MAX_CONTENT_SEARCH} characters",
        )
    words, phrases = split_content_search(content)

    limit = _integer(raw, "limit", "50")
    if limit is None:
        limit = DEFAULT_LIMIT
    elif limit <= 0:
        raise InvalidParameter("limit", "limit must be greater than 0")
    elif limit > MAX_LIMIT:
        raise InvalidParameter("limit", f"limit cannot exceed {MAX_LIMIT}")
    offset = _integer(raw, "offset", "100")
    if offset is None:
        offset = 0
    elif offset < 0:
        raise InvalidParameter("offset", "offset cannot be negative")

    sort_by = _enum(raw, "sort_by", SORT_BY_VALUES, "timestamp")
    order = _enum(raw, "order", ORDER_VALUES, "desc")

    q = LogQuery(
        filters=tuple(filters),
        start_ns=start_ns,
        end_ns=end_ns,
        min_latency=min_latency,
        max_latency=max_latency,
        min_cost=min_cost,
        max_cost=max_cost,
        min_tokens=min_tokens,
        max_tokens=max_tokens,
        missing_cost_only=missing_cost_only,
        content_words=words,
        content_phrases=phrases,
        metadata=tuple(metadata),
        limit=limit,
        offset=offset,
        sort_by=sort_by,  # type: ignore[arg-type]  # checked by _enum
        order=order,  # type: ignore[arg-type]
    )

    cursor_text = _single(raw, CURSOR_PARAM)
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
    if not _check_sort_value(sort_by, cursor.after[0]):
        raise InvalidParameter(CURSOR_PARAM, "cursor is not valid: corrupted sort values")
    return msgspec.structs.replace(q, cursor=cursor)
