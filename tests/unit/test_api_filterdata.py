"""Filter data: parameters, body and parsing, without services."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from api.aggs.filterdata import (
    ALL_DIMENSIONS,
    CUTOFF_NS,
    DIMENSION_LIMIT,
    MAX_Q,
    METADATA_VALUES_PER_KEY,
    build_filterdata,
    parse_filterdata,
    parse_filterdata_query,
)
from api.aggs.groups import SEPARATOR, ci_substring_regex
from api.parsing import InvalidParameter

NOW = 1_800_000_000 * 1_000_000_000


def test_default_window_is_the_last_30_days_unless_the_filters_give_one() -> None:
    q = parse_filterdata_query({}, now_ns=NOW)
    assert (q.filter.start_ns, q.filter.end_ns) == (NOW - CUTOFF_NS, None)
    assert q.dimensions == ALL_DIMENSIONS
    q = parse_filterdata_query({"end_time": ["2020-01-01T00:00:00Z"]}, now_ns=NOW)
    assert q.filter.start_ns is None
    q = parse_filterdata_query({"period": ["1h"]}, now_ns=NOW)
    assert q.filter.start_ns == NOW - 3600 * 1_000_000_000


def test_dimensions_are_strict_sorted_and_deduplicated() -> None:
    q = parse_filterdata_query({"dimensions": ["teams, models,teams"], "q": ["  gp "]})
    assert q.dimensions == ("models", "teams")
    assert q.q == "gp"
    assert parse_filterdata_query({"q": ["   "]}).q is None
    with pytest.raises(InvalidParameter) as error:
        parse_filterdata_query({"dimensions": ["models,keys"]})
    assert error.value.param == "dimensions"
    assert "virtual_keys" in error.value.message
    with pytest.raises(InvalidParameter) as error:
        parse_filterdata_query({"limit": ["3"]})
    assert error.value.param == "limit"
    with pytest.raises(InvalidParameter) as error:
        parse_filterdata_query({"q": ["x" * (MAX_Q + 1)]})
    assert error.value.param == "q"
    assert len(ci_substring_regex("Ä" * MAX_Q)) <= 1000  # OpenSearch's max_regex_length


def test_body_has_one_aggregation_per_dimension_with_q_everywhere() -> None:
    q = parse_filterdata_query(
        {"dimensions": ["models,users,teams,metadata_keys"], "q": ["Ab"], "providers": ["x"]}
    )
    body = build_filterdata(q)
    aggs = body["aggs"]
    assert set(aggs) == {"models", "users", "teams", "metadata_keys"}
    assert aggs["models"]["terms"]["include"] == ".*[aA][bB].*"
    assert aggs["models"]["terms"]["order"] == {"_key": "asc"}
    named = aggs["users"]["filter"]["bool"]["filter"][1]
    assert named == {"regexp": {"user_name": {"value": ".*[aA][bB].*"}}}
    teams = aggs["teams"]["terms"]
    assert teams["field"] == "team_owners"
    assert teams["include"] == f"[^{SEPARATOR}]*[aA][bB][^{SEPARATOR}]*{SEPARATOR}.+"
    plain = build_filterdata(parse_filterdata_query({"dimensions": ["customers"]}))
    assert plain["aggs"]["customers"]["terms"]["include"] == f"[^{SEPARATOR}]+{SEPARATOR}.+"
    assert aggs["metadata_keys"]["terms"]["exclude"] == f"isAsyncRequest{SEPARATOR}.*"
    assert {"terms": {"provider": ["x"]}} in body["query"]["bool"]["filter"]


def buckets(*pairs: tuple[Any, int]) -> dict[str, Any]:
    return {"buckets": [{"key": k, "doc_count": n} for k, n in pairs]}


def test_answer_keeps_bifrost_shapes_and_adds_counts() -> None:
    q = parse_filterdata_query({"dimensions": ["models,users,teams,metadata_keys,apps"]})
    many = [(f"env{SEPARATOR}v{i:03d}", 1) for i in range(METADATA_VALUES_PER_KEY + 5)]
    raw = msgspec.json.encode(
        {
            "aggregations": {
                "models": buckets(("a", 3), ("b", 1)),
                "users": {
                    "doc_count": 5,
                    "names": {
                        "buckets": [
                            {"key": "Ann", "doc_count": 4, "ids": buckets(("u1", 3), ("u2", 1))},
                            {"key": "Bob", "doc_count": 1, "ids": buckets(("u0", 1))},
                        ]
                    },
                },
                "teams": buckets((f"One{SEPARATOR}t1", 2), (f"{SEPARATOR}t9", 1)),
                "metadata_keys": buckets((f"a{SEPARATOR}x", 2), *many),
                "apps": buckets(),
            }
        }
    )
    body = msgspec.json.decode(msgspec.json.encode(parse_filterdata(q, raw)))
    assert body["models"] == ["a", "b"]
    assert body["counts"]["models"] == {"a": 3, "b": 1}
    assert body["users"] == [
        {"id": "u1", "name": "Ann", "count": 3},
        {"id": "u2", "name": "Ann", "count": 1},
        {"id": "u0", "name": "Bob", "count": 1},
    ]
    assert body["teams"] == [{"id": "t1", "name": "One", "count": 2}]
    assert list(body["metadata_keys"]) == ["a", "env"]
    assert len(body["metadata_keys"]["env"]) == METADATA_VALUES_PER_KEY
    assert body["counts"]["metadata_keys"]["a"] == {"x": 2}
    assert body["apps"] == []
    assert body["counts"]["apps"] == {}
    assert "virtual_keys" not in body


def test_pairs_are_the_first_names_then_ids_up_to_the_limit() -> None:
    q = parse_filterdata_query({"dimensions": ["virtual_keys"]})
    names = build_filterdata(q)["aggs"]["virtual_keys"]["aggs"]["names"]
    assert names["terms"]["field"] == "virtual_key_name"
    assert names["terms"]["order"] == {"_key": "asc"}
    assert names["aggs"]["ids"]["terms"]["field"] == "virtual_key_id"
    named = [
        {"key": f"n{n:04d}", "doc_count": 2, "ids": buckets((f"a{n}", 1), (f"b{n}", 1))}
        for n in range(DIMENSION_LIMIT)
    ]
    raw = msgspec.json.encode({"aggregations": {"virtual_keys": {"names": {"buckets": named}}}})
    pairs = parse_filterdata(q, raw).virtual_keys
    assert isinstance(pairs, list)
    assert len(pairs) == DIMENSION_LIMIT
    assert [(p.name, p.id) for p in pairs[:3]] == [
        ("n0000", "a0"),
        ("n0000", "b0"),
        ("n0001", "a1"),
    ]
