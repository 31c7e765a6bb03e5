"""GET /api/logs/stats and every histogram against real OpenSearch, differentially.

A few thousand varied logs go through Kafka and the real worker (:mod:`tests.support.
dashboard_seed`); random filter combinations and windows (crossing bucket edges, empty,
open on either side) go through the API, and every number is compared with the plain-Python
reference in :mod:`tests.integration.aggs_reference`. Counts and integer sums are exact,
float sums equal up to summation order, percentiles within TDigest's rank error.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from api.aggs.buckets import plan, timestamp
from api.app import create_app
from api.filters import parse_filters
from api.parsing import collect
from api.query import format_nanos
from api.settings import ApiSettings
from shared.opensearch import make_client
from tests.conftest import Services
from tests.integration.aggs_reference import (
    Reference,
    latency_stats,
    rank_bounds,
    throughput_stats,
    token_stats,
)
from tests.support.dashboard_seed import (
    APPS,
    BASE_TIME,
    CUSTOMERS,
    MODELS,
    PROVIDERS,
    SPAN,
    TEAMS,
    USERS,
    VIRTUAL_KEYS,
    make_records,
    seeded,
)

COUNT = 2500
COMBINATIONS = 60
#: Rank error allowed for a TDigest percentile (compression 100), see docs/api.md.
RANK_ERROR = 0.01
pytestmark = pytest.mark.timeout(600)
NS = 1_000_000_000
DURATIONS = (
    timedelta(seconds=40),
    timedelta(minutes=59),
    timedelta(hours=2),
    timedelta(hours=5, minutes=17),
    timedelta(hours=23, minutes=59),
    timedelta(days=1),
    timedelta(days=2, hours=3),
    timedelta(days=3),
    timedelta(days=6),
    timedelta(days=7),
    timedelta(days=31),
    timedelta(days=40),
    timedelta(days=120),
    timedelta(days=400),
)


class Seeded:
    def __init__(self, client: AsyncTestClient[Any], docs: Sequence[Mapping[str, Any]]) -> None:
        self.client = client
        self.docs = docs
        self.parents = sorted({d["parent_request_id"] for d in docs if d.get("parent_request_id")})


@pytest.fixture(scope="module")
async def data(services: Services) -> AsyncIterator[Seeded]:
    name = f"t-aggs-{random.getrandbits(40):010x}"
    settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=name)
    admin = make_client(settings)
    try:
        async with (
            seeded(
                services.kafka_bootstrap, services.opensearch_url, admin, name, make_records(COUNT)
            ) as docs,
            AsyncTestClient(create_app(settings)) as client,
        ):
            yield Seeded(client, list(docs.values()))
    finally:
        await admin.close()


def _window(rng: random.Random) -> dict[str, str]:
    base = int(BASE_TIME.timestamp()) * NS
    span = int(SPAN.total_seconds()) * NS
    start = base + rng.randrange(-span // 3, span)
    if rng.random() < 0.3:  # on a bucket edge
        start -= start % (3600 * NS)
    end = start + int(rng.choice(DURATIONS).total_seconds() * NS) + rng.randrange(0, 1000)
    shape = rng.random()
    if shape < 0.1:
        return {}
    if shape < 0.2:
        return {"start_time": format_nanos(start)}
    if shape < 0.3:
        return {"end_time": format_nanos(end)}
    if shape < 0.35:  # before any log: an empty window
        return {
            "start_time": format_nanos(base - 5 * 86400 * NS),
            "end_time": format_nanos(base - NS),
        }
    return {"start_time": format_nanos(start), "end_time": format_nanos(end)}


def random_params(rng: random.Random, parents: Sequence[str]) -> dict[str, str]:
    params = _window(rng)
    choices: list[tuple[str, Any]] = [
        ("providers", lambda: ",".join(rng.sample(PROVIDERS, rng.randint(1, 2)))),
        ("models", lambda: ",".join(rng.sample([m for ms in MODELS.values() for m in ms], 2))),
        (
            "status",
            lambda: ",".join(rng.sample(["processing", "success", "error", "cancelled"], 2)),
        ),
        ("team_ids", lambda: rng.choice(TEAMS)[0]),
        ("customer_ids", lambda: rng.choice(CUSTOMERS)[0]),
        ("user_ids", lambda: rng.choice(USERS)[0]),
        ("virtual_key_ids", lambda: rng.choice(VIRTUAL_KEYS)[0]),
        ("cache_hit_types", lambda: rng.choice(["direct", "semantic", "direct,semantic"])),
        ("aliases", lambda: "fast"),
        ("apps", lambda: rng.choice(APPS)),
        ("min_latency", lambda: str(rng.randint(0, 2000))),
        ("max_cost", lambda: str(round(rng.uniform(0.005, 0.05), 4))),
        ("min_tokens", lambda: str(rng.randint(0, 600))),
        ("missing_cost_only", lambda: "true"),
        ("roots_only", lambda: "true"),
        ("metadata_env", lambda: rng.choice(["prod", "dev"])),
        ("parent_request_id", lambda: rng.choice(parents)),
    ]
    for name, make in rng.sample(choices, rng.choice([0, 0, 1, 1, 2, 3])):
        params[name] = make()
    return params


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def assert_same(got: Any, want: Any, where: str) -> None:
    """Equal structures; floats equal up to summation order."""
    if isinstance(want, dict):
        assert isinstance(got, dict), (where, got)
        assert set(got) == set(want), (where, got, want)
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list), (where, got)
        assert len(got) == len(want), (where, got, want)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert isinstance(got, int | float), (where, got)
        assert close(got, want), (where, got, want)
    else:
        assert got == want, (where, got, want)


def assert_latency(got: dict[str, Any], docs: Sequence[Mapping[str, Any]], where: str) -> None:
    want = latency_stats(docs)
    assert got["total_requests"] == want["total_requests"], where
    assert close(got["avg_latency"], want["avg_latency"]), (where, got, want)
    values = [d["latency"] for d in docs]
    for q in (90, 95, 99):
        if not values:
            assert got[f"p{q}_latency"] == 0, where
            continue
        low, high = rank_bounds(values, q / 100, RANK_ERROR)
        assert low - 1e-9 <= got[f"p{q}_latency"] <= high + 1e-9, (where, q, got, low, high)


async def fetch(data: Seeded, path: str, params: Mapping[str, str]) -> dict[str, Any]:
    response = await data.client.get(f"/api/logs{path}", params=dict(params))
    assert response.status_code == 200, (path, params, response.text)
    body: dict[str, Any] = response.json()
    return body


def keys(got: Mapping[str, Any]) -> list[str]:
    return [b["timestamp"] for b in got["buckets"]]


async def check_all(data: Seeded, params: dict[str, str]) -> None:
    f = parse_filters(collect(params))
    p = plan(f)
    ref = Reference(data.docs, f, data.docs)

    got = await fetch(data, "/histogram", params)
    assert got["bucket_size_seconds"] == p.size
    assert_same(got["buckets"], ref.counts(p), "histogram")
    got = await fetch(data, "/histogram/tokens", params)
    assert_same(got["buckets"], ref.tokens(p), "tokens")

    costs = ref.series(p, ref.costed(), "model")
    got = await fetch(data, "/histogram/cost", params)
    want_cost = [
        {
            "timestamp": b,
            "total_cost": float(sum(sum(d["cost"] for d in ds) for ds in by.values())),
            "by_model": {m: float(sum(d["cost"] for d in ds)) for m, ds in by.items()},
        }
        for b, by in zip(keys(got), costs.values(), strict=True)
    ]
    assert_same(got["buckets"], want_cost, "cost")
    assert got["models"] == sorted({m for by in costs.values() for m in by})

    models = ref.series(p, ref.terminal, "model")
    got = await fetch(data, "/histogram/models", params)
    want_models = [
        {
            "timestamp": b,
            "by_model": {
                m: {
                    "total": len(ds),
                    **{
                        s: sum(d["status"] == s for d in ds)
                        for s in ("success", "error", "cancelled")
                    },
                }
                for m, ds in by.items()
            },
        }
        for b, by in zip(keys(got), models.values(), strict=True)
    ]
    assert_same(got["buckets"], want_models, "models")
    assert got["models"] == sorted({m for by in models.values() for m in by})

    got = await fetch(data, "/histogram/latency", params)
    grouped = ref.grouped(p, ref.timed())
    assert keys(got) == [timestamp(k) for k in grouped]
    for bucket, (_, ds) in zip(got["buckets"], grouped.items(), strict=True):
        assert_latency(bucket, ds, f"latency {bucket['timestamp']} {params}")

    got = await fetch(data, "/histogram/throughput", params)
    want_tp = [
        {"timestamp": b, **throughput_stats(ds)}
        for b, ds in zip(keys(got), ref.grouped(p, ref.fast()).values(), strict=True)
    ]
    assert_same(got["buckets"], want_tp, "throughput")

    await check_breakdowns(data, params, ref, p)


async def check_breakdowns(data: Seeded, params: dict[str, str], ref: Reference, p: Any) -> None:
    def by(name: str, docs: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, list[Any]]]:
        return ref.series(p, docs, name)

    for dimension in ("provider", "team_id", "customer_id", "user_id", "business_unit_id"):
        forms = [("/by-dimension", "by_dimension", {**params, "dimension": dimension})]
        if dimension == "provider":
            forms.append(("/by-provider", "by_provider", params))
        for suffix, field, query in forms:
            costs = by(dimension, ref.costed())
            got = await fetch(data, f"/histogram/cost{suffix}", query)
            want = [
                {
                    "timestamp": b["timestamp"],
                    "total_cost": float(sum(sum(d["cost"] for d in ds) for ds in s.values())),
                    field: {k: float(sum(d["cost"] for d in ds)) for k, ds in s.items()},
                }
                for b, s in zip(got["buckets"], costs.values(), strict=True)
            ]
            assert_same(got["buckets"], want, f"cost{suffix} {dimension}")
            values = sorted({k for s in costs.values() for k in s})
            assert got["providers" if field == "by_provider" else "dimension_values"] == values

            tokens = by(dimension, ref.terminal)
            got = await fetch(data, f"/histogram/tokens{suffix}", query)
            want = [
                {"timestamp": b["timestamp"], field: {k: token_stats(ds) for k, ds in s.items()}}
                for b, s in zip(got["buckets"], tokens.values(), strict=True)
            ]
            assert_same(got["buckets"], want, f"tokens{suffix} {dimension}")

            timed = by(dimension, ref.timed())
            got = await fetch(data, f"/histogram/latency{suffix}", query)
            assert len(got["buckets"]) == len(timed)
            for bucket, s in zip(got["buckets"], timed.values(), strict=True):
                assert set(bucket[field]) == set(s)
                for k, ds in s.items():
                    assert_latency(bucket[field][k], ds, f"latency{suffix} {dimension} {k}")
            if field == "by_dimension":
                assert got["dimension"] == dimension
    got = await fetch(data, "/histogram/throughput/by-provider", params)
    fast = by("provider", ref.fast())
    want = [
        {
            "timestamp": b["timestamp"],
            "by_provider": {k: throughput_stats(ds) for k, ds in s.items()},
        }
        for b, s in zip(got["buckets"], fast.values(), strict=True)
    ]
    assert_same(got["buckets"], want, "throughput/by-provider")


async def check_stats(data: Seeded, params: dict[str, str]) -> None:
    f = parse_filters(collect(params))
    got = await fetch(data, "/stats", {**params, "compare_to_previous": "true"})
    want = Reference(data.docs, f, data.docs).stats()
    previous = got.pop("previous", None)
    assert got.pop("has_previous_period") is (previous is not None)
    assert_same(got, want, f"stats {params}")
    closed = f.start_ns is not None and f.end_ns is not None and f.end_ns > f.start_ns
    assert (previous is not None) == closed
    if previous is not None:
        assert f.start_ns is not None
        assert f.end_ns is not None
        span = f.end_ns - f.start_ns
        before = msgspec.structs.replace(f, start_ns=f.start_ns - span, end_ns=f.start_ns - 1)
        assert_same(previous, Reference(data.docs, before, data.docs).stats(), "previous")


async def test_histograms_match_the_reference(data: Seeded) -> None:
    rng = random.Random(81)
    for _ in range(COMBINATIONS):
        await check_all(data, random_params(rng, data.parents))


async def test_stats_match_the_reference(data: Seeded) -> None:
    rng = random.Random(82)
    for _ in range(COMBINATIONS * 3):
        await check_stats(data, random_params(rng, data.parents))


async def test_stats_count_rescued_fallback_chains(data: Seeded) -> None:
    """The seed's fallback chains make the user-facing rate differ from the per-attempt one."""
    got = await fetch(data, "/stats", {})
    want = Reference(data.docs, parse_filters({}), data.docs).stats()
    assert_same(got["user_facing_success_rate"], want["user_facing_success_rate"], "uf")
    assert got["user_facing_total_requests"] < got["total_requests"]
    rescued = {
        d["parent_request_id"]
        for d in data.docs
        if d.get("status") == "success" and d.get("parent_request_id")
    }
    failed_roots = [
        d for d in data.docs if d.get("status") in ("error", "cancelled") and d["id"] in rescued
    ]
    assert failed_roots, "the seed has failed roots rescued by a fallback"


async def test_processing_logs_never_count_in_histograms(data: Seeded) -> None:
    got = await fetch(data, "/histogram", {"status": "processing"})
    assert got["buckets"] == []
    stats = await fetch(data, "/stats", {"status": "processing"})
    assert stats["total_requests"] == sum(d["status"] == "processing" for d in data.docs) > 0
    assert stats["cache_hit_rate_total_requests"] == 0
