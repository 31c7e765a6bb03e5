"""The answers of ``GET /api/logs/rankings`` and ``/rankings/by-dimension``: typed results and
the pure parsers from every composite page of the current (and previous) window.

Ranking and the row cap happen here: ``total_requests`` descending, then the group key
ascending. The trend of a group compares it with the same group in the previous window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from api.aggs.groups import pct_change, split_pair
from api.aggs.rankings import RANKING_DIMENSIONS
from api.query import MetricValue


class DimensionTrend(msgspec.Struct, kw_only=True):
    """Percent change against the previous window (0 when the previous value is 0)."""

    has_previous_period: bool = False
    requests_trend: float = 0.0
    tokens_trend: float = 0.0
    cost_trend: float = 0.0


class ModelTrend(DimensionTrend, kw_only=True):
    latency_trend: float = 0.0
    """0 unless the previous average latency is > 0."""


class ModelRanking(msgspec.Struct, kw_only=True):
    model: str
    canonical_model_name: str | UnsetType = UNSET
    provider: str
    total_requests: int
    success_count: int
    success_rate: float
    """Percent of the group's terminal logs that succeeded."""
    total_tokens: int
    total_cost: float
    avg_latency: float
    trend: ModelTrend


class ModelRankingResult(msgspec.Struct, kw_only=True):
    rankings: list[ModelRanking]


class DimensionRanking(msgspec.Struct, kw_only=True):
    id: str
    name: str | UnsetType = UNSET
    total_requests: int
    total_tokens: int
    total_cost: float
    trend: DimensionTrend


class DimensionRankingResult(msgspec.Struct, kw_only=True):
    rankings: list[DimensionRanking]
    dimension: str
    total_actual_requests: int | UnsetType = UNSET
    """Fan-out dimensions: terminal logs attributed to at least one id."""
    total_attributed_requests: int | UnsetType = UNSET
    """Fan-out dimensions: the sum of every group's ``total_requests`` (a log attributed to
    two teams counts twice)."""


class _Count(msgspec.Struct):
    doc_count: int = 0


class _Key(msgspec.Struct):
    key: str


class _Terms(msgspec.Struct):
    buckets: list[_Key] = msgspec.field(default_factory=list)


class _ModelBucket(msgspec.Struct):
    key: dict[str, str]
    doc_count: int
    success: _Count = msgspec.field(default_factory=_Count)
    tokens: MetricValue = msgspec.field(default_factory=MetricValue)
    cost: MetricValue = msgspec.field(default_factory=MetricValue)
    latency: MetricValue = msgspec.field(default_factory=MetricValue)
    canonical: _Terms = msgspec.field(default_factory=_Terms)


class _DimensionBucket(msgspec.Struct):
    key: dict[str, str | None]
    doc_count: int
    tokens: MetricValue = msgspec.field(default_factory=MetricValue)
    cost: MetricValue = msgspec.field(default_factory=MetricValue)


class _ModelGroups(msgspec.Struct):
    buckets: list[_ModelBucket] = msgspec.field(default_factory=list)


class _DimensionGroups(msgspec.Struct):
    buckets: list[_DimensionBucket] = msgspec.field(default_factory=list)


class _ModelAggs(msgspec.Struct):
    groups: _ModelGroups = msgspec.field(default_factory=_ModelGroups)


class _DimensionAggs(msgspec.Struct):
    groups: _DimensionGroups = msgspec.field(default_factory=_DimensionGroups)
    owned: _Count | None = None


class _ModelPage(msgspec.Struct):
    aggregations: _ModelAggs = msgspec.field(default_factory=_ModelAggs)


class _DimensionPage(msgspec.Struct):
    aggregations: _DimensionAggs = msgspec.field(default_factory=_DimensionAggs)


_MODEL_PAGE: Final = msgspec.json.Decoder(_ModelPage)
_DIMENSION_PAGE: Final = msgspec.json.Decoder(_DimensionPage)


class Totals(msgspec.Struct, kw_only=True):
    requests: int = 0
    tokens: int = 0
    cost: float = 0.0


class ModelTotals(Totals, kw_only=True):
    success: int
    avg_latency: float
    canonical: str | None


K = TypeVar("K", str, tuple[str, str])


def top(totals: Mapping[K, Totals], limit: int | None) -> list[K]:
    """Keys by ``requests`` descending, then key ascending; at most ``limit``."""
    keys = sorted(totals, key=lambda k: (-totals[k].requests, k))
    return keys if limit is None else keys[:limit]


def trend(old: Totals | None, new: Totals) -> DimensionTrend:
    """The trend of a group that had ``old`` in the previous window (None: absent)."""
    if old is None or old.requests <= 0:
        return DimensionTrend()
    return DimensionTrend(
        has_previous_period=True,
        requests_trend=pct_change(old.requests, new.requests),
        tokens_trend=pct_change(old.tokens, new.tokens),
        cost_trend=pct_change(old.cost, new.cost),
    )


def model_totals(pages: Sequence[bytes]) -> dict[tuple[str, str], ModelTotals]:
    """(model, provider) -> totals, from every page of one window."""
    out: dict[tuple[str, str], ModelTotals] = {}
    for raw in pages:
        for b in _MODEL_PAGE.decode(raw).aggregations.groups.buckets:
            model, provider = b.key["model"], b.key["provider"]
            if not model:
                continue
            out[(model, provider)] = ModelTotals(
                requests=b.doc_count,
                success=b.success.doc_count,
                tokens=round(b.tokens.value or 0),
                cost=b.cost.value or 0.0,
                avg_latency=b.latency.value or 0.0,
                canonical=b.canonical.buckets[0].key if b.canonical.buckets else None,
            )
    return out


def parse_model_rankings(
    current: Sequence[bytes], previous: Sequence[bytes] | None, limit: int | None
) -> ModelRankingResult:
    """Every page of the current window (and of the previous one, for trends)."""
    now = model_totals(current)
    before = model_totals(previous) if previous is not None else {}
    rankings = []
    for key in top(now, limit):
        t = now[key]
        old = before.get(key)
        latency = 0.0
        if old is not None and old.requests > 0 and old.avg_latency > 0:
            latency = pct_change(old.avg_latency, t.avg_latency)
        base = trend(old, t)
        model_trend = ModelTrend(**msgspec.structs.asdict(base), latency_trend=latency)
        rankings.append(
            ModelRanking(
                model=key[0],
                canonical_model_name=t.canonical if t.canonical is not None else UNSET,
                provider=key[1],
                total_requests=t.requests,
                success_count=t.success,
                success_rate=t.success / t.requests * 100 if t.requests else 0.0,
                total_tokens=t.tokens,
                total_cost=t.cost,
                avg_latency=t.avg_latency,
                trend=model_trend,
            )
        )
    return ModelRankingResult(rankings=rankings)


class OwnerTotals(Totals, kw_only=True):
    name: str = ""


def owner_totals(pages: Sequence[bytes]) -> tuple[dict[str, OwnerTotals], int]:
    """id -> totals (name: the greatest non-empty one), and the logs with any owner."""
    out: dict[str, OwnerTotals] = {}
    owned = 0
    for n, raw in enumerate(pages):
        aggs = _DIMENSION_PAGE.decode(raw).aggregations
        if n == 0 and aggs.owned is not None:
            owned = aggs.owned.doc_count
        for b in aggs.groups.buckets:
            if "pair" in b.key:
                name, ident = split_pair(b.key["pair"] or "")
            else:
                ident, name = b.key.get("id") or "", b.key.get("name") or ""
            if not ident:
                continue
            t = out.setdefault(ident, OwnerTotals())
            t.requests += b.doc_count
            t.tokens += round(b.tokens.value or 0)
            t.cost += b.cost.value or 0.0
            t.name = max(t.name, name)
    return out, owned


def parse_dimension_rankings(
    dimension: str,
    current: Sequence[bytes],
    previous: Sequence[bytes] | None,
    limit: int | None,
) -> DimensionRankingResult:
    now, owned = owner_totals(current)
    before = owner_totals(previous)[0] if previous is not None else {}
    rankings = [
        DimensionRanking(
            id=ident,
            name=now[ident].name or UNSET,
            total_requests=now[ident].requests,
            total_tokens=now[ident].tokens,
            total_cost=now[ident].cost,
            trend=trend(before.get(ident), now[ident]),
        )
        for ident in top(now, limit)
    ]
    result = DimensionRankingResult(rankings=rankings, dimension=dimension)
    if RANKING_DIMENSIONS[dimension].owners is not None:
        result.total_actual_requests = owned
        result.total_attributed_requests = sum(t.requests for t in now.values())
    return result
