"""Scopes: parsed by the filter parser, ANDed into every search body (pure)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from api.filters import parse_filters
from api.params import parse_params
from api.parsing import InvalidParameter
from api.query import build_search, filter_clauses
from api.scope import (
    UNSCOPED,
    UnscopableBody,
    parse_scope,
    scoped_body,
    scoped_query,
)
from api.store import LogStore


def test_a_scope_means_what_the_same_filter_means() -> None:
    scope = parse_scope("virtual_key_ids=vk-1,vk-2&team_ids=search&metadata_env=prod")
    raw = {"virtual_key_ids": ["vk-1,vk-2"], "team_ids": ["search"], "metadata_env": ["prod"]}
    assert list(scope.clauses) == filter_clauses(parse_filters(raw))
    assert scope.params == {
        "metadata_env": "prod",
        "team_ids": "search",
        "virtual_key_ids": "vk-1,vk-2",
    }
    assert parse_scope(scope.text) == scope  # round trip through its query string


def test_no_scope_is_every_log() -> None:
    assert parse_scope("") == UNSCOPED
    assert parse_scope("  ").unscoped
    assert UNSCOPED.text == ""


@pytest.mark.parametrize(
    ("text", "param"),
    [
        ("virtual_key_idz=vk-1", "virtual_key_idz"),
        ("period=24h", "period"),
        ("content_search=secret", "content_search"),
        ("status=bogus", "status"),
        ("team_ids=", "team_ids"),
        ("team_ids=,", "team_ids"),
        ("team_ids=a&team_ids=b", "team_ids"),
        ("start_time=yesterday", "start_time"),
        ("min_cost=2&max_cost=1", "min_cost"),
        ("roots_only=false", "roots_only"),
    ],
)
def test_a_scope_is_never_wider_than_written(text: str, param: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_scope(text)
    assert caught.value.param == param


def test_the_scope_is_anded_into_the_query_and_keeps_its_score() -> None:
    scope = parse_scope("virtual_key_ids=vk-1")
    body = build_search(parse_params({"content_search": ["refund"], "limit": ["5"]}))
    scoped = scoped_body(body, scope)
    assert scoped["query"] == {"bool": {"must": [body["query"]], "filter": list(scope.clauses)}}
    assert {k: v for k, v in scoped.items() if k != "query"} == {
        k: v for k, v in body.items() if k != "query"
    }
    assert scoped_body({"size": 0}, scope)["query"]["bool"]["must"] == [{"match_all": {}}]
    assert scoped_query({"term": {"id": "x"}}, scope)["bool"]["filter"] == list(scope.clauses)


def test_an_unscoped_caller_sends_the_body_unchanged() -> None:
    body: dict[str, Any] = {"query": {"match_all": {}}, "size": 1}
    assert scoped_body(body, UNSCOPED) is body
    assert scoped_query(body["query"], UNSCOPED) is body["query"]


def test_a_global_aggregation_is_refused_not_sent_unscoped() -> None:
    scope = parse_scope("team_ids=t")
    nested: dict[str, Any] = {
        "aggs": {"a": {"terms": {"field": "x"}, "aggs": {"all": {"global": {}}}}}
    }
    top: dict[str, Any] = {"aggs": {"all": {"global": {}}}}
    for body in (top, nested):
        with pytest.raises(UnscopableBody):
            scoped_body(body, scope)
    assert scoped_body(nested, UNSCOPED) is nested


#: Every LogStore method that sends a query, and how it applies the scope (reviewed by hand:
#: a new method must be added here, and must apply ``self.scope``).
SCOPED_STORE_METHODS = {
    "query": "scoped_body",
    "multi_query": "scoped_body per search",
    "count": "scope_query",
    "delete_by_query": "scope_query",
    "search": "_search and multi_query -> scoped_body (bounds, windows, page, has_logs)",
    "get": "a scoped view searches with build_get (no _mget)",
    "search_pit": "scoped_body (each export page)",
}
#: Public methods that send no query over logs.
UNSCOPED_STORE_METHODS = {
    "close",
    "ping",
    "write_audit",
    "scoped",
    "scope_query",
    "open_pit",  # a point in time holds no query; its pages go through search_pit
    "close_pit",
    "bounds_key",  # where a query's remembered bounds are kept (per scope); sends nothing
}


def test_every_store_method_that_queries_is_known_to_apply_the_scope() -> None:
    public = {
        name
        for name, member in inspect.getmembers(LogStore, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == set(SCOPED_STORE_METHODS) | UNSCOPED_STORE_METHODS
    for name in SCOPED_STORE_METHODS:
        source = inspect.getsource(getattr(LogStore, name))
        assert "scope" in source or "_search" in source, name
