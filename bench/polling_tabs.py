"""Bifrost's logs page, open in many tabs: what each tab waits for its refresh.

    .venv/bin/python -m bench.polling_tabs --logs 100000 --tabs 20 --seconds 60

Bifrost's logs page polls every 5 s while live (``../shared/spec/dashboards.md`` §6): the
list (``limit=25``), ``/stats`` and ``/histogram``, with a sliding ``period=24h`` window.

1. Bulk-loads ``--logs`` sample logs into a fresh alias (request cache off, so every poll is
   computed), then starts ``python -m api`` on a free port over it (a real HTTP server in its
   own process, as in production).
2. Baseline: one tab alone polls for ``--seconds``. Then ``--tabs`` tabs, their first polls
   spread over the 5 s interval, poll for ``--seconds``. A tab's *refresh* is its three
   requests sent at once; its time is the slowest of the three.
3. Prints the p50/p95/max refresh of the lone tab and of every tab under load, the ratio of
   the loaded p95 to the lone p95, and each endpoint's p95; then deletes the index.

Services come from the usual ``HEIMDALL_*`` settings (OpenSearch of ``bin/stack``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict

import httpx
import msgspec

from api.settings import ApiSettings
from api.store import LogStore
from bench.aggs_latency import load_sample
from shared.settings import env_name, load

INTERVAL_S = 5.0
POLL = {
    "list": ("/api/logs", {"period": "24h", "limit": "25"}),
    "stats": ("/api/logs/stats", {"period": "24h"}),
    "histogram": ("/api/logs/histogram", {"period": "24h"}),
}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Tab:
    def __init__(self) -> None:
        self.refreshes: list[float] = []
        self.requests: dict[str, list[float]] = defaultdict(list)


async def _request(client: httpx.AsyncClient, tab: Tab, name: str) -> None:
    path, params = POLL[name]
    began = time.perf_counter()
    response = await client.get(path, params=params)
    tab.requests[name].append((time.perf_counter() - began) * 1000)
    response.raise_for_status()


async def _poll(client: httpx.AsyncClient, tab: Tab, delay: float, until: float) -> None:
    await asyncio.sleep(delay)
    while time.monotonic() < until:
        began = time.perf_counter()
        await asyncio.gather(*(_request(client, tab, name) for name in POLL))
        tab.refreshes.append((time.perf_counter() - began) * 1000)
        await asyncio.sleep(max(0.0, INTERVAL_S - (time.perf_counter() - began)))


async def _run_tabs(base: str, tabs: int, seconds: float) -> list[Tab]:
    limits = httpx.Limits(max_connections=3 * tabs)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        for name in POLL:  # warm-up
            await _request(client, Tab(), name)
        until = time.monotonic() + seconds
        out = [Tab() for _ in range(tabs)]
        await asyncio.gather(
            *(_poll(client, tab, i * INTERVAL_S / tabs, until) for i, tab in enumerate(out))
        )
        return out


def _start_api(settings: ApiSettings, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        env_name("index_alias"): settings.index_alias,
        env_name("opensearch_url"): settings.opensearch_url,
        env_name("api_port"): str(port),
        env_name("api_log_level"): "warning",
    }
    return subprocess.Popen([sys.executable, "-m", "api"], env=env)


async def _wait_healthy(base: str, api: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        for _ in range(120):
            if api.poll() is not None:
                raise SystemExit(f"python -m api exited with {api.returncode}")
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    raise SystemExit("python -m api did not become healthy")


def _line(label: str, values: list[float]) -> str:
    return (
        f"{label:28} {_pct(values, 0.5):8.1f} {_pct(values, 0.95):8.1f} {max(values):8.1f}"
        f" {len(values):6d}"
    )


async def main_async(logs: int, tabs: int, seconds: float) -> None:
    alias = f"t-bench-tabs-{uuid.uuid4().hex[:8]}"
    settings = msgspec.structs.replace(load(ApiSettings), index_alias=alias)
    store = LogStore(settings)
    index, _, _ = await load_sample(store, logs)
    port = _free_port()
    api = _start_api(settings, port)
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(base, api)
        alone = (await _run_tabs(base, 1, seconds))[0]
        loaded = await _run_tabs(base, tabs, seconds)
    finally:
        api.terminate()
        api.wait(30)
        await store.client.indices.delete(index=index, ignore_unavailable=True)
        await store.close()
    print(f"{logs} logs; polls every {INTERVAL_S:g} s of list + stats + histogram (period=24h)")
    print(f"{'refresh (ms)':28} {'p50':>8} {'p95':>8} {'max':>8} {'n':>6}")
    print(_line("1 tab alone", alone.refreshes))
    every = [r for tab in loaded for r in tab.refreshes]
    print(_line(f"{tabs} tabs, all refreshes", every))
    per_tab = [_pct(tab.refreshes, 0.95) for tab in loaded]
    print(_line(f"{tabs} tabs, each tab's p95", per_tab))
    ratio = _pct(every, 0.95) / _pct(alone.refreshes, 0.95)
    print(f"p95 under {tabs} tabs / p95 alone: {ratio:.2f}x")
    for name in POLL:
        lone = _pct(alone.requests[name], 0.95)
        busy = _pct([v for tab in loaded for v in tab.requests[name]], 0.95)
        print(f"  {name:10} p95 alone {lone:7.1f} ms, under {tabs} tabs {busy:7.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.polling_tabs", description=__doc__)
    parser.add_argument("--logs", type=int, default=100_000)
    parser.add_argument("--tabs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.logs, args.tabs, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
