// The filter bar: time presets and a custom range, content search, a dropdown (with counts
// and type-ahead) per filterdata dimension, and the other filters of GET /api/logs.

import { useEffect, useRef, useState } from "preact/hooks";
import { getJson } from "./api";
import type { FilterData, Named } from "./types";
import { filterParams, listText, listValues, PRESETS, presetChanges, query, RANGE, type State } from "./state";

export type Navigate = (changes: Record<string, string | null>) => void;

interface Option {
  value: string;
  label: string;
  count: number | null;
}

interface Dimension {
  dimension: string; // filterdata key
  param: string; // GET /api/logs parameter
  label: string;
  json?: boolean; // values may be sent as a JSON array
}

const DIMENSIONS: readonly Dimension[] = [
  { dimension: "models", param: "models", label: "Model" },
  { dimension: "aliases", param: "aliases", label: "Alias" },
  { dimension: "selected_keys", param: "selected_key_ids", label: "Key" },
  { dimension: "virtual_keys", param: "virtual_key_ids", label: "Virtual key" },
  { dimension: "routing_rules", param: "routing_rule_ids", label: "Routing rule" },
  { dimension: "routing_engines", param: "routing_engine_used", label: "Routing engine" },
  { dimension: "users", param: "user_ids", label: "User" },
  { dimension: "teams", param: "team_ids", label: "Team" },
  { dimension: "customers", param: "customer_ids", label: "Customer" },
  { dimension: "business_units", param: "business_unit_ids", label: "Business unit" },
  { dimension: "stop_reasons", param: "stop_reasons", label: "Stop reason" },
  { dimension: "apps", param: "apps", label: "App", json: true },
  { dimension: "user_agents", param: "user_agents", label: "User agent", json: true },
];

const FIXED: readonly { param: string; label: string; values: readonly string[] }[] = [
  { param: "status", label: "Status", values: ["success", "error", "processing", "cancelled"] },
  { param: "cache_hit_types", label: "Cache hit", values: ["direct", "semantic"] },
];

const TEXT_FILTERS: readonly { param: string; label: string; kind: "text" | "number" | "bool" }[] = [
  { param: "objects", label: "Objects", kind: "text" },
  { param: "request_id", label: "Request ids", kind: "text" },
  { param: "parent_request_id", label: "Session (parent) id", kind: "text" },
  { param: "min_latency", label: "Min latency ms", kind: "number" },
  { param: "max_latency", label: "Max latency ms", kind: "number" },
  { param: "min_tokens", label: "Min tokens", kind: "number" },
  { param: "max_tokens", label: "Max tokens", kind: "number" },
  { param: "min_cost", label: "Min cost $", kind: "number" },
  { param: "max_cost", label: "Max cost $", kind: "number" },
  { param: "roots_only", label: "Original requests only", kind: "bool" },
  { param: "missing_cost_only", label: "Missing cost only", kind: "bool" },
];

function optionsOf(data: FilterData, dimension: string): Option[] {
  const raw = data[dimension];
  if (!Array.isArray(raw)) return [];
  const counts = data.counts?.[dimension] ?? {};
  return raw.map((item: unknown) => {
    if (typeof item === "string") return { value: item, label: item, count: counts[item] ?? null };
    const named = item as Named;
    return { value: named.id, label: named.name || named.id, count: named.count };
  });
}

function MultiSelect(props: { label: string; param: string; options: Option[]; selected: string[]; onChange: (values: string[]) => void }) {
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState("");
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return undefined;
    const close = (event: MouseEvent) => {
      if (box.current && !box.current.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [open]);
  const needle = typed.trim().toLowerCase();
  const shown = props.options.filter((o) => !needle || o.label.toLowerCase().includes(needle) || o.value.toLowerCase().includes(needle));
  const toggle = (value: string) => {
    const next = props.selected.includes(value) ? props.selected.filter((v) => v !== value) : [...props.selected, value];
    props.onChange(next);
  };
  const active = props.selected.length > 0;
  return (
    <div class="multi" ref={box} data-filter={props.param}>
      <button type="button" class={active ? "chip active" : "chip"} onClick={() => setOpen(!open)} aria-expanded={open}>
        {props.label}
        {active ? `: ${props.selected.length === 1 ? (props.options.find((o) => o.value === props.selected[0])?.label ?? props.selected[0]) : props.selected.length}` : ""} ▾
      </button>
      {open && (
        <div class="popover" role="listbox">
          <input class="typeahead" placeholder={`Filter ${props.label.toLowerCase()}…`} value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autoFocus />
          <div class="options">
            {shown.length === 0 && <div class="muted">No values</div>}
            {shown.map((o) => (
              <label key={o.value} class="option">
                <input type="checkbox" checked={props.selected.includes(o.value)} onChange={() => toggle(o.value)} />
                <span class="option-label">{o.label}</span>
                {o.count !== null && <span class="count">{o.count.toLocaleString("en-US")}</span>}
              </label>
            ))}
            {props.selected.filter((v) => !props.options.some((o) => o.value === v)).map((v) => (
              <label key={v} class="option">
                <input type="checkbox" checked onChange={() => toggle(v)} />
                <span class="option-label">{v}</span>
              </label>
            ))}
          </div>
          {active && (
            <button type="button" class="link" onClick={() => props.onChange([])}>
              Clear
            </button>
          )}
        </div>
      )}
    </div>
  );
}

function TimeRange(props: { state: State; navigate: Navigate }) {
  const { state, navigate } = props;
  const range = state.get(RANGE);
  const custom = !range && (state.has("start_time") || state.has("end_time"));
  const [editing, setEditing] = useState(false);
  const local = (iso: string | null) => (iso ? new Date(Date.parse(iso) - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16) : "");
  const [from, setFrom] = useState(local(state.get("start_time")));
  const [to, setTo] = useState(local(state.get("end_time")));
  return (
    <div class="range" role="group" aria-label="Time range">
      {PRESETS.map((p) => (
        <button type="button" key={p.key} class={range === p.key ? "seg active" : "seg"} onClick={() => navigate(presetChanges(p.key, new Date()))}>
          {p.label}
        </button>
      ))}
      <button type="button" class={!range && !custom ? "seg active" : "seg"} onClick={() => navigate(presetChanges(null, new Date()))}>
        All
      </button>
      <button type="button" class={custom ? "seg active" : "seg"} onClick={() => setEditing(!editing)}>
        Custom
      </button>
      {editing && (
        <form
          class="custom-range"
          onSubmit={(e) => {
            e.preventDefault();
            setEditing(false);
            navigate({
              ...presetChanges(null, new Date()),
              start_time: from ? new Date(from).toISOString() : null,
              end_time: to ? new Date(to).toISOString() : null,
            });
          }}
        >
          <input type="datetime-local" aria-label="From" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
          <input type="datetime-local" aria-label="To" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
          <button type="submit">Apply</button>
        </form>
      )}
    </div>
  );
}

export function FilterBar(props: { state: State; navigate: Navigate }) {
  const { state, navigate } = props;
  const [data, setData] = useState<FilterData>({});
  const [providers, setProviders] = useState<Option[]>([]);
  const [search, setSearch] = useState(state.get("content_search") ?? "");
  const [more, setMore] = useState(false);
  const filters = filterParams(state).toString();
  useEffect(() => setSearch(state.get("content_search") ?? ""), [state.get("content_search")]);
  useEffect(() => {
    const controller = new AbortController();
    // The dropdowns list the values within the other filters' time window only.
    const params = new URLSearchParams();
    for (const key of ["period", "start_time", "end_time"]) {
      const value = state.get(key);
      if (value) params.set(key, value);
    }
    getJson<FilterData>(`/api/logs/filterdata${query(params)}`, controller.signal).then(setData, () => undefined);
    params.set("all", "true");
    getJson<{ rankings: { provider: string; total_requests: number }[] }>(`/api/logs/rankings${query(params)}`, controller.signal).then((answer) => {
      const totals = new Map<string, number>();
      for (const row of answer.rankings) totals.set(row.provider, (totals.get(row.provider) ?? 0) + row.total_requests);
      setProviders([...totals].sort(([a], [b]) => a.localeCompare(b)).map(([value, n]) => ({ value, label: value, count: n })));
    }, () => undefined);
    return () => controller.abort();
  }, [state.get("period"), state.get("start_time"), state.get("end_time")]);

  const set = (param: string, values: string[], json = false) => navigate({ [param]: listText(values, json) });
  const metadata = (data["metadata_keys"] ?? {}) as Record<string, string[]>;
  const metaCounts = (data.counts?.["metadata_keys"] ?? {}) as unknown as Record<string, Record<string, number>>;
  const metaActive = [...state.keys()].filter((k) => k.startsWith("metadata_"));
  return (
    <section class="filters" aria-label="Filters">
      <form
        class="search"
        onSubmit={(e) => {
          e.preventDefault();
          navigate({ content_search: search.trim() || null });
        }}
      >
        <input type="search" name="content_search" placeholder='Search content: words and "quoted phrases"' value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        <button type="submit">Search</button>
      </form>
      <TimeRange state={state} navigate={navigate} key={`${state.get("start_time")}-${state.get("end_time")}`} />
      <div class="chips">
        {FIXED.map((f) => (
          <MultiSelect key={f.param} label={f.label} param={f.param} options={f.values.map((v) => ({ value: v, label: v, count: null }))} selected={listValues(state.get(f.param))} onChange={(v) => set(f.param, v)} />
        ))}
        <MultiSelect label="Provider" param="providers" options={providers} selected={listValues(state.get("providers"))} onChange={(v) => set("providers", v)} />
        {DIMENSIONS.filter((d) => optionsOf(data, d.dimension).length > 0 || state.has(d.param)).map((d) => (
          <MultiSelect key={d.param} label={d.label} param={d.param} options={optionsOf(data, d.dimension)} selected={listValues(state.get(d.param))} onChange={(v) => set(d.param, v, d.json)} />
        ))}
        {Object.keys(metadata).map((key) => (
          <MultiSelect
            key={key}
            label={`meta: ${key}`}
            param={`metadata_${key}`}
            options={(metadata[key] ?? []).map((v) => ({ value: v, label: v, count: metaCounts[key]?.[v] ?? null }))}
            selected={state.has(`metadata_${key}`) ? [state.get(`metadata_${key}`) ?? ""] : []}
            onChange={(v) => navigate({ [`metadata_${key}`]: v.length ? (v[v.length - 1] ?? null) : null })}
          />
        ))}
        <button type="button" class="chip" onClick={() => setMore(!more)} aria-expanded={more}>
          More filters
        </button>
        {(filters !== "" || metaActive.length > 0) && (
          <button type="button" class="link" onClick={() => navigate(Object.fromEntries([...filterParams(state).keys()].map((k) => [k, null])))}>
            Clear all
          </button>
        )}
      </div>
      {more && (
        <form
          class="more"
          onSubmit={(e) => {
            e.preventDefault();
            const form = new FormData(e.currentTarget);
            navigate(Object.fromEntries(TEXT_FILTERS.map((f) => [f.param, f.kind === "bool" ? (form.get(f.param) ? "true" : null) : String(form.get(f.param) ?? "").trim() || null])));
          }}
        >
          {TEXT_FILTERS.map((f) => (
            <label key={f.param}>
              {f.kind === "bool" ? <input type="checkbox" name={f.param} defaultChecked={state.get(f.param) === "true"} /> : null}
              <span>{f.label}</span>
              {f.kind === "number" ? <input name={f.param} type="number" step="any" defaultValue={state.get(f.param) ?? ""} /> : null}
              {f.kind === "text" ? <input name={f.param} type="text" defaultValue={state.get(f.param) ?? ""} /> : null}
            </label>
          ))}
          <button type="submit">Apply</button>
        </form>
      )}
    </section>
  );
}
