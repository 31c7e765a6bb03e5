// The logs explorer: state in the URL, list + detail, stats and charts, live tail, export.

import { render } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { getJson, onTokenNeeded } from "./api";
import { Charts, Tiles } from "./charts";
import { Detail } from "./detail";
import { exportLogs } from "./exporter";
import { FilterBar } from "./filters";
import * as fmt from "./format";
import { tail } from "./live";
import { filterParams, listParams, OPEN, RANGE, readState, withChanges, type State } from "./state";
import { LogTable } from "./table";
import type { Log, LogPage } from "./types";
import "./style.css";

const PAGE_SIZES = [50, 100, 500, 1000];

function useUrlState(): [State, (changes: Record<string, string | null>, replace?: boolean) => void] {
  const [state, setState] = useState(() => readState(location.search));
  useEffect(() => {
    const pop = () => setState(readState(location.search));
    addEventListener("popstate", pop);
    return () => removeEventListener("popstate", pop);
  }, []);
  const navigate = useCallback((changes: Record<string, string | null>, replace = false) => {
    const next = withChanges(readState(location.search), changes);
    const url = `${location.pathname}${next.toString() ? `?${next.toString()}` : ""}`;
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    setState(next);
  }, []);
  return [state, navigate];
}

function TokenDialog() {
  const [asking, setAsking] = useState<((token: string) => void) | null>(null);
  const [value, setValue] = useState("");
  useEffect(() => onTokenNeeded(() => new Promise<string>((resolve) => setAsking(() => resolve))), []);
  if (!asking) return null;
  return (
    <div class="modal" role="dialog" aria-label="API token">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          asking(value.trim());
          setAsking(null);
          setValue("");
        }}
      >
        <h2>Authentication required</h2>
        <p>This Heimdall API needs a token. It is kept for this browser tab only and sent as a Bearer token.</p>
        <input type="password" name="token" placeholder="API token" value={value} onInput={(e) => setValue(e.currentTarget.value)} autoFocus />
        <button type="submit" disabled={!value.trim()}>
          Continue
        </button>
      </form>
    </div>
  );
}

function useTheme(): [string, () => void] {
  const initial = localStorage.getItem("heimdall.theme") ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  const [theme, setTheme] = useState(initial);
  useEffect(() => {
    document.documentElement.dataset["theme"] = theme;
    localStorage.setItem("heimdall.theme", theme);
  }, [theme]);
  return [theme, () => setTheme(theme === "dark" ? "light" : "dark")];
}

function App() {
  const [state, navigate] = useUrlState();
  const [theme, toggleTheme] = useTheme();
  const [page, setPage] = useState<LogPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [selected, setSelected] = useState(0);
  const [live, setLive] = useState<"off" | "connecting" | "live" | "error">("off");
  const [reload, setReload] = useState(0);
  const [exporting, setExporting] = useState(false);
  const [format, setFormat] = useState<"ndjson" | "csv">("ndjson");
  const cursors = useRef<string[]>([]);
  const filters = filterParams(state).toString();
  const pageSize = PAGE_SIZES.includes(Number(state.get("limit"))) ? Number(state.get("limit")) : 50;
  const list = listParams(state, pageSize).toString();
  const openId = state.get(OPEN);
  const sortBy = state.get("sort_by") ?? "timestamp";
  const order = state.get("order") ?? "desc";

  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    setLoading(true);
    getJson<LogPage>(`/api/logs?${list}`, controller.signal).then(
      (answer) => {
        setLoading(false);
        setPage(answer);
        setSelected(0);
      },
      (e: unknown) => {
        if (controller.signal.aborted) return;
        setLoading(false);
        setError(e instanceof Error ? e.message : String(e));
      },
    );
    return () => controller.abort();
  }, [list, reload]);

  // Live tail: new logs matching the filters join the top of the first page.
  useEffect(() => {
    if (live === "off") return undefined;
    const controller = new AbortController();
    void tail(
      filterParams(state),
      {
        onEvent: (event) => {
          const { log } = JSON.parse(event.data) as { operation: string; log: Log };
          setPage((current) => {
            if (!current) return current;
            const at = current.logs.findIndex((l) => l.id === log.id);
            if (at >= 0) return { ...current, logs: current.logs.map((l, i) => (i === at ? { ...l, ...log } : l)) };
            if (state.has("cursor") || sortBy !== "timestamp" || order !== "desc") return { ...current, total: current.total + 1 };
            return { ...current, total: current.total + 1, logs: [log, ...current.logs].slice(0, pageSize) };
          });
        },
        onReset: () => setReload((n) => n + 1),
        onState: (s) => setLive(s),
      },
      controller.signal,
    );
    return () => controller.abort();
  }, [live === "off", filters]);

  const logs = page?.logs ?? [];
  const open = (id: string) => navigate({ [OPEN]: id });
  const close = () => navigate({ [OPEN]: null });

  // One listener for the page's life; it reads the current rows and selection from refs, so
  // a key pressed right after a render never sees the previous ones.
  const keyState = useRef({ logs, selected });
  keyState.current = { logs, selected };
  useEffect(() => {
    const key = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
      if (event.metaKey || event.ctrlKey || event.altKey) return;
      const current = keyState.current;
      const select = (index: number) => {
        current.selected = index; // at once: the next key may come before the next render
        setSelected(index);
      };
      if (event.key === "j") select(Math.max(0, Math.min(current.selected + 1, current.logs.length - 1)));
      else if (event.key === "k") select(Math.max(current.selected - 1, 0));
      else if (event.key === "Enter" && target?.tagName !== "BUTTON" && target?.tagName !== "A") {
        const log = current.logs[current.selected];
        if (log) open(log.id);
      } else if (event.key === "Escape") close();
      else return;
      event.preventDefault();
    };
    addEventListener("keydown", key);
    return () => removeEventListener("keydown", key);
  }, []);

  useEffect(() => {
    document.querySelector("tr.row.selected")?.scrollIntoView({ block: "nearest" });
  }, [selected]);

  const pageNumber = Number(state.get("page") ?? "1");
  const next = () => {
    if (loading || !page?.next_cursor) return;
    cursors.current[pageNumber] = state.get("cursor") ?? "";
    navigate({ cursor: page.next_cursor, page: String(pageNumber + 1) });
  };
  const previous = () => {
    const back = cursors.current[pageNumber - 1];
    if (back !== undefined) navigate({ cursor: back || null, page: pageNumber > 2 ? String(pageNumber - 1) : null });
    else navigate({ cursor: null, page: null });
  };
  const narrow = (startMs: number, endMs: number) =>
    navigate({ period: null, [RANGE]: null, start_time: new Date(startMs).toISOString(), end_time: new Date(endMs).toISOString() });

  return (
    <div class={openId ? "layout with-detail" : "layout"}>
      <header class="top">
        <h1>
          <a href="/">Heimdall</a> <span class="muted">logs</span>
        </h1>
        <div class="actions">
          <button type="button" class={live === "off" ? "toggle" : `toggle on ${live}`} aria-pressed={live !== "off"} onClick={() => setLive(live === "off" ? "connecting" : "off")}>
            {live === "off" ? "Live" : live === "live" ? "● Live" : live === "error" ? "Live (reconnecting)" : "Live…"}
          </button>
          <select aria-label="Export format" value={format} onChange={(e) => setFormat(e.currentTarget.value as "ndjson" | "csv")}>
            <option value="ndjson">NDJSON</option>
            <option value="csv">CSV</option>
          </select>
          <button
            type="button"
            disabled={exporting}
            onClick={() => {
              setExporting(true);
              exportLogs(state, format, false).then(
                () => setExporting(false),
                (e: unknown) => {
                  setExporting(false);
                  setError(`Export failed: ${e instanceof Error ? e.message : String(e)}`);
                },
              );
            }}
          >
            {exporting ? "Exporting…" : "Export"}
          </button>
          <button type="button" onClick={toggleTheme} aria-label="Toggle theme" title="Light / dark">
            {theme === "dark" ? "☀" : "☾"}
          </button>
          <a href="/docs" class="muted">
            API docs
          </a>
        </div>
      </header>
      <FilterBar state={state} navigate={navigate} />
      <Tiles filters={filters} reload={reload} />
      <Charts filters={filters} reload={reload} onRange={narrow} />
      <main class={loading ? "results loading" : "results"} aria-busy={loading}>
        <div class="summary">
          {error ? <span class="error">{error}</span> : page ? <span class="total">{fmt.count(page.total)} logs</span> : <span class="muted">Loading…</span>}
          {page && page.total > 0 && (
            <span class="muted">
              {" "}
              · {fmt.count(page.offset + 1)}–{fmt.count(page.offset + logs.length)}
            </span>
          )}
        </div>
        {page && !page.has_logs && <p class="empty">No logs yet. Send traffic through Bifrost (or run bin/demo) and they appear here.</p>}
        {page && page.has_logs && logs.length === 0 && <p class="empty">No logs match these filters.</p>}
        {logs.length > 0 && (
          <LogTable
            logs={logs}
            sort={{ sortBy, order }}
            selected={selected}
            openId={openId}
            searching={state.has("content_search")}
            onSort={(s, o) => navigate({ sort_by: s === "timestamp" ? null : s, order: o === "desc" ? null : o })}
            onSelect={setSelected}
            onOpen={(log) => open(log.id)}
          />
        )}
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled={!state.has("cursor")} onClick={previous}>
            ← Previous
          </button>
          <span class="muted">page {pageNumber}</span>
          <button type="button" disabled={loading || !page?.next_cursor} onClick={next}>
            Next →
          </button>
          <select aria-label="Page size" value={String(pageSize)} onChange={(e) => navigate({ limit: e.currentTarget.value === "50" ? null : e.currentTarget.value })}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={String(n)}>
                {n} / page
              </option>
            ))}
          </select>
        </nav>
      </main>
      {openId && <Detail id={openId} onClose={close} onOpen={open} />}
      <TokenDialog />
    </div>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
