// The Export button: GET /api/logs/export with the page's filters and sort, saved as a file.

import { apiFetch } from "./api";
import { filterParams, type State } from "./state";

export async function exportLogs(state: State, format: "ndjson" | "csv", payloads: boolean): Promise<void> {
  const params = filterParams(state);
  params.set("format", format);
  if (payloads) params.set("payloads", "true");
  for (const key of ["sort_by", "order"]) {
    const value = state.get(key);
    if (value) params.set(key, value);
  }
  const response = await apiFetch(`/api/logs/export?${params.toString()}`);
  if (!response.ok) throw new Error(`export answered ${response.status}`);
  const disposition = response.headers.get("Content-Disposition") ?? "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `heimdall-logs.${format}`;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
