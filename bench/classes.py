"""The query classes of the benchmark: each one request, as Heimdall's API gets it, as the
OpenSearch body it becomes, and as Bifrost's SQL on each of its stores. Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from api.aggs import breakdowns
from api.aggs import histograms as h
from api.aggs.buckets import Plan, plan
from api.filters import LogFilter, parse_filters
from api.params import parse_params
from api.query import build_search
from bench import bifrost_dashboards as bd
from bench.bifrost_sql import (
    Dialect,
    Search,
    histogram_statements,
    list_statements,
    stats_statements,
)
from bench.corpus import END, WORDS

#: Content-search words by frequency rank (1 = most frequent) in the corpus's vocabulary.
COMMON_WORD = WORDS[19]  # rank 20: in nearly every log
RARE_WORD = WORDS[14_999]  # rank 15,000: in about 1 log in 250
TWO_WORDS = f"{WORDS[299]} {WORDS[799]}"  # ranks 300 and 800
PHRASE = "the world"


def _iso(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))


@dataclass(frozen=True)
class QueryClass:
    """One benchmarked request. ``path``/``params``: Heimdall's API; ``body``: the OpenSearch
    request sent directly (``None``: the API's own); ``sql``: Bifrost's statements."""

    name: str
    search: Search
    sql: Callable[[Dialect, Search], list[str]] = list_statements
    path: str | None = "/api/logs"
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    #: Walk to ``search.offset`` with cursors first and send the last cursor.
    cursor: bool = False
    #: The OpenSearch request of an endpoint other than the list, from its params.
    body_of: Callable[[dict[str, str]], dict[str, Any]] | None = None
    #: False where the API sends several requests (no one "direct" equivalent).
    has_direct: bool = True

    def direct_body(self, params: dict[str, str]) -> dict[str, Any]:
        if self.body is not None:
            return self.body
        if self.body_of is not None:
            return self.body_of(params)
        return build_search(parse_params({k: [v] for k, v in params.items()}))


WEEK = (END - timedelta(days=7), END)
DAY = (END - timedelta(days=1), END)


def _time_params(window: tuple[Any, Any]) -> dict[str, str]:
    return {"start_time": _iso(window[0]), "end_time": _iso(window[1])}


def _sorts() -> list[QueryClass]:
    out = []
    for key in ("timestamp", "latency", "tokens", "cost"):
        for order in ("desc", "asc"):
            if (key, order) == ("timestamp", "desc"):
                continue
            out.append(
                QueryClass(
                    f"sort by {key} {order}",
                    Search(sort_by=key, order=order),
                    params={"sort_by": key, "order": order},
                )
            )
    return out


def _searches() -> list[QueryClass]:
    """Bifrost's stores get the raw text (``LIKE '%text%'``, ``plainto_tsquery``); Heimdall
    gets the phrase in quotes."""
    searches = [
        ("one common word", COMMON_WORD, COMMON_WORD),
        ("one rare word", RARE_WORD, RARE_WORD),
        ("two words", TWO_WORDS, TWO_WORDS),
        ("phrase", PHRASE, f'"{PHRASE}"'),
    ]
    return [
        QueryClass(f"search {label} ({text!r})", Search(content=text), params={"content_search": q})
        for label, text, q in searches
    ]


def _filter_body(window: tuple[Any, Any], providers: list[str]) -> dict[str, Any]:
    return {
        "bool": {
            "filter": [
                {"terms": {"provider": providers}},
                {"range": {"timestamp": {"gte": _iso(window[0]), "lte": _iso(window[1])}}},
            ]
        }
    }


#: ``GetStats`` as aggregations: count, then success rate, average latency and sums over the
#: terminal statuses.
_STATS_AGGS = {
    "completed": {
        "filter": {"terms": {"status": ["success", "error", "cancelled"]}},
        "aggs": {
            "success": {"filter": {"term": {"status": "success"}}},
            "average_latency": {"avg": {"field": "latency"}},
            "total_tokens": {"sum": {"field": "total_tokens"}},
            "total_cost": {"sum": {"field": "cost"}},
        },
    }
}


def _histogram(build: Callable[[LogFilter, Plan], dict[str, Any]]) -> Callable[..., Any]:
    def body(params: dict[str, str]) -> dict[str, Any]:
        f = parse_filters({k: [v] for k, v in params.items()})
        return build(f, plan(f))

    return body


def _by_provider(metric: Any) -> Callable[[LogFilter, Plan], dict[str, Any]]:
    def build(f: LogFilter, p: Plan) -> dict[str, Any]:
        return breakdowns.build_breakdown(f, p, metric, "provider")

    return build


def _dashboards() -> list[QueryClass]:
    """The dashboard endpoints over 7 days (daily buckets), through the API."""
    week = _time_params(WEEK)
    search = Search(start=WEEK[0], end=WEEK[1])
    histograms: list[tuple[str, str, Any, Callable[..., Any]]] = [
        ("requests", "", bd.requests_histogram, h.build_histogram),
        ("tokens", "/tokens", bd.tokens_histogram, h.build_token_histogram),
        ("cost by model", "/cost", bd.cost_histogram, h.build_cost_histogram),
        ("requests by model", "/models", bd.model_histogram, h.build_model_histogram),
        ("latency percentiles", "/latency", bd.latency_histogram, h.build_latency_histogram),
    ]
    out = [
        QueryClass(
            f"histogram: {label}, 7 days",
            search,
            sql=sql,
            path=f"/api/logs/histogram{path}",
            params=week,
            body_of=_histogram(build),
        )
        for label, path, sql, build in histograms
    ]
    for label, kind, sql, metric in (
        ("cost", "cost", bd.cost_by_provider, breakdowns.COST),
        ("tokens", "tokens", bd.tokens_by_provider, breakdowns.TOKENS),
        ("latency percentiles", "latency", bd.latency_by_provider, breakdowns.LATENCY),
    ):
        out.append(
            QueryClass(
                f"histogram: {label} by provider, 7 days",
                search,
                sql=sql,
                path=f"/api/logs/histogram/{kind}/by-provider",
                params=week,
                body_of=_histogram(_by_provider(metric)),
            )
        )
    month = bd.month_before(END)
    out += [
        QueryClass(
            "stats endpoint, 7 days",
            search,
            sql=stats_statements,
            path="/api/logs/stats",
            params=week,
            has_direct=False,
        ),
        QueryClass(
            "model rankings, 7 days (with trends)",
            search,
            sql=bd.model_rankings,
            path="/api/logs/rankings",
            params=week,
            has_direct=False,
        ),
        QueryClass(
            "virtual key rankings, 7 days (with trends)",
            search,
            sql=bd.virtual_key_rankings,
            path="/api/logs/rankings/by-dimension",
            params={"dimension": "virtual_key", **week},
            has_direct=False,
        ),
        QueryClass(
            "filterdata: models, selected and virtual keys, 30 days",
            month,
            sql=bd.filterdata,
            path="/api/logs/filterdata",
            params={
                "dimensions": "models,selected_keys,virtual_keys",
                **_time_params((month.start, month.end)),
            },
            has_direct=False,
        ),
    ]
    return out


def classes() -> list[QueryClass]:
    week = _time_params(WEEK)
    two = ("openai", "anthropic")
    return [
        QueryClass("default page (50 newest, with total)", Search()),
        *_sorts(),
        *_searches(),
        QueryClass(
            "2 providers + error + 7 days",
            Search(providers=two, status=("error",), start=WEEK[0], end=WEEK[1]),
            params={"providers": ",".join(two), "status": "error", **week},
        ),
        QueryClass("offset 5,000", Search(offset=5000), params={"offset": "5000"}),
        QueryClass(
            "cursor page of 500 at 10,000",
            Search(limit=500, offset=10_000),
            params={"limit": "500"},
            cursor=True,
        ),
        QueryClass(
            "missing_cost_only",
            Search(missing_cost_only=True),
            params={"missing_cost_only": "true"},
        ),
        QueryClass("limit=1000", Search(limit=1000), params={"limit": "1000"}),
        QueryClass(
            "stats, 7 days + a provider (the aggregation, sent directly)",
            Search(providers=("openai",), start=WEEK[0], end=WEEK[1]),
            sql=stats_statements,
            path=None,
            body={
                "size": 0,
                "track_total_hits": True,
                "query": _filter_body(WEEK, ["openai"]),
                "aggs": _STATS_AGGS,
            },
        ),
        QueryClass(
            "hourly histogram over 24 h (the aggregation, sent directly)",
            Search(start=DAY[0], end=DAY[1]),
            sql=histogram_statements,
            path=None,
            body={
                "size": 0,
                "query": {
                    "bool": {
                        "filter": [
                            {"range": {"timestamp": {"gte": _iso(DAY[0]), "lte": _iso(DAY[1])}}},
                            {"terms": {"status": ["success", "error", "cancelled"]}},
                        ]
                    }
                },
                "aggs": {
                    "buckets": {
                        "date_histogram": {"field": "timestamp", "fixed_interval": "1h"},
                        "aggs": {"status": {"terms": {"field": "status"}}},
                    }
                },
            },
        ),
        *_dashboards(),
    ]
