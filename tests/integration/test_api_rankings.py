"""Rankings, filter data and sessions against real OpenSearch, differentially.

A few thousand seeded logs (through Kafka and the real worker, :mod:`tests.support.
dashboard_seed`); random filter combinations and windows (none, open, closed, on exact log
times and hour edges, empty) through the API; every number compared with the plain-Python
reference in :mod:`tests.integration.rankings_reference`, trends included.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from api.aggs.paging import fetch_all
from api.aggs.ranking_answers import (
    parse_dimension_rankings,
    parse_model_rankings,
)
from api.aggs.rankings import (
    RANKING_DIMENSIONS,
    build_dimension_rankings,
    build_model_rankings,
)
from api.app import create_app
from api.filters import LogFilter
from api.query import format_nanos
from api.settings import ApiSettings
from api.store import LogStore
from shared.opensearch import make_client
from shared.settings import OpenSearchSettings
from tests.conftest import Services
from tests.integration import rankings_reference as ref
from tests.support.dashboard_seed import (
    APPS,
    BASE_TIME,
    CUSTOMERS,
    MODELS,
    PROVIDERS,
    SPAN,
    STOP_REASONS,
    TEAMS,
    USERS,
    VIRTUAL_KEYS,
    make_records,
    seeded,
)

COUNT = 2500
ROUNDS = 60
NS = 1_000_000_000
BASE_NS = int(BASE_TIME.timestamp()) * NS
pytestmark = pytest.mark.timeout(600)


class Seeded:
    def __init__(self, api: AsyncTestClient[Any], store: LogStore, docs: list[ref.Doc]) -> None:
        self.api = api
        self.store = store
        self.docs = docs
        self.times = sorted(t for t in map(ref.timestamp, docs) if t is not None)


@pytest.fixture(scope="module")
async def data(services: Services) -> AsyncIterator[Seeded]:
    name = f"t-rk-{uuid.uuid4().hex[:10]}"
    client = make_client(OpenSearchSettings(opensearch_url=services.opensearch_url))
    records = make_records(COUNT, seed=23)
    try:
        async with seeded(
            services.kafka_bootstrap, services.opensearch_url, client, name, records
        ) as docs:
            settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=name)
            store = LogStore(settings)
            try:
                async with AsyncTestClient(create_app(settings)) as api:
                    yield Seeded(api, store, list(docs.values()))
            finally:
                await store.close()
    finally:
        await client.close()


def same(got: Any, want: Any, where: str = "$") -> None:
    """Equal, floats within a relative 1e-9 (summation order differs)."""
    if isinstance(want, dict):
        assert isinstance(got, dict), where
        assert set(got) == set(want), (where, sorted(got), sorted(want))
        for key in want:
            same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list), where
        assert len(got) == len(want), (where, len(got), len(want))
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            same(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, int | float), where
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-7), (where, got, want)
    else:
        assert got == want, (where, got, want)


def random_filters(rng: random.Random) -> dict[str, str]:
    p: dict[str, str] = {}

    def some(values: tuple[str, ...] | list[str], k: int = 2) -> str:
        return ",".join(rng.sample(list(values), rng.randint(1, min(k, len(values)))))

    def maybe(chance: float = 0.15) -> bool:
        return rng.random() < chance

    all_models = [m for models in MODELS.values() for m in models]
    if maybe():
        p["providers"] = some((*PROVIDERS, "nobody"))
    if maybe():
        p["models"] = some(all_models, 3)
    if maybe():
        p["status"] = some(("processing", "success", "error", "cancelled"))
    if maybe():
        p["team_ids"] = some([t for t, _ in TEAMS])
    if maybe(0.1):
        p["customer_ids"] = some([c for c, _ in CUSTOMERS])
    if maybe(0.1):
        p["user_ids"] = some([u for u, _ in USERS])
    if maybe(0.1):
        p["virtual_key_ids"] = some([v for v, _ in VIRTUAL_KEYS])
    if maybe(0.1):
        p["stop_reasons"] = some(STOP_REASONS)
    if maybe(0.1):
        p["apps"] = some(APPS)
    if maybe(0.1):
        p["cache_hit_types"] = some(("direct", "semantic"))
    if maybe(0.1):
        p["min_latency"] = str(rng.choice((100, 1000, 2500.5)))
    if maybe(0.1):
        p["max_cost"] = str(rng.choice((0.0, 0.01, 0.03)))
    if maybe(0.05):
        p["missing_cost_only"] = "true"
    if maybe(0.1):
        p["roots_only"] = "true"
    if maybe(0.1):
        p["metadata_env"] = rng.choice(("prod", "dev"))
    if maybe(0.05):
        p["aliases"] = "fast"
    return p


def random_window(rng: random.Random, data: Seeded) -> tuple[dict[str, str], ref.Window]:
    kind = rng.choice(("none", "closed", "closed", "exact", "edge", "open", "empty", "tiny"))
    span = int(SPAN.total_seconds()) * NS
    start: int | None = None
    end: int | None = None
    if kind == "closed":
        start = BASE_NS + rng.randrange(span)
        end = start + rng.randrange(NS, span // 2)
    elif kind == "exact":  # bounds on log times: both inclusive
        i, j = sorted(rng.sample(range(len(data.times)), 2))
        start, end = data.times[i], data.times[j]
    elif kind == "edge":  # hour edges, where some logs sit exactly
        start = BASE_NS + rng.randrange(1, 60) * 3600 * NS
        end = start + rng.randrange(1, 12) * 3600 * NS
    elif kind == "open":
        start = BASE_NS + rng.randrange(span)
    elif kind == "empty":
        start = BASE_NS + int(timedelta(days=400).total_seconds()) * NS
        end = start + 3600 * NS
    elif kind == "tiny":
        start = rng.choice(data.times)
        end = start
    params: dict[str, str] = {}
    if start is not None:
        params["start_time"] = format_nanos(start)
    if end is not None:
        params["end_time"] = format_nanos(end)
    return params, (start, end)


def previous_of(window: ref.Window) -> ref.Window | None:
    start, end = window
    if start is None or end is None or end <= start:
        return None
    return start - (end - start), start - 1


def random_limit(rng: random.Random, params: dict[str, str]) -> int | None:
    choice = rng.random()
    if choice < 0.3:
        params["all"] = "true"
        return None
    if choice < 0.6:
        limit = rng.randint(1, 8)
        params["limit"] = str(limit)
        return limit
    return 100


async def get(data: Seeded, path: str, params: dict[str, str]) -> Any:
    response = await data.api.get(path, params=params)
    assert response.status_code == 200, (path, params, response.text)
    return response.json()


async def test_model_rankings_match_the_reference(data: Seeded) -> None:
    rng = random.Random(1)
    with_trend = 0
    for _ in range(ROUNDS):
        filters = random_filters(rng)
        times, window = random_window(rng, data)
        params = {**filters, **times}
        limit = random_limit(rng, params)
        previous = previous_of(window)
        want = ref.model_rankings(
            ref.select(data.docs, filters, window),
            ref.select(data.docs, filters, previous) if previous else None,
            limit,
        )
        with_trend += any(row["trend"]["has_previous_period"] for row in want)
        same(await get(data, "/api/logs/rankings", params), {"rankings": want}, str(params))
    assert with_trend > ROUNDS // 4  # the trends were really exercised


async def test_dimension_rankings_match_the_reference(data: Seeded) -> None:
    rng = random.Random(2)
    for n in range(ROUNDS):
        dimension = list(RANKING_DIMENSIONS)[n % len(RANKING_DIMENSIONS)]
        filters = random_filters(rng)
        times, window = random_window(rng, data)
        params = {**filters, **times, "dimension": dimension}
        limit = random_limit(rng, params)
        previous = previous_of(window)
        want = ref.dimension_rankings(
            dimension,
            ref.select(data.docs, filters, window),
            ref.select(data.docs, filters, previous) if previous else None,
            limit,
        )
        same(await get(data, "/api/logs/rankings/by-dimension", params), want, str(params))


async def test_rankings_read_every_composite_page(data: Seeded) -> None:
    """Pages of 2 groups: the paging loop, not one big page, produces the same answer."""
    f = LogFilter(start_ns=BASE_NS, end_ns=BASE_NS + 36 * 3600 * NS)
    window: ref.Window = (f.start_ns, f.end_ns)
    previous = previous_of(window)
    assert previous is not None
    current_docs = ref.select(data.docs, {}, window)
    previous_docs = ref.select(data.docs, {}, previous)
    pages = await fetch_all(data.store, "test", build_model_rankings(f, page_size=2))
    assert len(pages[0]) > 2
    got = parse_model_rankings(pages[0], pages[1], None)
    same(
        msgspec.to_builtins(got),
        {"rankings": ref.model_rankings(current_docs, previous_docs, None)},
    )
    for dimension in ("team", "user"):
        bodies = build_dimension_rankings(f, dimension, page_size=2)
        pages = await fetch_all(data.store, "test", bodies)
        answer = parse_dimension_rankings(dimension, pages[0], pages[1], 2)
        want = ref.dimension_rankings(dimension, current_docs, previous_docs, 2)
        same(msgspec.to_builtins(answer), want)


async def test_filterdata_matches_the_reference(data: Seeded) -> None:
    rng = random.Random(3)
    dimensions = [
        "models",
        "aliases",
        "routing_engines",
        "stop_reasons",
        "apps",
        "user_agents",
        "selected_keys",
        "virtual_keys",
        "routing_rules",
        "teams",
        "customers",
        "users",
        "business_units",
        "metadata_keys",
    ]
    queries = (None, None, "gpt", "GP", "o", "Search", "env", "PRO", "zz", "4o-m", "_", "c")
    answered = 0
    for _ in range(ROUNDS):
        filters = random_filters(rng) if rng.random() < 0.5 else {}
        times, _ = random_window(rng, data)
        params = {**filters, **times}
        chosen = sorted(rng.sample(dimensions, rng.randint(1, len(dimensions))))
        if rng.random() < 0.8:
            params["dimensions"] = ",".join(chosen)
        else:
            chosen = sorted(dimensions)
        q = rng.choice(queries)
        if q is not None:
            params["q"] = q
        body = await get(data, "/api/logs/filterdata", params)
        # Without a window only the last 30 days count (the seeded logs are older).
        docs = ref.select(data.docs, filters, ref.filter_window(params, time.time_ns()))
        same(body, ref.filter_data(docs, chosen, q), str(params))
        answered += sum(bool(body.get(name)) for name in chosen)
    assert answered > ROUNDS // 2  # not only empty lists were compared


async def test_sessions_match_the_reference(data: Seeded) -> None:
    rng = random.Random(4)
    parents = sorted({d["parent_request_id"] for d in data.docs if "parent_request_id" in d})
    assert parents
    for n in range(ROUNDS):
        session_id = rng.choice(parents) if n % 10 else "no-such-session"
        logs = ref.session(data.docs, session_id)
        params: dict[str, str] = {}
        order = rng.choice(("asc", "desc", None))
        if order:
            params["order"] = order
        limit = rng.choice((None, 1, 2, 500))
        if limit:
            params["limit"] = str(limit)
        offset = rng.choice((0, 0, 1, 3))
        if offset:
            params["offset"] = str(offset)
        body = await get(data, f"/api/logs/sessions/{session_id}", params)
        ordered = ref.session_order(logs, order or "asc")
        page = ordered[offset : offset + (limit or 500)]
        assert [log["id"] for log in body["logs"]] == page, params
        assert body["count"] == len(logs)
        assert body["returned_count"] == len(page)
        assert body["has_more"] == (offset + len(page) < len(logs))
        assert body["pagination"]["total_count"] == len(logs)
        assert all("search_text" not in log and "input_history" not in log for log in body["logs"])
        summary = await get(data, f"/api/logs/sessions/{session_id}/summary", {})
        same(summary, ref.session_summary(logs, session_id))
