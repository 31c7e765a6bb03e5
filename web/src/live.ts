// Server-sent events over fetch() (EventSource cannot send an Authorization header):
// GET /api/logs/stream (CONTRACT_STREAM.md). A pure parser plus a reader loop.

import { apiFetch } from "./api";

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** Feeds text chunks, returns complete events (comments such as heartbeats are dropped). */
export class SseParser {
  private buffer = "";
  private lastId: string | null = null;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk.replaceAll("\r\n", "\n").replaceAll("\r", "\n");
    const events: SseEvent[] = [];
    let end: number;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      let seen = false;
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        seen = true;
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id") this.lastId = value;
      }
      if (seen && data.length > 0) events.push({ id: this.lastId, event, data: data.join("\n") });
    }
    return events;
  }
}

export interface LiveHandlers {
  onEvent: (event: SseEvent) => void;
  onReset: () => void;
  onState: (state: "connecting" | "live" | "error") => void;
}

/** Tails the stream until ``signal`` aborts; reconnects with the last id after a drop. */
export async function tail(filters: URLSearchParams, handlers: LiveHandlers, signal: AbortSignal): Promise<void> {
  let lastId: string | null = null;
  while (!signal.aborted) {
    handlers.onState("connecting");
    try {
      const params = new URLSearchParams(filters);
      const response = await apiFetch(`/api/logs/stream?${params.toString()}`, {
        signal,
        headers: lastId ? { "Last-Event-ID": lastId, Accept: "text/event-stream" } : { Accept: "text/event-stream" },
      });
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      handlers.onState("live");
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value)) {
          if (event.event === "reset") {
            lastId = null;
            handlers.onReset();
          } else {
            lastId = event.id;
            handlers.onEvent(event);
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      handlers.onState("error");
      if (lastId !== null && String(error).includes("400")) lastId = null;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
