"""Query-string primitives shared by every endpoint's parser. Pure: no I/O, one error type.

Every invalid value raises :class:`InvalidParameter` naming the parameter and saying what is
wrong and what to send instead. Rules (see ``docs/api.md``):

- An empty value (``?limit=``) counts as absent, like Bifrost.
- Comma lists: items trimmed, empty items dropped; a list parameter given several times is
  one list (``?models=a&models=b`` == ``?models=a,b``). Any other parameter given twice is
  an error.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Final

import msgspec

from shared.errors import HeimdallError

LONG_MIN: Final = -(2**63)
LONG_MAX: Final = 2**63 - 1

_INT_RE: Final = re.compile(r"[+-]?[0-9]+")
_NUMBER_RE: Final = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_RFC3339_RE: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)
#: JSON's whitespace: a ``string_array`` value whose first other character is ``[`` is JSON.
JSON_WHITESPACE: Final = " \t\n\r"
_TRUE: Final = frozenset({"true", "1", "t", "yes"})
_FALSE: Final = frozenset({"false", "0", "f", "no"})
_STRING_ARRAY: Final = msgspec.json.Decoder(list[str])


class InvalidParameter(HeimdallError):
    """A query parameter has an invalid value; ``param`` names it (HTTP 400)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


QueryInput = Mapping[str, Sequence[str]] | Iterable[tuple[str, str]]
#: A query string as name -> every value given for it.
Raw = dict[str, list[str]]


def collect(query: QueryInput) -> Raw:
    collected: Raw = {}
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


def reject_unknown(raw: Raw, known: frozenset[str], *, prefix: str | None = None) -> None:
    """A typo must not silently widen a result: every name must be known (or carry
    ``prefix``, e.g. ``metadata_``)."""
    for name in sorted(raw):
        if name in known or (prefix is not None and name.startswith(prefix)):
            continue
        raise InvalidParameter(
            name, f"unknown query parameter {name!r}; see /docs for the supported parameters"
        )


def single(raw: Raw, name: str) -> str | None:
    values = [v for v in raw.get(name, ()) if v != ""]
    if len(values) > 1:
        raise InvalidParameter(name, f"{name} was given {len(values)} times; give it once")
    return values[0] if values else None


def comma_list(values: Iterable[str]) -> tuple[str, ...]:
    """Items trimmed, empty items dropped, sorted and de-duplicated."""
    items = {item.strip() for value in values for item in value.split(",")}
    items.discard("")
    return tuple(sorted(items))


def string_array(raw: Raw, name: str) -> tuple[str, ...]:
    """Bifrost's ``parseStringArrayParam``: a value starting with ``[`` is a JSON array of
    strings, any other value a comma list. Several values are one list."""
    items: set[str] = set()
    for value in raw.get(name, ()):
        if value.lstrip(JSON_WHITESPACE).startswith("["):
            try:
                decoded = _STRING_ARRAY.decode(value)
            except (msgspec.DecodeError, msgspec.ValidationError):
                raise InvalidParameter(
                    name,
                    f'{name} must be a JSON array of strings (["a","b"]) or a comma-separated'
                    f" list; got {value!r}",
                ) from None
            items.update(item.strip() for item in decoded)
        else:
            items.update(comma_list([value]))
    items.discard("")
    return tuple(sorted(items))


# Patterns (JSON Schema / ECMA-262 syntax, no lookarounds, so RE2-based validators take them
# too) that state these rules in the OpenAPI document, so a client generated from it sends
# only values the parser accepts (tests/unit/test_api_fuzz.py).

_JS = "[ \\t\\n\\r]*"  # JSON whitespace, in a pattern
_JSON_STRING = (
    r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]'
    r"|\\u(?:[0-9a-cA-Ce-fE-F][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2})"
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})*"
    '"'
)
#: A :func:`string_array` value: a comma list (anything not starting with ``[``) or a JSON
#: array of strings (lone surrogate escapes are refused).
STRING_ARRAY_PATTERN: Final = (
    rf"^{_JS}$|^{_JS}[^ \t\n\r\[]"
    rf"|^{_JS}\[{_JS}(?:{_JSON_STRING}{_JS}(?:,{_JS}{_JSON_STRING}{_JS})*)?\]{_JS}$"
)
#: What :func:`parse_time` accepts (with a valid calendar date, which ``format: date-time``
#: states): RFC 3339 with an offset, at most 9 fraction digits, no leap second, year >= 1.
RFC3339_PATTERN: Final = (
    r"^(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
    r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt ]"
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
#: The finite range of a :func:`number` (a double).
NUMBER_MAX: Final = 1.7976931348623157e308


def enum_list_pattern(allowed: Sequence[str]) -> str:
    """A comma list whose items (trimmed, empty ones dropped) are all in ``allowed``."""
    item = "|".join(re.escape(value) for value in allowed)
    return rf"^\s*(?:(?:{item})\s*)?(?:,\s*(?:(?:{item})\s*)?)*$"


def number(raw: Raw, name: str, unit: str) -> float | None:
    text = single(raw, name)
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


def integer(raw: Raw, name: str, example: str, *, low: int = LONG_MIN) -> int | None:
    text = single(raw, name)
    if text is None:
        return None
    if not _INT_RE.fullmatch(text.strip()):
        raise InvalidParameter(
            name, f"{name} must be a whole number, e.g. {name}={example}; got {text!r}"
        )
    value = int(text)
    if value > LONG_MAX or value < low:
        raise InvalidParameter(name, f"{name} is out of range; got {text!r}")
    return value


def bounded_integer(raw: Raw, name: str, *, default: int, low: int, high: int, example: str) -> int:
    """An integer in ``low..high`` with Bifrost's messages for ``limit``-like parameters."""
    value = integer(raw, name, example)
    if value is None:
        return default
    if value < low:
        if low == 1:
            raise InvalidParameter(name, f"{name} must be greater than 0")
        if low == 0:
            raise InvalidParameter(name, f"{name} cannot be negative")
        raise InvalidParameter(name, f"{name} must be at least {low}")
    if value > high:
        raise InvalidParameter(name, f"{name} cannot exceed {high}")
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


def time_value(raw: Raw, name: str) -> int | None:
    text = single(raw, name)
    return None if text is None else parse_time(name, text)


def boolean(raw: Raw, name: str) -> bool:
    text = single(raw, name)
    if text is None:
        return False
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidParameter(name, f"{name} must be true or false; got {text!r}")


def enum(raw: Raw, name: str, allowed: Sequence[str], default: str) -> str:
    text = single(raw, name)
    if text is None:
        return default
    value = text.strip().lower()
    if value not in allowed:
        raise InvalidParameter(name, f"{name} must be one of {', '.join(allowed)}; got {text!r}")
    return value


def bound_check(low_name: str, low: float | None, high_name: str, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        raise InvalidParameter(
            low_name,
            f"{low_name} ({low:g}) cannot be greater than {high_name} ({high:g})",
        )
