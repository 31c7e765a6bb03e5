"""The query benchmark's tables: timings per class and target, ratios against the anchors,
growth between two sizes. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

HEIMDALL = "Heimdall API"
DIRECT = "OpenSearch direct"
ANCHORS = ("postgres", "sqlite", "clickhouse")
LABELS = {"postgres": "Postgres", "sqlite": "SQLite", "clickhouse": "ClickHouse"}


@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)
    timed_out: float | None = None
    budget: int = 0

    def p(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def cell(self) -> str:
        if self.timed_out is not None:
            return f"> {self.timed_out:g} s"
        if not self.samples:
            return "n/a"
        return f"{_ms(self.p(0.5))} / {_ms(self.p(0.95))}"


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.0f} ms" if ms >= 100 else f"{ms:.1f} ms" if ms >= 1 else f"{ms:.2f} ms"


Results = dict[str, dict[str, Timing]]  # class name -> target -> timing


def ratio(heimdall: Timing, anchors: list[Timing]) -> str:
    """Heimdall's p50 against the fastest anchor's (a timed-out anchor counts as its limit,
    so the ratio is then a lower bound)."""
    values = [(t.p(0.5), "") if t.samples else (t.timed_out, ">") for t in anchors]
    known = [(v, mark) for v, mark in values if v is not None]
    if not heimdall.samples or not known:
        return "n/a"
    best, mark = min(known)
    ratio = heimdall.p(0.5) / best
    if ratio >= 1:
        return f"{ratio:.1f}× slower"
    return f"{mark}{1 / ratio:,.1f}× faster"


def table(results: Results, anchors: list[str]) -> str:
    header = ["class", f"{HEIMDALL} p50 / p95", f"{DIRECT} p50 / p95"]
    header += [f"{LABELS[a]} p50 / p95" for a in anchors]
    header += ["Heimdall ÷ the faster SQL store", "Heimdall ÷ ClickHouse"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, by_target in results.items():
        main = by_target.get(HEIMDALL) or by_target[DIRECT]
        cells = [name, by_target[HEIMDALL].cell() if HEIMDALL in by_target else "(direct)"]
        cells.append(by_target[DIRECT].cell() if DIRECT in by_target else "(several requests)")
        cells += [by_target[a].cell() for a in anchors]
        sql = [by_target[a] for a in anchors if a in ("postgres", "sqlite")]
        cells.append(ratio(main, sql))
        cells.append(ratio(main, [by_target[a] for a in anchors if a == "clickhouse"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth_table(small: Results, large: Results, sizes: tuple[int, int], anchors: list[str]) -> str:
    targets = [HEIMDALL, DIRECT, *anchors]
    names = [LABELS.get(t, t) for t in targets]
    lines = [
        f"| class, p50 growth {sizes[0]:,} -> {sizes[1]:,} | " + " | ".join(names) + " |",
        "|" + " --- |" * (len(targets) + 1),
    ]
    for name, by_target in large.items():
        cells = [name]
        for t in targets:
            a, b = small[name].get(t), by_target.get(t)
            if a is None or b is None or not a.samples or not b.samples:
                cells.append("n/a" if a is None or b is None else "timeout")
            else:
                cells.append(f"{b.p(0.5) / a.p(0.5):.1f}×")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
