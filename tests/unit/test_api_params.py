"""Query string -> LogQuery: parsing, validation and the exact error messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.filters import split_content_search
from api.params import Cursor, LogQuery, encode_cursor, fingerprint, parse_params
from api.parsing import InvalidParameter, parse_time
from shared.index import MAX_RESULT_WINDOW


def parse(**params: str | list[str]) -> LogQuery:
    return parse_params({k: [v] if isinstance(v, str) else v for k, v in params.items()})


def error_of(**params: str | list[str]) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as info:
        parse(**params)
    return info.value


def test_defaults() -> None:
    q = parse()
    assert q == LogQuery()
    assert (q.limit, q.offset, q.sort_by, q.order) == (50, 0, "timestamp", "desc")


def test_comma_lists_trimmed_deduplicated_and_merged_across_repeats() -> None:
    q = parse(providers=" openai , ,anthropic,openai", models=["a", "b,c"], status="error")
    assert dict(q.filters) == {
        "provider": ("anthropic", "openai"),
        "model": ("a", "b", "c"),
        "status": ("error",),
    }


def test_id_filters_map_to_stored_fields() -> None:
    q = parse(
        selected_key_ids="k1",
        virtual_key_ids="v1,v2",
        routing_rule_ids="r",
        parent_request_id="p",
        request_id="x,y",
        objects="chat_completion",
    )
    assert dict(q.filters) == {
        "selected_key_id": ("k1",),
        "virtual_key_id": ("v1", "v2"),
        "routing_rule_id": ("r",),
        "parent_request_id": ("p",),
        "id": ("x", "y"),
        "object": ("chat_completion",),
    }


def test_empty_values_count_as_absent() -> None:
    assert parse(limit="", providers="", start_time="", content_search="") == LogQuery()


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"limit": "0"}, "limit", "limit must be greater than 0"),
        ({"limit": "-3"}, "limit", "limit must be greater than 0"),
        ({"limit": "1001"}, "limit", "limit cannot exceed 1000"),
        ({"offset": "-1"}, "offset", "offset cannot be negative"),
    ],
)
def test_bifrost_exact_messages(params: dict[str, str], param: str, message: str) -> None:
    err = error_of(**params)
    assert (err.param, err.message) == (param, message)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("limit", "ten", "whole number"),
        ("limit", "1.5", "whole number"),
        ("offset", "1e3", "whole number"),
        ("min_tokens", "abc", "whole number"),
        ("max_tokens", "99999999999999999999", "out of range"),
        ("min_latency", "fast", "must be a number"),
        ("max_latency", "nan", "must be a number"),
        ("min_cost", "inf", "must be a number"),
        ("max_cost", "1e999", "out of range"),
        ("min_latency", "0x10", "must be a number"),
        ("missing_cost_only", "maybe", "true or false"),
        ("sort_by", "name", "must be one of timestamp, latency, tokens, cost"),
        ("order", "up", "must be one of asc, desc"),
        ("status", "success,done", "status must be a comma-separated list"),
        ("start_time", "yesterday", "RFC 3339"),
        ("start_time", "2024-05-01T12:00:00", "RFC 3339"),  # no offset
        ("end_time", "2024-02-30T00:00:00Z", "RFC 3339"),
        ("end_time", "2024-05-01T12:00:00.1234567891Z", "nanosecond"),
        ("end_time", "2024-05-01T12:00:00+25:00", "offset"),
        ("cache_hit_types", "fuzzy", "direct, semantic"),
        ("period", "2d", "period must be one of 1h, 6h, 24h, 7d, 30d"),
        ("user_agents", '["a",1]', "JSON array of strings"),
        ("highlight", "maybe", "true or false"),
        ("bogus", "1", "unknown query parameter 'bogus'"),
        ("metadata_", "x", "needs a key"),
        ("cursor", "!!!", "cursor is not valid"),
        ("content_search", "x" * 1001, "too long"),
    ],
)
def test_invalid_values_name_the_parameter(name: str, value: str, fragment: str) -> None:
    err = error_of(**{name: value})
    assert err.param == name
    assert fragment in err.message


def test_repeated_scalar_is_an_error() -> None:
    err = error_of(limit=["10", "20"])
    assert err.param == "limit"
    assert "2 times" in err.message


@pytest.mark.parametrize(
    ("low", "high", "params"),
    [
        ("min_latency", "max_latency", {"min_latency": "5", "max_latency": "4.5"}),
        ("min_cost", "max_cost", {"min_cost": "1", "max_cost": "0.5"}),
        ("min_tokens", "max_tokens", {"min_tokens": "10", "max_tokens": "9"}),
        (
            "start_time",
            "end_time",
            {"start_time": "2024-01-02T00:00:00Z", "end_time": "2024-01-01T00:00:00Z"},
        ),
    ],
)
def test_min_greater_than_max(low: str, high: str, params: dict[str, str]) -> None:
    err = error_of(**params)
    assert err.param == low
    assert high in err.message


def test_equal_bounds_are_fine() -> None:
    q = parse(min_latency="5", max_latency="5.0", min_tokens="7", max_tokens="7")
    assert (q.min_latency, q.max_latency, q.min_tokens, q.max_tokens) == (5.0, 5.0, 7, 7)


def test_numbers() -> None:
    q = parse(min_latency="1e2", max_latency=".5e3", min_cost="-0", max_cost="+0.25")
    assert (q.min_latency, q.max_latency, q.min_cost, q.max_cost) == (100.0, 500.0, 0.0, 0.25)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("false", False), ("0", False)],
)
def test_booleans(value: str, expected: bool) -> None:
    assert parse(missing_cost_only=value).missing_cost_only is expected


def test_enums_are_case_insensitive() -> None:
    q = parse(sort_by="Tokens", order="ASC")
    assert (q.sort_by, q.order) == ("tokens", "asc")


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:00.000000001Z", 1),
        ("2024-05-01T12:00:00Z", 1714564800 * 10**9),
        ("2024-05-01T14:00:00.5+02:00", 1714564800 * 10**9 + 500_000_000),
        ("2024-05-01t11:00:00.123456789-01:00", 1714564800 * 10**9 + 123_456_789),
        ("1969-12-31T23:59:59Z", -(10**9)),
    ],
)
def test_times(text: str, nanos: int) -> None:
    assert parse_time("start_time", text) == nanos


def test_metadata_filters() -> None:
    q = parse_params({"metadata_env": ["prod"], "metadata_team": ["a,b"], "metadata_x": [""]})
    assert q.metadata == (("env", "prod"), ("team", "a,b"))


@pytest.mark.parametrize(
    ("text", "words", "phrases"),
    [
        ("hello world", "hello world", ()),
        ('"hello world" foo', "foo", ("hello world",)),
        ('a "b c" d "e f"', "a d", ("b c", "e f")),
        ('a "unbalanced b', "a unbalanced b", ()),
        ('""', "", ()),
        ('"', "", ()),
        ('"  spaced   out  "', "", ("spaced out",)),
        ("*", "*", ()),
        ('/.*/ OR {"script": 1}', "/.*/ OR { : 1}", ("script",)),
    ],
)
def test_split_content_search(text: str, words: str, phrases: tuple[str, ...]) -> None:
    assert split_content_search(text) == (words, phrases)


@given(st.text(max_size=200))
def test_content_search_never_fails(text: str) -> None:
    q = parse_params({"content_search": [text]}) if len(text) <= 1000 else None
    assert q is None or isinstance(q.content_words, str)


def test_result_window() -> None:
    assert parse(offset=str(MAX_RESULT_WINDOW - 50), limit="50").offset == MAX_RESULT_WINDOW - 50
    err = error_of(offset=str(MAX_RESULT_WINDOW - 49), limit="50")
    assert err.param == "offset"
    assert str(MAX_RESULT_WINDOW) in err.message
    assert "cursor" in err.message


def test_cursor_round_trip() -> None:
    q = parse(sort_by="cost", order="asc", providers="openai")
    cursor = Cursor(fingerprint=fingerprint(q), after=(0.5, "id-1"), position=20_000)
    parsed = parse(sort_by="cost", order="asc", providers="openai", cursor=encode_cursor(cursor))
    assert parsed.cursor == cursor
    # limit may change between pages
    assert (
        parse(
            sort_by="cost", order="asc", providers="openai", limit="7", cursor=encode_cursor(cursor)
        ).cursor
        == cursor
    )


def test_cursor_of_another_query_is_rejected() -> None:
    q = parse(sort_by="cost", providers="openai")
    text = encode_cursor(Cursor(fingerprint=fingerprint(q), after=(0.5, "a"), position=5))
    err = error_of(sort_by="cost", providers="anthropic", cursor=text)
    assert err.param == "cursor"
    assert "different query" in err.message


def test_cursor_with_offset_is_rejected() -> None:
    q = parse()
    text = encode_cursor(Cursor(fingerprint=fingerprint(q), after=(5, "a"), position=5))
    err = error_of(cursor=text, offset="10")
    assert err.param == "offset"


def test_cursor_with_wrong_sort_value_type_is_rejected() -> None:
    q = parse()  # sort by timestamp: a long
    text = encode_cursor(Cursor(fingerprint=fingerprint(q), after=("x", "a"), position=5))
    assert error_of(cursor=text).param == "cursor"
