"""``GET /api/logs/dashboard``: Bifrost's consolidated dashboard payload, composed of the
stats, histogram and ranking builders and parsers (:mod:`api.aggs`). Pure.

One bucket plan (:func:`api.aggs.buckets.plan`) serves every time series, so all sections
line up. The MCP section is present and empty: Heimdall does not ingest MCP tool logs yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from api.aggs import histograms as h
from api.aggs.breakdowns import (
    COST,
    LATENCY,
    THROUGHPUT,
    TOKENS,
    ProviderCostHistogramResponse,
    ProviderLatencyHistogramResponse,
    ProviderThroughputHistogramResponse,
    ProviderTokenHistogramResponse,
    build_breakdown,
    parse_breakdown,
    provider_cost,
    provider_latency,
    provider_throughput,
    provider_tokens,
)
from api.aggs.buckets import Plan, plan
from api.aggs.ranking_answers import (
    DimensionRankingResult,
    ModelRanking,
    parse_dimension_rankings,
    parse_model_rankings,
)
from api.aggs.rankings import (
    RANKING_DIMENSIONS,
    build_dimension_rankings,
    build_model_rankings,
    parse_ranking_limit,
)
from api.aggs.stats import StatsResponse
from api.filters import FILTER_PARAMS, METADATA_PREFIX, LogFilter, parse_filters
from api.parsing import QueryInput, collect, comma_list, reject_unknown
from api.query import format_nanos

#: Bifrost's MCP filters: accepted (validated as comma lists) for its dashboard's MCP section.
MCP_PARAMS: Final = ("tool_names", "server_labels")
DASHBOARD_PARAMS: Final = FILTER_PARAMS | {"limit", "all", *MCP_PARAMS}
PROVIDER: Final = "provider"


class DashboardQuery(msgspec.Struct, frozen=True, kw_only=True):
    filter: LogFilter
    plan: Plan
    limit: int | None
    """Rows per ranking; None: every row (``all=true``)."""


def parse_dashboard_query(query: QueryInput, *, now_ns: int | None = None) -> DashboardQuery:
    raw = collect(query)
    reject_unknown(raw, DASHBOARD_PARAMS, prefix=METADATA_PREFIX)
    for name in MCP_PARAMS:
        comma_list(raw.get(name, ()))
    f = parse_filters(raw, now_ns=now_ns)
    return DashboardQuery(filter=f, plan=plan(f), limit=parse_ranking_limit(raw))


# ---- the series: one _msearch ---------------------------------------------------------------

_BY_PROVIDER: Final = (COST, TOKENS, LATENCY, THROUGHPUT)


def build_series(q: DashboardQuery) -> list[dict[str, Any]]:
    """The overview histograms, then the by-provider ones, for one ``_msearch``."""
    f, p = q.filter, q.plan
    return [
        h.build_histogram(f, p),
        h.build_token_histogram(f, p),
        h.build_cost_histogram(f, p),
        h.build_model_histogram(f, p),
        h.build_latency_histogram(f, p),
        h.build_throughput_histogram(f, p),
        *(build_breakdown(f, p, metric, PROVIDER) for metric in _BY_PROVIDER),
    ]


class Overview(msgspec.Struct, kw_only=True):
    stats: StatsResponse
    requests: h.HistogramResponse
    tokens: h.TokenHistogramResponse
    cost: h.CostHistogramResponse
    models: h.ModelHistogramResponse
    latency: h.LatencyHistogramResponse
    throughput: h.ThroughputHistogramResponse


class ProviderUsage(msgspec.Struct, kw_only=True):
    cost: ProviderCostHistogramResponse
    tokens: ProviderTokenHistogramResponse
    latency: ProviderLatencyHistogramResponse
    throughput: ProviderThroughputHistogramResponse


def parse_series(
    q: DashboardQuery, raws: Sequence[bytes], stats: StatsResponse
) -> tuple[Overview, ProviderUsage]:
    p = q.plan
    overview = Overview(
        stats=stats,
        requests=h.parse_histogram(raws[0], p),
        tokens=h.parse_token_histogram(raws[1], p),
        cost=h.parse_cost_histogram(raws[2], p),
        models=h.parse_model_histogram(raws[3], p),
        latency=h.parse_latency_histogram(raws[4], p),
        throughput=h.parse_throughput_histogram(raws[5], p),
    )
    usage = ProviderUsage(
        cost=provider_cost(parse_breakdown(raws[6], p, COST, PROVIDER), p),
        tokens=provider_tokens(parse_breakdown(raws[7], p, TOKENS, PROVIDER), p),
        latency=provider_latency(parse_breakdown(raws[8], p, LATENCY, PROVIDER), p),
        throughput=provider_throughput(parse_breakdown(raws[9], p, THROUGHPUT, PROVIDER), p),
    )
    return overview, usage


# ---- the rankings: one paged _msearch -------------------------------------------------------


def build_rankings(q: DashboardQuery) -> list[list[dict[str, Any]]]:
    """Model rankings, then one group per ranking dimension; each group is ``[current]`` or
    ``[current, previous window]``."""
    groups = [build_model_rankings(q.filter)]
    groups += [build_dimension_rankings(q.filter, d) for d in RANKING_DIMENSIONS]
    return groups


class ModelRankings(msgspec.Struct, kw_only=True):
    rankings: list[ModelRanking]
    histogram: h.ModelHistogramResponse
    """The same object as ``overview.models``."""


class DimensionRankings(msgspec.Struct, kw_only=True):
    team: DimensionRankingResult
    customer: DimensionRankingResult
    business_unit: DimensionRankingResult
    user: DimensionRankingResult
    virtual_key: DimensionRankingResult


def parse_rankings(
    q: DashboardQuery, groups: Sequence[Sequence[Sequence[bytes]]], models: h.ModelHistogramResponse
) -> tuple[ModelRankings, DimensionRankings]:
    """``groups``: the pages of every body of :func:`build_rankings`, in its order."""

    def previous(pages: Sequence[Sequence[bytes]]) -> Sequence[bytes] | None:
        return pages[1] if len(pages) > 1 else None

    model = parse_model_rankings(groups[0][0], previous(groups[0]), q.limit)
    by_dimension = {
        d: parse_dimension_rankings(d, pages[0], previous(pages), q.limit)
        for d, pages in zip(RANKING_DIMENSIONS, groups[1:], strict=True)
    }
    return ModelRankings(rankings=model.rankings, histogram=models), DimensionRankings(
        **by_dimension
    )


# ---- the whole answer -----------------------------------------------------------------------


class Meta(msgspec.Struct, kw_only=True, omit_defaults=True):
    generated_at: str
    bucket_size_seconds: int
    start_time: str | None = None
    end_time: str | None = None


class McpSeries(msgspec.Struct, kw_only=True):
    buckets: list[dict[str, Any]]
    bucket_size_seconds: int


class McpTopTools(msgspec.Struct, kw_only=True):
    tools: list[dict[str, Any]]


class Mcp(msgspec.Struct, kw_only=True):
    """Bifrost's MCP tool-log section; empty until Heimdall ingests MCP tool logs."""

    volume: McpSeries
    cost: McpSeries
    top_tools: McpTopTools


class DashboardResult(msgspec.Struct, kw_only=True):
    meta: Meta
    overview: Overview
    provider_usage: ProviderUsage
    model_rankings: ModelRankings
    dimension_rankings: DimensionRankings
    mcp: Mcp


def dashboard(
    q: DashboardQuery,
    *,
    now_ns: int,
    series: Sequence[bytes],
    stats: StatsResponse,
    rankings: Sequence[Sequence[Sequence[bytes]]],
) -> DashboardResult:
    overview, usage = parse_series(q, series, stats)
    model_rankings, dimension_rankings = parse_rankings(q, rankings, overview.models)
    f = q.filter
    meta = Meta(
        generated_at=format_nanos(now_ns),
        bucket_size_seconds=q.plan.size,
        start_time=format_nanos(f.start_ns) if f.start_ns is not None else None,
        end_time=format_nanos(f.end_ns) if f.end_ns is not None else None,
    )
    empty = McpSeries(buckets=[], bucket_size_seconds=q.plan.size)
    return DashboardResult(
        meta=meta,
        overview=overview,
        provider_usage=usage,
        model_rankings=model_rankings,
        dimension_rankings=dimension_rankings,
        mcp=Mcp(volume=empty, cost=empty, top_tools=McpTopTools(tools=[])),
    )
