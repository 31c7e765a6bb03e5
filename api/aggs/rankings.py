"""``GET /api/logs/rankings`` (models) and ``/rankings/by-dimension``: parameters, OpenSearch
bodies, and the typed answers. Pure.

Groups come from a composite aggregation read to the end (:mod:`api.aggs.paging`), so every
number is exact on any number of shards; ranking and the row cap happen in
:mod:`api.aggs.ranking_answers`. Only terminal logs count. The trend compares with the previous
window (same filters, same ``_msearch``), restricted to the groups of the current answer.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from api.aggs.groups import TERMINAL, Owner, previous_window
from api.aggs.paging import GROUPS, PAGE_SIZE
from api.filters import FILTER_PARAMS, METADATA_PREFIX, LogFilter, parse_filters
from api.parsing import (
    LONG_MAX,
    InvalidParameter,
    QueryInput,
    Raw,
    boolean,
    collect,
    reject_unknown,
    single,
)
from api.query import build_filter
from shared.index import TOTAL_TOKENS

DEFAULT_RANKING_LIMIT: Final = 100
_POSITIVE: Final = re.compile(r"\+?0*[1-9][0-9]*")
#: ``dimension`` of ``/rankings/by-dimension`` -> where its id and name are stored.
RANKING_DIMENSIONS: Final[dict[str, Owner]] = {
    "team": Owner("team_id", "team_name", "team_owners"),
    "customer": Owner("customer_id", "customer_name", "customer_owners"),
    "business_unit": Owner("business_unit_id", "business_unit_name", "business_unit_owners"),
    "user": Owner("user_id", "user_name"),
    "virtual_key": Owner("virtual_key_id", "virtual_key_name"),
}
RANKING_PARAMS: Final = frozenset({"limit", "all"})
DIMENSION_PARAMS: Final = RANKING_PARAMS | {"dimension"}
_VALID: Final = ", ".join(RANKING_DIMENSIONS)


class RankingQuery(msgspec.Struct, frozen=True, kw_only=True):
    filter: LogFilter
    limit: int | None
    """Row cap; None: every group (``all=true``)."""
    dimension: str | None = None


def parse_ranking_limit(raw: Raw) -> int | None:
    """``all=true`` (no cap, wins over ``limit``), else ``limit`` >= 1, else 100."""
    if boolean(raw, "all"):
        return None
    text = single(raw, "limit")
    if text is None:
        return DEFAULT_RANKING_LIMIT
    if not _POSITIVE.fullmatch(text.strip()) or int(text) > LONG_MAX:
        raise InvalidParameter(
            "limit",
            f"Invalid limit: {text}. Expected a positive integer, or all=true for no limit",
        )
    return int(text)


def parse_dimension(raw: Raw) -> str:
    value = single(raw, "dimension")
    if value is None:
        raise InvalidParameter(
            "dimension", f"Missing required query parameter: dimension. Valid values: {_VALID}"
        )
    if value not in RANKING_DIMENSIONS:
        raise InvalidParameter("dimension", f"Invalid dimension: {value}. Valid values: {_VALID}")
    return value


def parse_ranking_query(
    query: QueryInput, *, by_dimension: bool, now_ns: int | None = None
) -> RankingQuery:
    raw = collect(query)
    own = DIMENSION_PARAMS if by_dimension else RANKING_PARAMS
    reject_unknown(raw, FILTER_PARAMS | own, prefix=METADATA_PREFIX)
    dimension = parse_dimension(raw) if by_dimension else None
    f = parse_filters(raw, now_ns=now_ns)
    return RankingQuery(filter=f, limit=parse_ranking_limit(raw), dimension=dimension)


# ---- bodies -------------------------------------------------------------------------------


def _body(
    f: LogFilter, sources: list[dict[str, Any]], aggs: dict[str, Any], page_size: int
) -> dict[str, Any]:
    return {
        "size": 0,
        "track_total_hits": False,
        "query": build_filter(f, TERMINAL),
        "aggs": {
            GROUPS: {"composite": {"size": page_size, "sources": sources}, "aggs": aggs},
        },
    }


def model_rankings_body(f: LogFilter, *, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """First page of the (model, provider) groups of ``f``'s terminal logs."""
    sources = [
        {"model": {"terms": {"field": "model"}}},
        {"provider": {"terms": {"field": "provider"}}},
    ]
    return _body(
        f,
        sources,
        {
            "success": {"filter": {"term": {"status": "success"}}},
            "tokens": {"sum": {"field": TOTAL_TOKENS}},
            "cost": {"sum": {"field": "cost"}},
            "latency": {"avg": {"field": "latency"}},
            "canonical": {
                "terms": {
                    "field": "canonical_model_name",
                    "size": 1,
                    "order": {"_key": "desc"},
                    "include": ".+",
                }
            },
        },
        page_size,
    )


def dimension_rankings_body(
    f: LogFilter, dimension: str, *, page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    """First page of the (id, name) groups of ``f``'s terminal logs for ``dimension``."""
    owner = RANKING_DIMENSIONS[dimension]
    sources: list[dict[str, Any]]
    if owner.owners is None:
        sources = [
            {"id": {"terms": {"field": owner.id}}},
            {"name": {"terms": {"field": owner.name, "missing_bucket": True}}},
        ]
    else:
        sources = [{"pair": {"terms": {"field": owner.owners}}}]
    sums = {"tokens": {"sum": {"field": TOTAL_TOKENS}}, "cost": {"sum": {"field": "cost"}}}
    body = _body(f, sources, sums, page_size)
    if owner.owners is not None:
        body["aggs"]["owned"] = {"filter": {"exists": {"field": owner.owners}}}
    return body


def build_model_rankings(f: LogFilter, *, page_size: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """[current] or [current, previous window] first pages, for one ``_msearch``."""
    previous = previous_window(f)
    bodies = [model_rankings_body(f, page_size=page_size)]
    if previous is not None:
        bodies.append(model_rankings_body(previous, page_size=page_size))
    return bodies


def build_dimension_rankings(
    f: LogFilter, dimension: str, *, page_size: int = PAGE_SIZE
) -> list[dict[str, Any]]:
    previous = previous_window(f)
    bodies = [dimension_rankings_body(f, dimension, page_size=page_size)]
    if previous is not None:
        bodies.append(dimension_rankings_body(previous, dimension, page_size=page_size))
    return bodies
