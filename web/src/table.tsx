// The results table: sortable by the API's sort_by, keyboard navigable (j/k, Enter, Esc).

import * as fmt from "./format";
import type { Log } from "./types";

export interface SortState {
  sortBy: string;
  order: string;
}

const COLUMNS: readonly { key: string; label: string; sort?: string; class?: string }[] = [
  { key: "time", label: "Time", sort: "timestamp" },
  { key: "status", label: "Status" },
  { key: "provider", label: "Provider", class: "wide" },
  { key: "model", label: "Model" },
  { key: "latency", label: "Latency", sort: "latency", class: "num" },
  { key: "tokens", label: "Tokens", sort: "tokens", class: "num wide" },
  { key: "cost", label: "Cost", sort: "cost", class: "num" },
  { key: "key", label: "Key", class: "wide" },
];

export function StatusBadge(props: { status: string | undefined }) {
  const status = props.status ?? "unknown";
  return <span class={`badge status-${status}`}>{status}</span>;
}

export function LogTable(props: {
  logs: Log[];
  sort: SortState;
  selected: number;
  openId: string | null;
  searching: boolean;
  onSort: (sortBy: string, order: string) => void;
  onSelect: (index: number) => void;
  onOpen: (log: Log) => void;
}) {
  const { logs, sort } = props;
  const header = (c: (typeof COLUMNS)[number]) => {
    if (!c.sort) return c.label;
    const active = sort.sortBy === c.sort;
    const next = active && sort.order === "desc" ? "asc" : "desc";
    return (
      <button type="button" class="sort" onClick={() => props.onSort(c.sort ?? "timestamp", next)} aria-sort={active ? (sort.order === "asc" ? "ascending" : "descending") : "none"}>
        {c.label} {active ? (sort.order === "asc" ? "▲" : "▼") : ""}
      </button>
    );
  };
  return (
    <div class="table-wrap">
    <table class="logs">
      <thead>
        <tr>
          {COLUMNS.map((c) => (
            <th key={c.key} class={c.class} data-col={c.key}>
              {header(c)}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {logs.map((log, i) => {
          const classes = ["row", i === props.selected ? "selected" : "", log.id === props.openId ? "open" : ""].join(" ");
          return [
            <tr key={log.id} class={classes} data-id={log.id} onClick={() => { props.onSelect(i); props.onOpen(log); }}>
              <td data-col="time">{fmt.time(log.timestamp)}</td>
              <td data-col="status"><StatusBadge status={log.status} /></td>
              <td data-col="provider" class="wide">{log.provider ?? "–"}</td>
              <td data-col="model">{log.model ?? "–"}</td>
              <td data-col="latency" class="num">{fmt.latency(log.latency)}</td>
              <td data-col="tokens" class="num wide">{fmt.count(fmt.tokens(log.token_usage))}</td>
              <td data-col="cost" class="num">{fmt.cost(log.cost)}</td>
              <td data-col="key" class="wide">{log.virtual_key_name ?? log.virtual_key_id ?? log.selected_key_name ?? log.selected_key_id ?? "–"}</td>
            </tr>,
            props.searching && log.highlights && log.highlights.length > 0 ? (
              <tr key={`${log.id}-hl`} class="snippet-row" onClick={() => props.onOpen(log)}>
                {/* The API HTML-escapes the content and marks matches with <mark> only. */}
                <td colSpan={COLUMNS.length} class="snippet" dangerouslySetInnerHTML={{ __html: log.highlights.join(" … ") }} />
              </tr>
            ) : null,
          ];
        })}
      </tbody>
    </table>
    </div>
  );
}
