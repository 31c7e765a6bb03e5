"""The logs explorer in a real browser: how long each view takes to become usable, at scale
against a baseline size, in the same run.

    .venv/bin/python -m bench.page_load                              # 1,000,000 vs 100,000 logs
    .venv/bin/python -m bench.page_load --logs 300000 --keep /tmp/pl  # keep the loads for reuse
    .venv/bin/python -m bench.page_load --drop --keep /tmp/pl         # remove what was kept

For each size it loads realistic logs (:mod:`bench.corpus`, the worker's pure functions,
bulk writes: :func:`bench.queries.load`) into a fresh index behind a unique alias and serves
it with its own ``python -m api`` on a free port (:class:`bench.heimdall.HeimdallTarget`;
the index's request cache is off, so repeated aggregations are computed each time). Then
Playwright drives Debian's Chromium (``HEIMDALL_CHROMIUM``, default ``/usr/bin/chromium``)
through every view, alternating between the sizes round by round, and measures in the page
(``performance.now()``) the time from the navigation or the click until the view is usable:
the DOM conditions of the browser tests (rows in the table and the list no longer busy, the
five tiles filled, each chart's canvas drawn), checked every animation frame. Prints p50 and
max per view and size, their ratio, and the API calls of each view (the browser's resource
timing from sending a request to its last byte: the wait for one of the browser's six
connections is left out, the wait behind the page's other requests in the server is not).
Removes the indices and stops the APIs at the end, also on failure or ``kill``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from bench.anchors import loaded_state, mark_loaded, open_anchors
from bench.classes import TWO_WORDS
from bench.corpus import END, START
from bench.heimdall import HeimdallTarget
from bench.queries import drop, load

CHROMIUM_DEFAULT: Final = os.environ.get("HEIMDALL_CHROMIUM", "/usr/bin/chromium")
SEARCH: Final = TWO_WORDS  # ranks 300 and 800 of the vocabulary, as in bench.queries
FILTER: Final = {"providers": "openai", "status": "error"}


@dataclass(frozen=True)
class Ready:
    """What must be on screen for a view to count as usable (the browser tests' checks)."""

    tiles: bool = True  # five stat tiles with values
    charts: bool = True  # every chart has its canvas (or says it has no data)
    marks: bool = False  # highlighted snippets under the rows
    status: str | None = None  # every row shows this status
    sorted_by: str | None = None  # that column's header shows the descending sort
    after_row: int | None = None  # the summary's range starts after this row (next page)
    new_first: bool = False  # the first row differs from the one before the click
    detail: str | None = None  # "conversation" or "similar": the detail panel's part shown
    rows: bool = True  # the table has rows and the list is no longer loading

    def js_arg(self) -> dict[str, Any]:
        return {
            "tiles": self.tiles,
            "charts": self.charts,
            "marks": self.marks,
            "status": self.status,
            "sortedBy": self.sorted_by,
            "afterRow": self.after_row,
            "newFirst": self.new_first,
            "detail": self.detail,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class View:
    """A page load of ``query`` (in a fresh browser context) or a click on ``click`` in the
    default page (in the order of :data:`VIEWS`, in one tab)."""

    name: str
    ready: Ready
    query: dict[str, str] | None = None
    click: str | None = None
    then_escape: bool = False  # close the detail panel afterwards


VIEWS: Final[tuple[View, ...]] = (
    View("default page (all logs)", Ready(), query={}),
    View(
        "open a log's detail (conversation)",
        Ready(tiles=False, charts=False, rows=False, detail="conversation"),
        click="tr.row",
    ),
    View(
        "  ... with its similar logs",
        Ready(tiles=False, charts=False, rows=False, detail="similar"),
        then_escape=True,
    ),
    View(
        "next page (cursor)",
        Ready(tiles=False, charts=False, after_row=50, new_first=True),
        click="NEXT",
    ),
    View(
        "sort by cost",
        Ready(tiles=False, charts=False, sorted_by="cost", new_first=True),
        click="th[data-col=cost] button",
    ),
    View("filter: provider openai + status error", Ready(status="error"), query=FILTER),
    View(
        f"content search {SEARCH!r}, highlighted",
        Ready(marks=True),
        query={"content_search": SEARCH},
    ),
    View(
        "30 d range (the corpus's 30 days)",
        Ready(),
        query={
            "start_time": START.isoformat().replace("+00:00", "Z"),
            "end_time": END.isoformat().replace("+00:00", "Z"),
        },
    ),
)

#: The page's own test of a Ready, run every animation frame: the page time when it holds.
READY_JS: Final = """(r) => {
  const all = (sel) => [...document.querySelectorAll(sel)];
  const base = window.__t0 ?? 0;
  if (r.rows) {
    const main = document.querySelector("main.results");
    if (!main || main.getAttribute("aria-busy") !== "false") return false;
    if (!document.querySelector(".summary .total") || all("tr.row").length === 0) return false;
  }
  if (r.tiles && all("[data-tile] .tile-value").filter((t) => t.textContent.trim()).length < 5)
    return false;
  if (r.charts) {
    const charts = all("figure.chart");
    if (charts.length === 0) return false;
    if (!charts.every((c) => c.querySelector("canvas") || c.querySelector("p.muted"))) return false;
  }
  if (r.marks && !document.querySelector("td.snippet mark")) return false;
  if (r.status && !all("tr.row td[data-col=status]").every((c) => c.textContent === r.status))
    return false;
  if (r.sortedBy) {
    const th = document.querySelector(`th[data-col=${r.sortedBy}] button`);
    if (!th || th.getAttribute("aria-sort") !== "descending") return false;
  }
  if (r.afterRow !== null) {
    const text = document.querySelector(".summary")?.textContent ?? "";
    if (!text.includes(`· ${(r.afterRow + 1).toLocaleString("en-US")}–`)) return false;
  }
  if (r.newFirst && document.querySelector("tr.row")?.dataset.id === window.__first) return false;
  if (r.detail === "conversation" && !document.querySelector("aside.detail .conversation .message"))
    return false;
  if (r.detail === "similar") {
    const similar = document.querySelector("aside.detail .similar");
    if (!similar || similar.textContent.includes("Loading")) return false;
  }
  return performance.now() - base;
}"""

#: Clicks as the page sees them: the time, the first row before, then the click itself.
CLICK_JS: Final = """(sel) => {
  performance.clearResourceTimings();
  window.__first = document.querySelector("tr.row")?.dataset.id;
  const target = sel === "NEXT"
    ? [...document.querySelectorAll("nav.pager button")].find((b) => b.textContent.includes("Next"))
    : document.querySelector(sel);
  window.__t0 = performance.now();
  target.click();
}"""

API_CALLS_JS: Final = """() => performance.getEntriesByType("resource")
  .filter((e) => e.name.includes("/api/") && e.startTime >= (window.__t0 ?? 0))
  .map((e) => [e.name, e.responseEnd - e.requestStart])"""


def view_url(base: str, query: dict[str, str]) -> str:
    return f"{base}/?{urlencode(query)}" if query else f"{base}/"


def call_name(url: str) -> str:
    """An API call's path, without its query; a log's id becomes ``{id}``."""
    path = urlsplit(url).path
    parts = path.split("/")
    if len(parts) >= 4 and parts[:3] == ["", "api", "logs"]:
        known = {"histogram", "stats", "filterdata", "rankings", "sessions", "stream", "export"}
        if parts[3] not in known:
            parts[3] = "{id}"
        elif parts[3] == "sessions" and len(parts) > 4:
            parts[4] = "{id}"
    return "/".join(parts)


@dataclass
class Samples:
    """One view at one size: the recorded times and its API calls' durations, seconds."""

    times: list[float] = field(default_factory=list)
    calls: dict[str, list[float]] = field(default_factory=dict)

    def add(self, seconds: float, calls: list[tuple[str, float]]) -> None:
        self.times.append(seconds)
        for url, took in calls:
            self.calls.setdefault(call_name(url), []).append(took)

    def p50(self) -> float:
        return median(self.times)

    def slowest_call(self) -> tuple[str, float] | None:
        """The API call with the highest median duration."""
        if not self.calls:
            return None
        return max(((name, median(v)) for name, v in self.calls.items()), key=lambda c: c[1])


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def calls_table(samples: dict[str, Samples], size: int) -> str:
    """Every API call of each view at one size, slowest first: its p50 and how often."""
    lines = [f"| view, {size:,} logs | API calls, p50 |", "| --- | --- |"]
    for view in VIEWS:
        calls = sorted(
            ((median(v), name) for name, v in samples[view.name].calls.items()), reverse=True
        )
        cells = ", ".join(f"`{name}` {ms(p50)}" for p50, name in calls)
        lines.append(f"| {view.name.strip()} | {cells or '–'} |")
    return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


Results = dict[int, dict[str, Samples]]  # size -> view name -> samples


def table(results: Results, sizes: list[int]) -> str:
    """p50 / max per view and size, the ratio of the largest size's p50 to the first's, and
    the largest size's slowest API call."""
    base, top = sizes[0], sizes[-1]
    header = ["view", *(f"{n:,} logs p50 / max" for n in sizes)]
    if len(sizes) > 1:
        header.append(f"p50 ratio {top:,} / {base:,}")
    header.append(f"slowest API call at {top:,} (p50)")
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for view in VIEWS:
        cells = [view.name.strip()]
        for n in sizes:
            s = results[n][view.name]
            cells.append(f"{ms(s.p50())} / {ms(max(s.times))}" if s.times else "n/a")
        a, b = results[base][view.name], results[top][view.name]
        if len(sizes) > 1:
            cells.append(f"{b.p50() / a.p50():.1f}×" if a.times and b.times else "n/a")
        slowest = b.slowest_call()
        cells.append(f"`{slowest[0]}` {ms(slowest[1])}" if slowest else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class Browsing:
    """One Chromium; each round opens fresh contexts (cold caches) against one API."""

    def __init__(self, browser: Any, timeout_s: float) -> None:
        self.browser = browser
        self.timeout_ms = timeout_s * 1000

    async def _context(self) -> Any:
        context = await self.browser.new_context(
            viewport={"width": 1280, "height": 900}, timezone_id="UTC"
        )
        context.set_default_timeout(self.timeout_ms)
        return context

    async def _ready(self, page: Any, ready: Ready) -> tuple[float, list[tuple[str, float]]]:
        handle = await page.wait_for_function(
            READY_JS, arg=ready.js_arg(), polling="raf", timeout=self.timeout_ms
        )
        took = float(await handle.json_value()) / 1000
        calls = [(str(u), float(d) / 1000) for u, d in await page.evaluate(API_CALLS_JS)]
        return took, calls

    async def round(self, base: str, into: dict[str, Samples] | None) -> None:
        """Every view once; recorded into ``into`` (``None``: a warm-up round)."""

        def record(view: View, took: float, calls: list[tuple[str, float]]) -> None:
            if into is not None:
                into[view.name].add(took, calls)

        tab: Any = None
        try:
            for view in VIEWS:
                if view.query is not None:
                    if tab is not None:
                        await tab.context.close()
                    tab = await (await self._context()).new_page()
                    await tab.goto(view_url(base, view.query), wait_until="commit")
                elif view.click is not None:
                    await tab.evaluate(CLICK_JS, view.click)
                record(view, *await self._ready(tab, view.ready))
                if view.then_escape:
                    await tab.keyboard.press("Escape")
                    await tab.locator("aside.detail").wait_for(state="detached")
        finally:
            if tab is not None:
                await tab.context.close()


async def _prepared(count: int, keep: Path | None, batch: int) -> HeimdallTarget:
    """An index of ``count`` logs behind its own alias: loaded now, or kept from a run before."""
    directory = keep / f"page-{count}" if keep else None
    _, where, fresh = open_anchors([], directory)
    if directory is None:
        where.rmdir()  # open_anchors made a temporary directory: no anchors, nothing to keep
    target = HeimdallTarget(None if fresh else loaded_state(where)["alias"])
    try:
        if fresh:
            print(f"## loading {count:,} logs into {target.alias}", flush=True)
            await target.create()
            await load(count, target, [], batch)
            if directory is not None:
                mark_loaded(where, {"alias": target.alias, "count": count})
        elif await target.count() != count:
            raise SystemExit(f"{where} holds no complete load any more: --drop it first")
        else:
            print(f"## reusing {count:,} logs in {target.alias} (kept in {where})", flush=True)
        await target.start_api()
    except BaseException:  # a partial load is never kept
        await target.close(delete=keep is None or fresh)
        raise
    return target


async def run(args: argparse.Namespace) -> Results:
    from playwright.async_api import async_playwright

    # ``kill`` cleans up like Ctrl-C: the cancellation runs the ``finally`` blocks below.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    sizes = sorted({args.baseline, args.logs}) if args.baseline else [args.logs]
    results: Results = {n: {v.name: Samples() for v in VIEWS} for n in sizes}
    targets: dict[int, HeimdallTarget] = {}
    try:
        for n in sizes:
            targets[n] = await _prepared(n, args.keep, args.batch)
        if args.load_only:
            return results
        print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            browsing = Browsing(browser, args.timeout)
            try:
                for r in range(args.warmup + args.reps):
                    recorded = r >= args.warmup
                    label = f"round {r + 1 - args.warmup}" if recorded else "warm-up"
                    for n in sizes if r % 2 == 0 else reversed(sizes):
                        print(f"  {label}, {n:,} logs", flush=True)
                        http = targets[n].http
                        assert http is not None
                        base = str(http.base_url).rstrip("/")
                        await browsing.round(base, results[n] if recorded else None)
            finally:
                await browser.close()
    finally:
        for target in targets.values():
            await target.close(delete=args.keep is None)
    print()
    print(table(results, sizes))
    for n in sizes:
        print()
        print(calls_table(results[n], n))
    print(f"\nload average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.page_load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--logs", type=int, default=1_000_000, help="the large size")
    parser.add_argument("--baseline", type=int, default=100_000, help="the baseline size (0: none)")
    parser.add_argument("--reps", type=int, default=5, help="recorded rounds of every view")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded rounds first")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per view at most")
    parser.add_argument("--batch", type=int, default=1000, help="logs per bulk write")
    parser.add_argument("--chromium", default=CHROMIUM_DEFAULT, help="the browser to drive")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the loaded indices (recorded in this directory) for later runs; "
        "remove them with --drop",
    )
    parser.add_argument("--drop", action="store_true", help="remove what --keep kept, then exit")
    parser.add_argument("--load-only", action="store_true", help="with --keep: load and exit")
    args = parser.parse_args(argv)
    if (args.drop or args.load_only) and not args.keep:
        parser.error("--drop and --load-only need --keep DIR")
    if args.drop:
        asyncio.run(drop(args.keep))
    else:
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
