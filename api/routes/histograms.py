"""Every histogram under ``GET /api/logs/histogram``: plain, ``by-provider`` and
``by-dimension``. Each is one OpenSearch search; building and parsing are in ``api.aggs``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from litestar import Response, get
from litestar.di import NamedDependency

from api.aggs import breakdowns as bd
from api.aggs import histograms as h
from api.aggs.buckets import Plan, plan
from api.filters import FILTER_PARAMS, METADATA_PREFIX, LogFilter, parse_filters
from api.parsing import Raw, reject_unknown
from api.routes.common import error_responses, json_response, ok, param
from api.store import LogStore

DIMENSION_PARAMS: Final = FILTER_PARAMS | {"dimension"}
_ERRORS: Final = error_responses(400, 401, 500, 503)
_RULES: Final = (
    " Terminal logs only (processing never counts). The bucket size follows Bifrost's table"
    " (bucket_size_seconds); buckets start at floor(epoch/size)*size, UTC; with a closed window"
    " (start_time and end_time, or period) every bucket is present, empty ones zero."
)
Build = Callable[[LogFilter, Plan], dict[str, Any]]


def window(params: Raw, known: frozenset[str] = FILTER_PARAMS) -> tuple[LogFilter, Plan]:
    """Validate a histogram's query string: its filters and bucket plan."""
    reject_unknown(params, known, prefix=METADATA_PREFIX)
    f = parse_filters(params)
    return f, plan(f)


def _decorate(path: str, operation: str, summary: str, what: str, data: type[Any]) -> get:
    return get(
        f"/logs/histogram{path}",
        name=operation,
        summary=summary,
        description=what + _RULES,
        operation_id=operation,
        tags=["Logging"],
        responses={**ok(data), **_ERRORS},
    )


def _plain(
    path: str,
    operation: str,
    summary: str,
    data: type[Any],
    build: Build,
    parse: Callable[[bytes, Plan], Any],
) -> Any:
    @_decorate(path, operation, summary, data.__doc__ or summary, data)
    async def handler(
        params: NamedDependency[Raw], store: NamedDependency[LogStore]
    ) -> Response[bytes]:
        f, p = window(params)
        return json_response(parse(await store.query(operation, build(f, p)), p))

    return handler


def _by_provider(
    kind: str, summary: str, data: type[Any], metric: bd.Metric[Any], shape: Callable[..., Any]
) -> Any:
    operation = f"getLogs{kind}HistogramByProvider"

    @_decorate(f"/{kind.lower()}/by-provider", operation, summary, data.__doc__ or summary, data)
    async def handler(
        params: NamedDependency[Raw], store: NamedDependency[LogStore]
    ) -> Response[bytes]:
        f, p = window(params)
        raw = await store.query(operation, bd.build_breakdown(f, p, metric, "provider"))
        return json_response(shape(bd.parse_breakdown(raw, p, metric, "provider"), p))

    return handler


def _by_dimension(
    kind: str, summary: str, data: type[Any], metric: bd.Metric[Any], shape: Callable[..., Any]
) -> Any:
    operation = f"getLogs{kind}HistogramByDimension"
    what = (data.__doc__ or summary) + (
        " team_id, customer_id and business_unit_id credit a log to every id of team_ids"
        " (customer_ids, business_unit_ids) when it has them; a log without the dimension is"
        ' keyed "".'
    )

    @_decorate(f"/{kind.lower()}/by-dimension", operation, summary, what, data)
    async def handler(
        params: NamedDependency[Raw],
        store: NamedDependency[LogStore],
        dimension: Annotated[
            str | None, param("Series to break down by (required)", enum=list(bd.DIMENSIONS))
        ] = None,
    ) -> Response[bytes]:
        f, p = window(params, DIMENSION_PARAMS)
        name = bd.parse_dimension(params)
        raw = await store.query(operation, bd.build_breakdown(f, p, metric, name))
        return json_response(shape(bd.parse_breakdown(raw, p, metric, name), p, name))

    return handler


ROUTES: list[Any] = [
    _plain("", "getLogsHistogram", "Requests over time", h.HistogramResponse,
           h.build_histogram, h.parse_histogram),
    _plain("/tokens", "getLogsTokenHistogram", "Tokens over time", h.TokenHistogramResponse,
           h.build_token_histogram, h.parse_token_histogram),
    _plain("/cost", "getLogsCostHistogram", "Cost over time, by model", h.CostHistogramResponse,
           h.build_cost_histogram, h.parse_cost_histogram),
    _plain("/models", "getLogsModelHistogram", "Requests over time, by model",
           h.ModelHistogramResponse, h.build_model_histogram, h.parse_model_histogram),
    _plain("/latency", "getLogsLatencyHistogram", "Latency over time",
           h.LatencyHistogramResponse, h.build_latency_histogram, h.parse_latency_histogram),
    _plain("/throughput", "getLogsThroughputHistogram", "Throughput over time",
           h.ThroughputHistogramResponse, h.build_throughput_histogram,
           h.parse_throughput_histogram),
    _by_provider("Cost", "Cost over time, by provider", bd.ProviderCostHistogramResponse,
                 bd.COST, bd.provider_cost),
    _by_provider("Tokens", "Tokens over time, by provider", bd.ProviderTokenHistogramResponse,
                 bd.TOKENS, bd.provider_tokens),
    _by_provider("Latency", "Latency over time, by provider",
                 bd.ProviderLatencyHistogramResponse, bd.LATENCY, bd.provider_latency),
    _by_provider("Throughput", "Throughput over time, by provider",
                 bd.ProviderThroughputHistogramResponse, bd.THROUGHPUT, bd.provider_throughput),
    _by_dimension("Cost", "Cost over time, by dimension", bd.DimensionCostHistogramResponse,
                  bd.COST, bd.dimension_cost),
    _by_dimension("Tokens", "Tokens over time, by dimension",
                  bd.DimensionTokenHistogramResponse, bd.TOKENS, bd.dimension_tokens),
    _by_dimension("Latency", "Latency over time, by dimension",
                  bd.DimensionLatencyHistogramResponse, bd.LATENCY, bd.dimension_latency),
]  # fmt: skip
