/** Same-origin JSON client for the Threadline API (the session cookie authenticates). */

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** A field named by the server, when it says which one (validation errors). */
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let unauthorizedHandler: (() => void) | null = null;

/** Called when a signed-in call answers 401 (the session expired or was revoked). */
export function onUnauthorized(fn: (() => void) | null): void {
  unauthorizedHandler = fn;
}

export interface RequestOptions {
  /** Do not treat 401 as "signed out" (the session calls themselves). */
  allow401?: boolean;
  signal?: AbortSignal;
  /** A bearer credential instead of the session cookie (the operator token, kept in memory only). */
  token?: string;
}

export async function api<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(
      0,
      "NETWORK_ERROR",
      "Could not reach the Threadline server. Check your connection and try again.",
    );
  }
  const text = await res.text();
  let json: unknown = undefined;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string; field?: string; path?: string } } | undefined)
      ?.error;
    const message = err?.message ?? `The server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}.`;
    const error = new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, message, err?.field ?? err?.path);
    if (res.status === 401 && !opts.allow401) unauthorizedHandler?.();
    throw error;
  }
  return json as T;
}

/** Reads every page of a list (small collections: webhooks, teammates, accounts). */
export async function listAll<T>(path: string, max = 1000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null | undefined = undefined;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const url: string = `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page: { items?: T[]; next_cursor?: string | null } | T[] = await api("GET", url);
    if (Array.isArray(page)) return page;
    out.push(...(page.items ?? []));
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * Which of `fields` a validation error is about: the server's `field` when it gives one,
 * else the longest field name the message mentions. `undefined`: show it for the form.
 */
export function fieldOf(e: unknown, fields: readonly string[]): string | undefined {
  if (!(e instanceof ApiError)) return undefined;
  if (e.status !== 400 && e.status !== 409 && e.status !== 422) return undefined;
  const sorted = [...fields].sort((a, b) => b.length - a.length);
  const named = e.field?.replace(/^\/?(body\.|\/)?/, "").replace(/\//g, ".");
  if (named) {
    for (const f of sorted) if (named === f || named.endsWith(`.${f}`)) return f;
  }
  const msg = e.message;
  for (const f of sorted) {
    const re = new RegExp(`(^|[^a-z_])${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^a-z_]|$)`, "i");
    if (re.test(msg)) return f;
  }
  return undefined;
}
