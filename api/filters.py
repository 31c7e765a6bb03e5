"""The one filter parser: Bifrost's log filters (query string) -> :class:`LogFilter`. Pure.

Every logs endpoint (list, stats, histograms, rankings, filterdata, dashboard, delete, ...)
takes these filters and validates them here, so a filter means the same everywhere and a bad
value is the same 400 ``BifrostError`` naming the parameter. Endpoints add their own
parameters and check the whole query string with :func:`api.parsing.reject_unknown` against
``FILTER_PARAMS | <their own>``.
"""

from __future__ import annotations

import time
from typing import Final, get_args

import msgspec

from api.parsing import (
    InvalidParameter,
    Raw,
    boolean,
    bound_check,
    comma_list,
    integer,
    number,
    single,
    string_array,
    time_value,
)
from shared.schema import Status

STATUS_VALUES: Final[tuple[str, ...]] = get_args(Status)
CACHE_HIT_TYPES: Final = ("direct", "semantic")
MAX_CONTENT_SEARCH: Final = 1000
METADATA_PREFIX: Final = "metadata_"
#: ``period`` values (Bifrost's UI ``TIME_PERIODS``) -> seconds: the window ``now - d .. now``.
PERIODS: Final[dict[str, int]] = {
    "1h": 3600,
    "6h": 6 * 3600,
    "24h": 24 * 3600,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
}

#: Comma-list filter parameter -> stored field (OR within one parameter, AND across).
LIST_FILTERS: Final[dict[str, str]] = {
    "providers": "provider",
    "models": "model",
    "aliases": "alias",
    "status": "status",
    "objects": "object",
    "selected_key_ids": "selected_key_id",
    "virtual_key_ids": "virtual_key_id",
    "routing_rule_ids": "routing_rule_id",
    "user_ids": "user_id",
    "team_ids": "team_id",
    "customer_ids": "customer_id",
    "business_unit_ids": "business_unit_id",
    "stop_reasons": "stop_reason",
    "routing_engine_used": "routing_engines_used",
    "cache_hit_types": "cache_hit_type",
    "parent_request_id": "parent_request_id",
    "request_id": "id",
}
#: Filters whose value is a JSON array of strings or a comma list (Bifrost's UI sends JSON).
ARRAY_FILTERS: Final[dict[str, str]] = {"user_agents": "user_agent", "apps": "app"}
#: ``session_id`` is Bifrost's alias of ``parent_request_id``.
SESSION_ALIAS: Final = "session_id"
#: Values a filter accepts, where the set is closed.
ENUMS: Final[dict[str, tuple[str, ...]]] = {
    "status": STATUS_VALUES,
    "cache_hit_types": CACHE_HIT_TYPES,
}

_SCALARS: Final = (
    "start_time",
    "end_time",
    "period",
    "min_latency",
    "max_latency",
    "min_tokens",
    "max_tokens",
    "min_cost",
    "max_cost",
    "missing_cost_only",
    "roots_only",
    "content_search",
    SESSION_ALIAS,
)
FILTER_PARAMS: Final[frozenset[str]] = (
    frozenset(LIST_FILTERS) | frozenset(ARRAY_FILTERS) | frozenset(_SCALARS)
)


class LogFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which logs a request is about. Tuples are sorted and de-duplicated."""

    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(stored field, accepted values) pairs; OR within one, AND across."""
    start_ns: int | None = None
    end_ns: int | None = None
    period: str | None = None
    """The ``period`` the window was resolved from (``start_ns``/``end_ns`` hold it)."""
    min_latency: float | None = None
    max_latency: float | None = None
    min_cost: float | None = None
    max_cost: float | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    missing_cost_only: bool = False
    roots_only: bool = False
    content_words: str = ""
    """The unquoted part of ``content_search``, verbatim (every word must match)."""
    content_phrases: tuple[str, ...] = ()
    """Each ``"quoted phrase"`` of ``content_search`` (must match as a phrase)."""
    metadata: tuple[tuple[str, str], ...] = ()

    def values(self, field: str) -> tuple[str, ...]:
        """The accepted values of one stored field (empty: not filtered)."""
        return next((values for name, values in self.filters if name == field), ())


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


def _list_filters(raw: Raw) -> list[tuple[str, tuple[str, ...]]]:
    if single(raw, "parent_request_id") is not None and single(raw, SESSION_ALIAS) is not None:
        raise InvalidParameter(
            SESSION_ALIAS,
            "session_id is an alias of parent_request_id: give one of them, not both",
        )
    filters: list[tuple[str, tuple[str, ...]]] = []
    for param, field in LIST_FILTERS.items():
        given = raw.get(param, ())
        if param == "parent_request_id":
            given = [*given, *raw.get(SESSION_ALIAS, ())]
        values = comma_list(given)
        allowed = ENUMS.get(param)
        if allowed is not None:
            for value in values:
                if value not in allowed:
                    raise InvalidParameter(
                        param,
                        f"{param} must be a comma-separated list of {', '.join(allowed)};"
                        f" got {value!r}",
                    )
        if values:
            filters.append((field, values))
    for param, field in ARRAY_FILTERS.items():
        values = string_array(raw, param)
        if values:
            filters.append((field, values))
    return filters


def _metadata(raw: Raw) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for name in sorted(raw):
        if not name.startswith(METADATA_PREFIX):
            continue
        if name == METADATA_PREFIX:
            raise InvalidParameter(name, "metadata filter needs a key: metadata_<key>=<value>")
        value = single(raw, name)
        if value is not None:
            pairs.append((name[len(METADATA_PREFIX) :], value))
    return tuple(pairs)


def _window(raw: Raw, now_ns: int) -> tuple[int | None, int | None, str | None]:
    start_ns = time_value(raw, "start_time")
    end_ns = time_value(raw, "end_time")
    period = single(raw, "period")
    if period is not None:
        key = period.strip().lower()
        if key not in PERIODS:
            raise InvalidParameter(
                "period", f"period must be one of {', '.join(PERIODS)}; got {period!r}"
            )
        if start_ns is not None or end_ns is not None:
            raise InvalidParameter(
                "period",
                "period sets the time window itself: give period or start_time/end_time, not both",
            )
        return now_ns - PERIODS[key] * 1_000_000_000, now_ns, key
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise InvalidParameter("start_time", "start_time cannot be later than end_time")
    return start_ns, end_ns, None


def parse_filters(raw: Raw, *, now_ns: int | None = None) -> LogFilter:
    """The filters of a query string (other parameters are the caller's to check).

    ``now_ns`` anchors ``period`` (defaults to the clock)."""
    start_ns, end_ns, period = _window(raw, time.time_ns() if now_ns is None else now_ns)
    min_latency = number(raw, "min_latency", "milliseconds")
    max_latency = number(raw, "max_latency", "milliseconds")
    bound_check("min_latency", min_latency, "max_latency", max_latency)
    min_tokens = integer(raw, "min_tokens", "100")
    max_tokens = integer(raw, "max_tokens", "4000")
    bound_check("min_tokens", min_tokens, "max_tokens", max_tokens)
    min_cost = number(raw, "min_cost", "US dollars")
    max_cost = number(raw, "max_cost", "US dollars")
    bound_check("min_cost", min_cost, "max_cost", max_cost)

    content = single(raw, "content_search") or ""
    if len(content) > MAX_CONTENT_SEARCH:
        raise InvalidParameter(
            "content_search",
            f"content_search is too long: at most {MAX_CONTENT_SEARCH} characters",
        )
    words, phrases = split_content_search(content)
    return LogFilter(
        filters=tuple(_list_filters(raw)),
        start_ns=start_ns,
        end_ns=end_ns,
        period=period,
        min_latency=min_latency,
        max_latency=max_latency,
        min_cost=min_cost,
        max_cost=max_cost,
        min_tokens=min_tokens,
        max_tokens=max_tokens,
        missing_cost_only=boolean(raw, "missing_cost_only"),
        roots_only=boolean(raw, "roots_only"),
        content_words=words,
        content_phrases=phrases,
        metadata=_metadata(raw),
    )
