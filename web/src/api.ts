// The one door to the API: every request carries the token the user gave (sessionStorage),
// and a 401 asks for one, once, however many requests failed at the same time.

const TOKEN_KEY = "heimdall.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

type Asker = () => Promise<string>;
let askForToken: Asker | null = null;
let pendingAsk: Promise<string> | null = null;

/** The page's token dialog registers itself here. */
export function onTokenNeeded(asker: Asker): void {
  askForToken = asker;
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

function headers(extra?: HeadersInit): Headers {
  const h = new Headers(extra);
  const t = token();
  if (t) h.set("Authorization", `Bearer ${t}`);
  return h;
}

async function newToken(): Promise<string> {
  if (!askForToken) throw new ApiError(401, "authentication required");
  pendingAsk ??= askForToken().finally(() => {
    pendingAsk = null;
  });
  const t = await pendingAsk;
  sessionStorage.setItem(TOKEN_KEY, t);
  return t;
}

/** fetch() with the token; on 401 asks for a token and tries again. */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  for (;;) {
    const response = await fetch(path, { ...init, headers: headers(init.headers) });
    if (response.status !== 401) return response;
    await newToken();
  }
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await apiFetch(path, { signal: signal ?? null });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body as { error?: { message?: string; param?: string } } | null)?.error;
    throw new ApiError(response.status, error?.message ?? response.statusText, error?.param);
  }
  return body as T;
}

/** A log id as one path segment: %2F for "/", and "." / ".." escaped (clients drop them). */
export function logPath(id: string): string {
  const encoded = encodeURIComponent(id);
  return encoded === "." || encoded === ".." ? encoded.replaceAll(".", "%2E") : encoded;
}
