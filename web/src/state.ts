// The page's whole state is its URL query: the API's own filter, sort and cursor parameters
// (so a shared link reads like the API call it makes) plus a few page-only keys.

/** Page-only keys: never sent to the API. */
export const RANGE = "range"; // the time preset a window came from (15m, 1h, ...)
export const OPEN = "log"; // the log whose detail panel is open
export const PAGE_KEYS: readonly string[] = [RANGE, OPEN, "page"];
/** Keys that only page or sort the list. */
export const LIST_ONLY: readonly string[] = ["sort_by", "order", "cursor", "limit", "offset"];

export type State = URLSearchParams;

export function readState(search: string): State {
  const params = new URLSearchParams(search);
  for (const [key, value] of [...params]) if (value === "") params.delete(key, value);
  return params;
}

/** A copy of ``state`` with ``changes`` applied (``null`` or "" removes a key). Any change
 * of the filters or sort drops the cursor (it belongs to the query it came from). */
export function withChanges(state: State, changes: Record<string, string | null>): State {
  const next = new URLSearchParams(state);
  let keepsPage = true;
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === "") next.delete(key);
    else next.set(key, value);
    if (key !== "cursor" && key !== "page" && key !== OPEN) keepsPage = false;
  }
  if (!keepsPage) {
    next.delete("cursor");
    next.delete("page");
  }
  next.sort();
  return next;
}

/** The filter parameters the API takes (list, stats, histograms, stream, export). */
export function filterParams(state: State): URLSearchParams {
  const out = new URLSearchParams();
  for (const [key, value] of state) {
    if (!PAGE_KEYS.includes(key) && !LIST_ONLY.includes(key)) out.append(key, value);
  }
  return out;
}

export function listParams(state: State, limit: number): URLSearchParams {
  const out = filterParams(state);
  for (const key of ["sort_by", "order", "cursor"]) {
    const value = state.get(key);
    if (value) out.set(key, value);
  }
  out.set("limit", String(limit));
  if (state.get("content_search")) out.set("highlight", "true");
  return out;
}

export function query(params: URLSearchParams): string {
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** Comma list <-> values (apps and user_agents use a JSON array when an item has a comma). */
export function listValues(text: string | null): string[] {
  if (!text) return [];
  const trimmed = text.trimStart();
  if (trimmed.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed)) return parsed.filter((v): v is string => typeof v === "string");
    } catch {
      /* not JSON: a comma list after all */
    }
  }
  return text
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

export function listText(values: readonly string[], jsonCapable: boolean): string | null {
  if (values.length === 0) return null;
  if (jsonCapable && values.some((v) => v.includes(","))) return JSON.stringify(values);
  return values.join(",");
}

export const PRESETS: readonly { key: string; label: string; minutes: number }[] = [
  { key: "15m", label: "15 min", minutes: 15 },
  { key: "1h", label: "1 h", minutes: 60 },
  { key: "24h", label: "24 h", minutes: 1440 },
  { key: "7d", label: "7 d", minutes: 10080 },
  { key: "30d", label: "30 d", minutes: 43200 },
];
/** The presets the API knows as a sliding ``period`` (15 min is not one: it becomes a window). */
const API_PERIODS = new Set(["1h", "24h", "7d", "30d"]);

export function presetChanges(key: string | null, now: Date): Record<string, string | null> {
  const cleared = { period: null, start_time: null, end_time: null, [RANGE]: null };
  if (key === null) return cleared;
  if (API_PERIODS.has(key)) return { ...cleared, period: key, [RANGE]: key };
  const preset = PRESETS.find((p) => p.key === key);
  if (!preset) return cleared;
  const start = new Date(now.getTime() - preset.minutes * 60_000);
  return { ...cleared, start_time: start.toISOString(), [RANGE]: key };
}

/** The window a state covers, in ms (for charts; ``null`` ends are open). */
export function windowOf(state: State, now: Date): { start: number | null; end: number | null } {
  const period = state.get("period");
  if (period) {
    const preset = PRESETS.find((p) => p.key === period);
    const minutes = preset?.minutes ?? (period === "6h" ? 360 : 0);
    return { start: now.getTime() - minutes * 60_000, end: now.getTime() };
  }
  const start = state.get("start_time");
  const end = state.get("end_time");
  return { start: start ? Date.parse(start) : null, end: end ? Date.parse(end) : null };
}
