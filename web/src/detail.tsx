// The detail panel of one log: conversation, payloads, metadata, timings, tokens, cost,
// error, the fallback chain (/api/logs/sessions/{id}) and similar logs.

import { useEffect, useState } from "preact/hooks";
import { getJson, logPath } from "./api";
import * as fmt from "./format";
import { StatusBadge } from "./table";
import type { Log, SessionPage, SimilarAnswer } from "./types";

type Json = unknown;

function text(content: Json): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((block: Json) => {
        if (typeof block === "string") return block;
        const b = block as { text?: string; type?: string };
        return b.text ?? (b.type ? `[${b.type}]` : JSON.stringify(block));
      })
      .join("\n");
  }
  if (content === null || content === undefined) return "";
  return JSON.stringify(content, null, 2);
}

interface ToolCall {
  id?: string;
  function?: { name?: string; arguments?: string };
}

function Message(props: { message: Record<string, Json> }) {
  const m = props.message;
  const role = typeof m["role"] === "string" ? m["role"] : "message";
  const calls = (Array.isArray(m["tool_calls"]) ? m["tool_calls"] : []) as ToolCall[];
  const body = text(m["content"] ?? m["text"]);
  return (
    <div class={`message role-${role}`} data-role={role}>
      <div class="role">
        {role}
        {typeof m["tool_call_id"] === "string" ? ` · ${m["tool_call_id"]}` : ""}
      </div>
      {body && <div class="content">{body}</div>}
      {calls.map((call, i) => (
        <div class="tool-call" key={call.id ?? i}>
          <span class="tool-name">⚙ {call.function?.name ?? "tool"}</span>
          <pre>{call.function?.arguments ?? ""}</pre>
        </div>
      ))}
    </div>
  );
}

function messagesOf(log: Log): Record<string, Json>[] {
  const out: Record<string, Json>[] = [];
  const history = log["input_history"] ?? log["responses_input_history"];
  if (Array.isArray(history)) out.push(...(history.filter((m) => m && typeof m === "object") as Record<string, Json>[]));
  const output = log["output_message"];
  if (output && typeof output === "object" && !Array.isArray(output)) out.push(output as Record<string, Json>);
  const responses = log["responses_output"];
  if (Array.isArray(responses)) out.push(...(responses.filter((m) => m && typeof m === "object") as Record<string, Json>[]));
  return out;
}

function JsonBlock(props: { title: string; value: Json }) {
  if (props.value === undefined || props.value === null) return null;
  let shown = props.value;
  if (typeof shown === "string") {
    try {
      shown = JSON.parse(shown);
    } catch {
      /* a string payload that is not JSON: shown as is */
    }
  }
  return (
    <details class="json">
      <summary>{props.title}</summary>
      <pre>{typeof shown === "string" ? shown : JSON.stringify(shown, null, 2)}</pre>
    </details>
  );
}

function LogLink(props: { log: Log; current: string; onOpen: (id: string) => void; label?: string }) {
  const { log } = props;
  return (
    <li class={log.id === props.current ? "current" : ""}>
      <button type="button" class="link" onClick={() => props.onOpen(log.id)} data-id={log.id}>
        {props.label ?? ""}
        <StatusBadge status={log.status} /> {log.provider ?? "–"} / {log.model ?? "–"} · {fmt.latency(log.latency)} · {fmt.time(log.timestamp)}
      </button>
    </li>
  );
}

export function Detail(props: { id: string; onClose: () => void; onOpen: (id: string) => void }) {
  const [log, setLog] = useState<Log | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [chain, setChain] = useState<Log[]>([]);
  const [root, setRoot] = useState<Log | null>(null);
  const [similar, setSimilar] = useState<Log[] | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    const signal = controller.signal;
    setLog(null);
    setError(null);
    setChain([]);
    setRoot(null);
    setSimilar(null);
    getJson<Log>(`/api/logs/${logPath(props.id)}`, signal).then(
      (found) => {
        setLog(found);
        const rootId = found.parent_request_id ?? found.id;
        getJson<SessionPage>(`/api/logs/sessions/${logPath(rootId)}?limit=100`, signal).then((s) => setChain(s.logs), () => undefined);
        if (found.parent_request_id) getJson<Log>(`/api/logs/${logPath(rootId)}`, signal).then(setRoot, () => undefined);
        else setRoot(found);
        getJson<SimilarAnswer>(`/api/logs/${logPath(found.id)}/similar?limit=5`, signal).then((a) => setSimilar(a.logs), () => setSimilar([]));
      },
      (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
    );
    return () => controller.abort();
  }, [props.id]);

  const usage = log?.token_usage;
  const messages = log ? messagesOf(log) : [];
  return (
    <aside class="detail" aria-label="Log detail">
      <header>
        <h2>Log {props.id}</h2>
        <button type="button" class="close" onClick={props.onClose} aria-label="Close">
          ✕
        </button>
      </header>
      {error && <p class="error">{error}</p>}
      {!log && !error && <p class="muted">Loading…</p>}
      {log && (
        <div class="detail-body">
          <dl class="facts">
            <dt>Status</dt>
            <dd><StatusBadge status={log.status} /></dd>
            <dt>Provider / model</dt>
            <dd>{log.provider ?? "–"} / {log.model ?? "–"}</dd>
            <dt>Time</dt>
            <dd>{fmt.time(log.timestamp)}</dd>
            <dt>Created</dt>
            <dd>{fmt.time(log.created_at)}</dd>
            <dt>Latency</dt>
            <dd>{fmt.latency(log.latency)}</dd>
            <dt>Tokens</dt>
            <dd>
              {fmt.count(fmt.tokens(usage))} ({fmt.count(usage?.prompt_tokens)} in, {fmt.count(usage?.completion_tokens)} out)
            </dd>
            <dt>Cost</dt>
            <dd>{fmt.cost(log.cost)}</dd>
            <dt>Key</dt>
            <dd>{log.selected_key_name ?? log.selected_key_id ?? "–"}{log.virtual_key_id ? ` · virtual ${log.virtual_key_name ?? log.virtual_key_id}` : ""}</dd>
            <dt>Object</dt>
            <dd>{log.object ?? "–"}</dd>
            <dt>Fallback</dt>
            <dd>index {log.fallback_index ?? 0} · retries {log.number_of_retries ?? 0}</dd>
          </dl>
          {log.error_details !== undefined && (
            <section class="error-details">
              <h3>Error</h3>
              <p class="error">{(log.error_details as { error?: { message?: string } }).error?.message ?? "error"}</p>
              <JsonBlock title="Error details" value={log.error_details} />
            </section>
          )}
          <section>
            <h3>Conversation</h3>
            {messages.length === 0 ? <p class="muted">No messages stored.</p> : <div class="conversation">{messages.map((m, i) => <Message message={m} key={i} />)}</div>}
          </section>
          {(chain.length > 0 || log.parent_request_id) && (
            <section class="chain">
              <h3>Fallback chain</h3>
              <ol>
                {root && <LogLink log={root} current={log.id} onOpen={props.onOpen} label="original · " />}
                {chain.map((l) => (
                  <LogLink key={l.id} log={l} current={log.id} onOpen={props.onOpen} label={`attempt ${l.fallback_index ?? ""} · `} />
                ))}
              </ol>
            </section>
          )}
          {log.metadata && Object.keys(log.metadata).length > 0 && (
            <section>
              <h3>Metadata</h3>
              <dl class="facts">
                {Object.entries(log.metadata).flatMap(([k, v]) => [<dt key={`k${k}`}>{k}</dt>, <dd key={`v${k}`}>{typeof v === "string" ? v : JSON.stringify(v)}</dd>])}
              </dl>
            </section>
          )}
          <section>
            <h3>Payloads</h3>
            <JsonBlock title="Raw request" value={log["raw_request"]} />
            <JsonBlock title="Raw response" value={log["raw_response"]} />
            <JsonBlock title="Parameters" value={log["params"]} />
            <JsonBlock title="Tools" value={log["tools"]} />
            <JsonBlock title="Whole log" value={log} />
          </section>
          <section class="similar">
            <h3>Similar logs</h3>
            {similar === null ? <p class="muted">Loading…</p> : similar.length === 0 ? <p class="muted">None found.</p> : (
              <ul>{similar.map((l) => <LogLink key={l.id} log={l} current={log.id} onOpen={props.onOpen} />)}</ul>
            )}
          </section>
        </div>
      )}
    </aside>
  );
}
