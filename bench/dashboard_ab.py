"""A/B of the dashboard endpoints: two running APIs over the same logs, interleaved.

    .venv/bin/python -m bench.dashboard_ab --a http://127.0.0.1:18731 --b http://127.0.0.1:18732

``--a`` is the baseline (e.g. ``main``'s code), ``--b`` the candidate; both serve the same
alias (e.g. the shared ``shared-1m`` load of the corpus, ``bench/corpus.py``). Every round
sends each endpoint once to A and once to B (which goes first alternates), one request at a
time, so both see the same machine load. Before timing, every endpoint's answers are
compared: A and B must return the same JSON (``meta.generated_at`` of ``/dashboard`` aside;
floats equal to 1e-9 relative, the order sums are added in may differ). Prints p50 and p95
per endpoint and side, and B's p50 as a ratio of A's.

The windows are the corpus's: its last 7 days and its 30 days (``start_time``/``end_time``),
and no window (the logs explorer's default page: every log). With ``--slide`` the windows
move by one minute every round, as the sliding ``period`` presets of a polling dashboard do.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from datetime import timedelta
from typing import Any, Final

import httpx
import msgspec

from bench.corpus import END, START
from bench.freshness import percentile

_Z: Final = "%Y-%m-%dT%H:%M:%SZ"
_LAST7: Final = "{w7}"
_ALL30: Final = "{w30}"
#: (label, path and query) of every endpoint measured.
ENDPOINTS: Final[tuple[tuple[str, str], ...]] = (
    ("stats, all logs, compare", "/api/logs/stats?compare_to_previous=true"),
    ("stats, 7 days, compare", f"/api/logs/stats?compare_to_previous=true&{_LAST7}"),
    ("histogram, all logs", "/api/logs/histogram"),
    ("histogram, 7 days", f"/api/logs/histogram?{_LAST7}"),
    ("histogram/cost, all logs", "/api/logs/histogram/cost"),
    ("histogram/cost, 7 days", f"/api/logs/histogram/cost?{_LAST7}"),
    ("histogram/tokens, all logs", "/api/logs/histogram/tokens"),
    ("histogram/latency, all logs", "/api/logs/histogram/latency"),
    ("histogram/latency, 7 days", f"/api/logs/histogram/latency?{_LAST7}"),
    ("histogram/models, 7 days", f"/api/logs/histogram/models?{_LAST7}"),
    ("histogram/throughput, 7 days", f"/api/logs/histogram/throughput?{_LAST7}"),
    ("cost by provider, 7 days", f"/api/logs/histogram/cost/by-provider?{_LAST7}"),
    ("latency by provider, 7 days", f"/api/logs/histogram/latency/by-provider?{_LAST7}"),
    ("filterdata, 30 days", f"/api/logs/filterdata?{_ALL30}"),
    ("rankings all=true, all logs", "/api/logs/rankings?all=true"),
    ("rankings, 7 days", f"/api/logs/rankings?{_LAST7}"),
    ("virtual key rankings, 7 days",
     f"/api/logs/rankings/by-dimension?dimension=virtual_key&{_LAST7}"),
    ("dashboard, 7 days", f"/api/logs/dashboard?{_LAST7}"),
)  # fmt: skip


def windows(shift: timedelta) -> dict[str, str]:
    """The corpus's last 7 days and its 30 days, both moved by ``shift``."""
    end, start = END + shift, START + shift
    return {
        "w7": f"start_time={(end - timedelta(days=7)):{_Z}}&end_time={end:{_Z}}",
        "w30": f"start_time={start:{_Z}}&end_time={end:{_Z}}",
    }


def same(a: Any, b: Any, path: str = "") -> str | None:
    """Where two decoded answers differ (None: equal; floats to 1e-9 relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a.keys() ^ b.keys())}"
        for key in a:
            if path == "" and key == "meta":
                continue
            found = same(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = same(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(a, float) or isinstance(b, float):
        numbers = isinstance(a, int | float) and isinstance(b, int | float)
        if numbers and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
            return None
    elif a == b:
        return None
    return f"{path}: {a!r} vs {b!r}"


async def _get(client: httpx.AsyncClient, url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = await client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, response.content


async def run(a: str, b: str, rounds: int, warmup: int, only: str | None, slide: bool) -> int:
    endpoints = [(label, path) for label, path in ENDPOINTS if only is None or only in label]
    fixed = windows(timedelta(0))
    times: dict[tuple[str, str], list[float]] = {}
    async with httpx.AsyncClient(timeout=120) as client:
        differ = 0
        for label, path in endpoints:
            _, raw_a = await _get(client, a + path.format(**fixed))
            _, raw_b = await _get(client, b + path.format(**fixed))
            found = same(msgspec.json.decode(raw_a), msgspec.json.decode(raw_b))
            if found:
                differ += 1
                print(f"DIFFERENT ANSWERS {label}: {found}", file=sys.stderr)
        for r in range(warmup + rounds):
            at = windows(timedelta(minutes=r)) if slide else fixed
            for label, path in endpoints:
                sides = [("A", a), ("B", b)] if r % 2 == 0 else [("B", b), ("A", a)]
                for side, base in sides:
                    elapsed, _ = await _get(client, base + path.format(**at))
                    if r >= warmup:
                        times.setdefault((label, side), []).append(elapsed)
    print("| endpoint | A p50 / p95 | B p50 / p95 | B ÷ A (p50) |\n| --- | --- | --- | --- |")
    for label, _ in endpoints:
        ta, tb = times[(label, "A")], times[(label, "B")]
        a50, b50 = percentile(ta, 50), percentile(tb, 50)
        print(
            f"| {label} | {a50:.0f} / {percentile(ta, 95):.0f} ms"
            f" | {b50:.0f} / {percentile(tb, 95):.0f} ms | {b50 / a50:.2f} |"
        )
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="baseline API base URL")
    parser.add_argument("--b", required=True, help="candidate API base URL")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--only", help="only endpoints whose label contains this")
    parser.add_argument(
        "--slide",
        action="store_true",
        help="move the windows by one minute every round (as a dashboard polling period=7d)",
    )
    args = parser.parse_args(argv)
    return asyncio.run(run(args.a, args.b, args.rounds, args.warmup, args.only, args.slide))


if __name__ == "__main__":
    sys.exit(main())
