// Stat tiles (/api/logs/stats) and time charts (the histogram endpoints, uPlot). Dragging
// across a chart, or clicking a bar's bucket, narrows the page's time range.

import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { getJson } from "./api";
import * as fmt from "./format";
import type { Histogram, StatsAnswer } from "./types";

export function Tiles(props: { filters: string; reload: number }) {
  const [stats, setStats] = useState<StatsAnswer | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    const params = new URLSearchParams(props.filters);
    params.set("compare_to_previous", "true");
    getJson<StatsAnswer>(`/api/logs/stats?${params.toString()}`, controller.signal).then(setStats, () => undefined);
    return () => controller.abort();
  }, [props.filters, props.reload]);
  const p = stats?.previous;
  const tiles: { key: string; label: string; value: string; delta: string | null; good: number }[] = stats
    ? [
        { key: "requests", label: "Requests", value: fmt.count(stats.total_requests), delta: fmt.change(stats.total_requests, p?.total_requests), good: 0 },
        { key: "success", label: "Success rate", value: fmt.percent(stats.success_rate), delta: fmt.change(stats.success_rate, p?.success_rate), good: 1 },
        { key: "latency", label: "Avg latency", value: fmt.latency(stats.average_latency), delta: fmt.change(stats.average_latency, p?.average_latency), good: -1 },
        { key: "tokens", label: "Tokens", value: fmt.count(stats.total_tokens), delta: fmt.change(stats.total_tokens, p?.total_tokens), good: 0 },
        { key: "cost", label: "Cost", value: fmt.cost(stats.total_cost), delta: fmt.change(stats.total_cost, p?.total_cost), good: 0 },
      ]
    : [];
  return (
    <section class="tiles" aria-label="Totals">
      {tiles.map((t) => (
        <div class="tile" key={t.key} data-tile={t.key}>
          <div class="tile-label">{t.label}</div>
          <div class="tile-value">{t.value}</div>
          <div class={`tile-delta ${t.delta?.startsWith("-") ? (t.good > 0 ? "bad" : t.good < 0 ? "good" : "") : t.delta?.startsWith("+") ? (t.good > 0 ? "good" : t.good < 0 ? "bad" : "") : ""}`}>
            {t.delta ? `${t.delta} vs previous` : "\u00a0"}
          </div>
        </div>
      ))}
    </section>
  );
}

interface Series {
  label: string;
  field: string;
  color: string;
  stack?: boolean;
}

interface ChartSpec {
  key: string;
  title: string;
  path: string;
  series: Series[];
  value: (v: number) => string;
}

const CHARTS: readonly ChartSpec[] = [
  {
    key: "requests",
    title: "Requests",
    path: "/api/logs/histogram",
    series: [
      { label: "success", field: "success", color: "#2e9e5b", stack: true },
      { label: "error", field: "error", color: "#d9534f", stack: true },
    ],
    value: (v) => fmt.count(Math.round(v)),
  },
  { key: "cost", title: "Cost", path: "/api/logs/histogram/cost", series: [{ label: "cost", field: "total_cost", color: "#8e6cd9", stack: true }], value: fmt.cost },
  {
    key: "tokens",
    title: "Tokens",
    path: "/api/logs/histogram/tokens",
    series: [
      { label: "prompt", field: "prompt_tokens", color: "#3b82c4", stack: true },
      { label: "completion", field: "completion_tokens", color: "#e0a030", stack: true },
    ],
    value: (v) => fmt.count(Math.round(v)),
  },
  {
    key: "latency",
    title: "Latency",
    path: "/api/logs/histogram/latency",
    series: [
      { label: "avg", field: "avg_latency", color: "#3b82c4" },
      { label: "p90", field: "p90_latency", color: "#e0a030" },
      { label: "p99", field: "p99_latency", color: "#d9534f" },
    ],
    value: fmt.latency,
  },
];

/** Columns for uPlot; stacked series hold running sums so their areas stack. */
export function columns(h: Histogram, series: readonly Series[]): (number | null)[][] {
  const xs = h.buckets.map((b) => Date.parse(b.timestamp) / 1000);
  const running = xs.map(() => 0);
  const ys = series.map((s) =>
    h.buckets.map((b, i) => {
      const v = Number(b[s.field] ?? 0) || 0;
      // An empty bucket has no latency (not 0 ms): no point there.
      if (!s.stack) return b["total_requests"] === 0 ? null : v;
      running[i] = (running[i] ?? 0) + v;
      return running[i] ?? 0;
    }),
  );
  return [xs, ...ys];
}

function Chart(props: { spec: ChartSpec; filters: string; reload: number; onRange: (startMs: number, endMs: number) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const [empty, setEmpty] = useState(false);
  const onRange = useRef(props.onRange);
  onRange.current = props.onRange;
  useEffect(() => {
    const controller = new AbortController();
    let plot: uPlot | null = null;
    getJson<Histogram>(`${props.spec.path}?${props.filters}`, controller.signal).then((h) => {
      const el = box.current;
      if (!el) return;
      setEmpty(h.buckets.length === 0);
      if (h.buckets.length === 0) return;
      const data = columns(h, props.spec.series);
      const size = h.bucket_size_seconds;
      const stacked = props.spec.series.some((s) => s.stack);
      // Stacked areas are drawn top-down, so each sum covers the ones below it.
      const order = stacked ? [...props.spec.series.keys()].reverse() : [...props.spec.series.keys()];
      const opts: uPlot.Options = {
        width: el.clientWidth || 300,
        height: 150,
        legend: { show: true },
        cursor: { drag: { x: true, y: false, setScale: false } },
        scales: {
          // Whole buckets: the last one ends bucket_size_seconds after its start.
          x: { time: true, range: (): uPlot.Range.MinMax => [data[0]?.[0] ?? 0, (data[0]?.[data[0].length - 1] ?? 0) + size] },
          y: { range: (_u, _min, max): uPlot.Range.MinMax => [0, max > 0 ? max * 1.1 : 1] },
        },
        axes: [
          { stroke: "#8a93a3", font: "11px system-ui", grid: { stroke: "rgba(128,128,128,0.15)" } },
          { stroke: "#8a93a3", font: "11px system-ui", grid: { stroke: "rgba(128,128,128,0.15)" }, values: (_u, ticks) => ticks.map((t) => props.spec.value(t)), size: 60 },
        ],
        series: [
          {},
          ...order.map((i) => {
            const s = props.spec.series[i] as Series;
            return {
              label: s.label,
              stroke: s.color,
              fill: stacked ? s.color : undefined,
              width: 1.5,
              value: (_u: uPlot, v: number | null) => (v === null ? "–" : props.spec.value(v)),
              points: { show: !stacked && (data[0]?.length ?? 0) < 3 },
              spanGaps: true, // latency is drawn through empty buckets, never down to 0
              ...(stacked ? { paths: uPlot.paths.bars?.({ size: [1, Infinity], align: 1 }) } : {}),
            };
          }),
        ],
        hooks: {
          setSelect: [
            (u) => {
              if (u.select.width < 3) return;
              const from = u.posToVal(u.select.left, "x");
              const to = u.posToVal(u.select.left + u.select.width, "x");
              dragged = true;
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              onRange.current(from * 1000, to * 1000);
            },
          ],
        },
      };
      let dragged = false;
      const ordered = [data[0] ?? [], ...order.map((i) => data[i + 1] ?? [])];
      plot = new uPlot(opts, ordered as uPlot.AlignedData, el);
      plot.over.addEventListener("click", () => {
        const idx = plot?.cursor.idx;
        if (dragged) {
          dragged = false;
          return;
        }
        if (plot && idx !== null && idx !== undefined) {
          const start = (data[0]?.[idx] ?? 0) * 1000;
          onRange.current(start, start + size * 1000 - 1);
        }
      });
    }, () => undefined);
    return () => {
      controller.abort();
      plot?.destroy();
    };
  }, [props.filters, props.reload]);
  return (
    <figure class="chart" data-chart={props.spec.key}>
      <figcaption>{props.spec.title}</figcaption>
      <div ref={box} class="plot" />
      {empty && <p class="muted">No data in this range.</p>}
    </figure>
  );
}

export function Charts(props: { filters: string; reload: number; onRange: (startMs: number, endMs: number) => void }) {
  return (
    <section class="charts" aria-label="Charts">
      {CHARTS.map((spec) => (
        <Chart key={spec.key} spec={spec} filters={props.filters} reload={props.reload} onRange={props.onRange} />
      ))}
    </section>
  );
}
