import { createHmac } from "node:crypto";
import { isIP } from "node:net";
import { Agent } from "undici";
import { Clock } from "../clock/index.js";
import type { AttemptResult, DeliveryError } from "./outcome.js";
import type { TargetGuard } from "./targets.js";
import { checkWebhookUrl } from "./targets.js";

/** One deadline per attempt: from connect to the last byte of the answer that is kept. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** The part of a response body that is kept (and read); the rest is not read at all. */
export const RESPONSE_BODY_LIMIT = 64 * 1024;
/** How often the attempts in flight are checked against their deadline. */
const DEADLINE_SWEEP_MS = 100;

/** Standard Webhooks signature: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`. */
const keys = new Map<string, Buffer>();
export function sign(secret: string, id: string, timestampSec: number, body: string | Buffer): string {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size > 10_000) keys.clear();
    key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
    keys.set(secret, key);
  }
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSec}.`).update(body).digest("base64")}`;
}

/** How long a rotated secret keeps signing deliveries beside the new one. */
export const SECRET_GRACE_MS = 24 * 3600_000;

/** The secrets that sign a webhook's deliveries now: the current one, and the previous one during its grace period. */
export function signingSecrets(
  row: { secret: string; previous_secret: string | null; previous_secret_until: number | null },
  now: number,
): string[] {
  return row.previous_secret && row.previous_secret_until !== null && row.previous_secret_until > now
    ? [row.secret, row.previous_secret]
    : [row.secret];
}

function parseRetryAfter(v: string | undefined, now: number): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const TIMEOUT_ERROR: DeliveryError = {
  code: "TIMEOUT",
  message: `The receiver did not answer within ${DELIVERY_TIMEOUT_MS / 1000} s.`,
};

/**
 * A network failure as the log and the activity say it: the error's code, never the system's
 * message, which names the address a host name resolved to ("connect ECONNREFUSED 10.0.0.5:80").
 */
function errorOf(e: unknown): DeliveryError {
  const err = e as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? err.code ?? err.name ?? "";
  // The target guard's own sentence, which says nothing of a resolution.
  if (code === "EBLOCKEDTARGET")
    return { code: "BLOCKED_TARGET", message: err.cause?.message ?? err.message ?? "The address may not be reached." };
  const shown = /^[A-Z][A-Z0-9_]+$/.test(code) ? code : "unknown";
  if (code === "ECONNREFUSED")
    return { code: "CONNECTION_REFUSED", message: `The receiver refused the connection (${shown}).` };
  if (code === "ENOTFOUND" || code === "EAI_AGAIN")
    return { code: "DNS_FAILURE", message: `The receiver's host name could not be resolved (${shown}).` };
  if (
    code === "TimeoutError" ||
    code === "AbortError" ||
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT" ||
    code === "UND_ERR_CONNECT_TIMEOUT"
  )
    return TIMEOUT_ERROR;
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "EPIPE")
    return { code: "CONNECTION_RESET", message: `The connection was closed before an answer (${shown}).` };
  return { code: "NETWORK_ERROR", message: `A network error reaching the receiver (${shown}).` };
}

const SHUTDOWN_ERROR: DeliveryError = {
  code: "SHUTDOWN",
  message: "Threadline shut down before the receiver answered; the delivery is sent again after the restart.",
};

/** Raised inside an attempt whose deadline passed (cuts the request; answered as TIMEOUT). */
class DeadlineError extends Error {
  override name = "TimeoutError";
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function failed(at: number, started: number, request: AttemptResult["request"], error: DeliveryError): AttemptResult {
  return { ok: false, at, durationMs: Math.round(performance.now() - started), request, response: null, error };
}

/**
 * One request in flight, as undici's dispatch handler: settles once, whatever comes first
 * (the answer, an error, the deadline, the body limit). A class, not closures: thousands are
 * made a second.
 */
class Call {
  readonly deadline = performance.now() + DELIVERY_TIMEOUT_MS;
  private status = 0;
  private headers: Record<string, string> = {};
  private chunks: Buffer[] = [];
  private kept = 0;
  private controller: { abort(reason: Error): void } | undefined;
  private settled = false;
  private resolve!: (a: Answer) => void;
  private reject!: (e: Error) => void;

  constructor(private inFlight: Set<Call>) {}

  start(): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** The deadline passed (or a shutdown): ends the request now. */
  cut(): void {
    this.end(new DeadlineError("deadline"));
  }

  private end(err: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    this.inFlight.delete(this);
    if (err) this.reject(err);
    else {
      const c = this.chunks;
      this.resolve({
        status: this.status,
        headers: this.headers,
        body: c.length === 1 ? c[0]!.toString("utf8") : Buffer.concat(c).toString("utf8"),
      });
    }
    // Cut the request if it is still running (deadline, or the rest of a long body).
    if (this.controller && (err || this.kept >= RESPONSE_BODY_LIMIT))
      this.controller.abort(err ?? new Error("response body limit reached"));
  }

  // Its presence selects undici's current handler interface.
  onRequestStart(controller: { abort(reason: Error): void }): void {
    this.controller = controller;
    if (this.settled) controller.abort(new DeadlineError("deadline"));
  }

  onResponseStart(_c: unknown, statusCode: number, h: Record<string, string | string[] | undefined>): void {
    this.status = statusCode;
    // undici's object is kept as it is unless a header came more than once (the usual case).
    let plain = true;
    for (const k in h) if (typeof h[k] !== "string") plain = false;
    if (plain) {
      this.headers = h as Record<string, string>;
      return;
    }
    const headers: Record<string, string> = {};
    for (const k in h) {
      const v = h[k];
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
    }
    this.headers = headers;
  }

  onResponseData(_c: unknown, chunk: Buffer): void {
    if (this.settled) return;
    const room = RESPONSE_BODY_LIMIT - this.kept;
    this.chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    this.kept += Math.min(chunk.length, room);
    // Enough kept: the answer is complete as far as the log goes; the rest is not read.
    if (this.kept >= RESPONSE_BODY_LIMIT) this.end(null);
  }

  onResponseEnd(): void {
    this.end(null);
  }

  onResponseError(_c: unknown, err: Error): void {
    this.end(err);
  }
}

/** Connections per receiving origin (undici's pool), shared by every workspace delivering there. */
export const ORIGIN_CONNECTIONS = 96;
/** What one workspace may hold of an origin's connections (a webhook's own limit is 64 in flight). */
export const TENANT_CONNECTIONS = 64;

/**
 * Fair shares of one receiving origin's connections between the workspaces (tenants)
 * delivering there. A tenant may hold at most `min(TENANT_CONNECTIONS, ORIGIN_CONNECTIONS /
 * tenants wanting the origin now)`, counted when its request would start: a tenant alone
 * uses up to 64; another arriving finds at least a third of the pool free and its own share,
 * while the first one's requests past its new share wait for its own to end. Requests wait
 * here, not in undici's queue, so the 10 s deadline of an attempt starts when it is sent.
 * *Why*: all tenants shared 64 connections per host, and one tenant's endpoint that hangs
 * held all of them: another tenant's instant endpoint on that host timed out. Keyed by
 * workspace, not webhook, so a tenant's many webhooks to one host are one share. Held only
 * while requests are in flight or waiting.
 */
class OriginShares {
  private held = new Map<string, number>();
  private total = 0;
  private waiting: { tenant: string; go: () => void }[] = [];

  get idle(): boolean {
    return this.total === 0 && this.waiting.length === 0;
  }

  /** A tenant's share now: the pool over the tenants holding or waiting for a connection (and `also`). */
  private share(also?: string): number {
    let tenants = this.held.size + (also !== undefined && !this.held.has(also) ? 1 : 0);
    if (this.waiting.length) {
      const more = new Set<string>();
      for (const w of this.waiting) if (!this.held.has(w.tenant) && w.tenant !== also) more.add(w.tenant);
      tenants += more.size;
    }
    return Math.max(1, Math.min(TENANT_CONNECTIONS, Math.floor(ORIGIN_CONNECTIONS / Math.max(1, tenants))));
  }

  private mayStart(tenant: string, share: number): boolean {
    return this.total < ORIGIN_CONNECTIONS && (this.held.get(tenant) ?? 0) < share;
  }

  private take(tenant: string): void {
    this.held.set(tenant, (this.held.get(tenant) ?? 0) + 1);
    this.total++;
  }

  acquire(tenant: string): Promise<void> | undefined {
    if (this.waiting.length === 0 && this.mayStart(tenant, this.share(tenant))) {
      this.take(tenant);
      return undefined;
    }
    return new Promise((go) => {
      this.waiting.push({ tenant, go });
      this.grant();
    });
  }

  release(tenant: string): void {
    const n = (this.held.get(tenant) ?? 1) - 1;
    if (n <= 0) this.held.delete(tenant);
    else this.held.set(tenant, n);
    this.total--;
    this.grant();
  }

  /** Starts the waiting requests that may start now, oldest first (a tenant at its share waits, the others pass it). */
  private grant(): void {
    const share = this.share();
    for (let i = 0; i < this.waiting.length && this.total < ORIGIN_CONNECTIONS;) {
      const w = this.waiting[i]!;
      if (this.mayStart(w.tenant, share)) {
        this.waiting.splice(i, 1);
        this.take(w.tenant);
        w.go();
      } else i++;
    }
  }

  /** Shutting down: every waiting request goes now (and meets the aborted deliverer). */
  releaseAll(): void {
    for (const w of this.waiting.splice(0)) w.go();
  }
}

/**
 * One HTTP attempt of one delivery; never throws. `at` (the request log's time) comes from
 * the Clock; the deadline and the duration are real time (a receiver does not answer faster
 * because the test clock moved), and so is the signature timestamp (receivers compare it
 * with their own clock).
 */
export class Deliverer {
  readonly agent: Agent;
  private aborted = false;
  private targets = new Map<string, { origin: string; path: string } | { error: DeliveryError }>();
  /** Requests in flight in start order, so their deadlines are in order too. */
  private inFlight = new Set<Call>();
  /** Per receiving origin with requests in flight or waiting: the tenants' fair shares of its connections. */
  private shares = new Map<string, OriginShares>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private guard: TargetGuard,
    private userAgent: string,
    private clock: Pick<Clock, "now"> = new Clock(),
  ) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: ORIGIN_CONNECTIONS,
      connect: { lookup: guard.lookup, timeout: DELIVERY_TIMEOUT_MS },
    });
  }

  /**
   * `secrets`: each signs the body; `webhook-signature` carries them space-separated (Standard
   * Webhooks). `tenant`: the workspace delivering, whose fair share of the origin's connections
   * this attempt takes.
   */
  async attempt(
    url: string,
    secrets: readonly string[],
    webhookId: string,
    body: string,
    tenant = "",
  ): Promise<AttemptResult> {
    const at = this.clock.now();
    const started = performance.now();
    const ts = Math.floor(Date.now() / 1000);
    // Encoded once: the signature and the request use the same bytes (each would encode a string again).
    const bytes = Buffer.from(body);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": this.userAgent,
      "webhook-id": webhookId,
      "webhook-timestamp": String(ts),
      "webhook-signature":
        secrets.length === 1
          ? sign(secrets[0]!, webhookId, ts, bytes)
          : secrets.map((secret) => sign(secret, webhookId, ts, bytes)).join(" "),
    };
    const req = { method: "POST" as const, url, headers, body };
    if (this.aborted) return failed(at, started, req, SHUTDOWN_ERROR);

    const target = this.target(url);
    if ("error" in target) return failed(at, started, req, target.error);
    let shares = this.shares.get(target.origin);
    if (!shares) this.shares.set(target.origin, (shares = new OriginShares()));
    const waited = shares.acquire(tenant);
    if (waited) await waited;
    try {
      if (this.aborted) return failed(at, started, req, SHUTDOWN_ERROR);
      const res = await this.post(target, headers, bytes);
      const status = res.status;
      const durationMs = Math.round(performance.now() - started);
      const late = durationMs > DELIVERY_TIMEOUT_MS;
      const ok = status >= 200 && status < 300 && !late;
      const result: AttemptResult = {
        ok,
        at,
        durationMs,
        request: req,
        response: { status, headers: res.headers, body: res.body },
        error: ok
          ? null
          : late
            ? TIMEOUT_ERROR
            : status >= 300 && status < 400
              ? {
                  code: "REDIRECT",
                  message: `The receiver answered ${status} (redirects are not followed); point the webhook at the final URL.`,
                }
              : { code: "HTTP_ERROR", message: `The receiver answered ${status}.` },
      };
      if (status === 429 || status === 503)
        result.retryAfterMs = parseRetryAfter(res.headers["retry-after"], Date.now());
      return result;
    } catch (e) {
      return failed(
        at,
        started,
        req,
        this.aborted ? SHUTDOWN_ERROR : e instanceof DeadlineError ? TIMEOUT_ERROR : errorOf(e),
      );
    } finally {
      shares.release(tenant);
      if (shares.idle) this.shares.delete(target.origin);
    }
  }

  /** A URL's parts and address check, parsed once per URL (the policy does not change while running). */
  private target(url: string): { origin: string; path: string } | { error: DeliveryError } {
    let t = this.targets.get(url);
    if (!t) {
      const bad = checkWebhookUrl(url);
      if (bad) t = { error: { code: "INVALID_URL", message: `The webhook URL ${bad}` } };
      else {
        const u = new URL(url);
        const host = u.hostname.replace(/^\[|\]$/g, "");
        const reason = isIP(host) ? this.guard.blockedReason(host) : undefined;
        t = reason
          ? { error: { code: "BLOCKED_TARGET", message: reason } }
          : { origin: u.origin, path: `${u.pathname}${u.search}` };
      }
      if (this.targets.size > 10_000) this.targets.clear();
      this.targets.set(url, t);
    }
    return t;
  }

  /**
   * One POST through the Agent's handler interface: no response stream or promise per
   * chunk, which is most of the client's cost at thousands of deliveries a second.
   * One deadline covers the whole attempt (undici's own timeouts are per phase: a body
   * trickled a byte at a time would never trip them). The body is kept up to
   * RESPONSE_BODY_LIMIT; past it the request is ended without reading the rest.
   */
  private post(
    target: { origin: string; path: string },
    headers: Record<string, string>,
    body: Buffer,
  ): Promise<Answer> {
    const call = new Call(this.inFlight);
    const answer = call.start();
    this.track(call);
    this.agent.dispatch(
      {
        origin: target.origin,
        path: target.path,
        method: "POST",
        headers,
        body,
        headersTimeout: DELIVERY_TIMEOUT_MS,
        bodyTimeout: DELIVERY_TIMEOUT_MS,
      },
      call,
    );
    return answer;
  }

  /** Deadlines: one timer for every request in flight, not one per request. */
  private track(entry: Call): void {
    this.inFlight.add(entry);
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const e of this.inFlight) {
        // In start order: the first one not due yet ends the sweep.
        if (e.deadline > now) break;
        e.cut();
      }
      if (!this.inFlight.size) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, DEADLINE_SWEEP_MS);
    this.sweeper.unref();
  }

  /**
   * Shutting down: ends every request still waiting for a receiver now (each answers a
   * `SHUTDOWN` result, which counts against nothing) and refuses new ones.
   */
  abort(): Promise<void> {
    if (this.aborted) return Promise.resolve();
    this.aborted = true;
    for (const s of this.shares.values()) s.releaseAll();
    for (const e of [...this.inFlight]) e.cut();
    return this.agent.destroy(new Error("Threadline is shutting down.")).catch(() => undefined);
  }

  async close(): Promise<void> {
    // Deliveries are drained (bounded) before this; whatever still hangs is cut, not awaited.
    await this.abort();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
