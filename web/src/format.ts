// Display formatting, one place.

// Local time, written year first (sv-SE is the locale that formats as 2026-11-25 13:05:09).
const TIME = new Intl.DateTimeFormat("sv-SE", {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

export function time(value: string | undefined): string {
  if (!value) return "–";
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : TIME.format(ms);
}

export function latency(ms: number | undefined): string {
  if (ms === undefined || ms === null) return "–";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

export function cost(usd: number | undefined): string {
  if (usd === undefined || usd === null) return "–";
  if (usd === 0) return "$0";
  return usd < 0.01 ? `$${usd.toPrecision(2)}` : `$${usd.toFixed(usd < 10 ? 4 : 2)}`;
}

export function count(n: number | undefined): string {
  if (n === undefined || n === null) return "–";
  return n.toLocaleString("en-US");
}

export function percent(n: number): string {
  return `${n.toFixed(1)} %`;
}

export function change(current: number, previous: number | undefined): string | null {
  if (previous === undefined) return null;
  if (previous === 0) return current === 0 ? "±0 %" : "new";
  const pct = ((current - previous) / previous) * 100;
  return `${pct >= 0 ? "+" : ""}${pct.toFixed(1)} %`;
}

export function tokens(usage: { total_tokens?: number; prompt_tokens?: number; completion_tokens?: number } | undefined): number | undefined {
  if (!usage) return undefined;
  return usage.total_tokens ?? (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0);
}
