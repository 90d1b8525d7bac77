import { createHmac } from "node:crypto";
import { isIP } from "node:net";
import { Agent } from "undici";
import type { TargetGuard } from "./targets.js";
import { checkWebhookUrl } from "./targets.js";

export const DELIVERY_TIMEOUT_MS = 10_000;
export const RESPONSE_BODY_LIMIT = 64 * 1024;

export interface AttemptResult {
  ok: boolean;
  at: number;
  durationMs: number;
  request: { method: "POST"; url: string; headers: Record<string, string>; body: string };
  response: { status: number; headers: Record<string, string>; body: string } | null;
  error: { code: string; message: string } | null;
  /** From a 429/503 `Retry-After`. */
  retryAfterMs?: number;
}

/** Standard Webhooks signature: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`. */
const keys = new Map<string, Buffer>();
export function sign(secret: string, id: string, timestampSec: number, body: string): string {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size > 10_000) keys.clear();
    key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
    keys.set(secret, key);
  }
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSec}.${body}`).digest("base64")}`;
}

/** How long a rotated secret keeps signing deliveries beside the new one. */
export const SECRET_GRACE_MS = 24 * 3600_000;

/** The secrets that sign a webhook's deliveries now: the current one, and the previous one during its grace period. */
export function signingSecrets(row: { secret: string; previous_secret: string | null; previous_secret_until: number | null }, now: number): string[] {
  return row.previous_secret && row.previous_secret_until !== null && row.previous_secret_until > now ? [row.secret, row.previous_secret] : [row.secret];
}

function parseRetryAfter(v: string | undefined, now: number): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function errorOf(e: unknown): { code: string; message: string } {
  const err = e as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? err.code ?? err.name ?? "";
  const msg = err.cause?.message ?? err.message ?? String(e);
  if (code === "EBLOCKEDTARGET") return { code: "BLOCKED_TARGET", message: msg };
  if (code === "ECONNREFUSED") return { code: "CONNECTION_REFUSED", message: `The receiver refused the connection (${msg}).` };
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return { code: "DNS_FAILURE", message: `The receiver's host name could not be resolved (${msg}).` };
  if (code === "TimeoutError" || code === "AbortError" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" || code === "UND_ERR_CONNECT_TIMEOUT")
    return { code: "TIMEOUT", message: `The receiver did not answer within ${DELIVERY_TIMEOUT_MS / 1000} s.` };
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") return { code: "CONNECTION_RESET", message: `The connection was closed before an answer (${msg}).` };
  return { code: "NETWORK_ERROR", message: msg };
}

/** The error code of an attempt cut short because Threadline is shutting down (not the receiver's fault). */
export const SHUTDOWN_CODE = "SHUTDOWN";
const SHUTDOWN_ERROR = {
  code: SHUTDOWN_CODE,
  message: "Threadline shut down before the receiver answered; the delivery is sent again after the restart.",
};

/** One HTTP attempt of one delivery; never throws. */
export class Deliverer {
  readonly agent: Agent;
  private aborted = false;
  private targets = new Map<string, { origin: string; path: string } | { error: { code: string; message: string } }>();

  constructor(
    private guard: TargetGuard,
    private userAgent: string,
  ) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: 64,
      connect: { lookup: guard.lookup, timeout: DELIVERY_TIMEOUT_MS },
    });
  }

  /** `secrets`: each signs the body; `webhook-signature` carries them space-separated (Standard Webhooks). */
  async attempt(url: string, secrets: readonly string[], webhookId: string, body: string): Promise<AttemptResult> {
    const at = Date.now();
    const ts = Math.floor(at / 1000);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": this.userAgent,
      "webhook-id": webhookId,
      "webhook-timestamp": String(ts),
      "webhook-signature": secrets.map((secret) => sign(secret, webhookId, ts, body)).join(" "),
    };
    const req = { method: "POST" as const, url, headers, body };
    const fail = (error: { code: string; message: string }): AttemptResult => ({ ok: false, at, durationMs: Date.now() - at, request: req, response: null, error });
    if (this.aborted) return fail(SHUTDOWN_ERROR);

    const target = this.target(url);
    if ("error" in target) return fail(target.error);
    try {
      const res = await this.post(target, headers, body);
      const resHeaders = res.headers;
      const status = res.status;
      const late = Date.now() - at > DELIVERY_TIMEOUT_MS;
      const ok = status >= 200 && status < 300 && !late;
      const result: AttemptResult = {
        ok,
        at,
        durationMs: Date.now() - at,
        request: req,
        response: { status, headers: resHeaders, body: res.body },
        error: ok
          ? null
          : late
            ? { code: "TIMEOUT", message: `The receiver did not answer within ${DELIVERY_TIMEOUT_MS / 1000} s.` }
            : status >= 300 && status < 400
            ? { code: "REDIRECT", message: `The receiver answered ${status} (redirects are not followed); point the webhook at the final URL.` }
            : { code: "HTTP_ERROR", message: `The receiver answered ${status}.` },
      };
      if (status === 429 || status === 503) result.retryAfterMs = parseRetryAfter(resHeaders["retry-after"], Date.now());
      return result;
    } catch (e) {
      return fail(this.aborted ? SHUTDOWN_ERROR : errorOf(e));
    }
  }

  /** A URL's parts and address check, parsed once per URL (the policy does not change while running). */
  private target(url: string): { origin: string; path: string } | { error: { code: string; message: string } } {
    let t = this.targets.get(url);
    if (!t) {
      const bad = checkWebhookUrl(url);
      if (bad) t = { error: { code: "INVALID_URL", message: `The webhook URL ${bad}` } };
      else {
        const u = new URL(url);
        const host = u.hostname.replace(/^\[|\]$/g, "");
        const reason = isIP(host) ? this.guard.blockedReason(host) : undefined;
        t = reason ? { error: { code: "BLOCKED_TARGET", message: reason } } : { origin: u.origin, path: `${u.pathname}${u.search}` };
      }
      if (this.targets.size > 10_000) this.targets.clear();
      this.targets.set(url, t);
    }
    return t;
  }

  /**
   * One POST through the Agent's handler interface: no response stream or promise per
   * chunk, which is most of the client's cost at thousands of deliveries a second.
   */
  private post(target: { origin: string; path: string }, headers: Record<string, string>, body: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    return new Promise((resolve, reject) => {
      let status = 0;
      let resHeaders: Record<string, string> = {};
      const chunks: Buffer[] = [];
      let kept = 0;
      this.agent.dispatch(
        { origin: target.origin, path: target.path, method: "POST", headers, body, headersTimeout: DELIVERY_TIMEOUT_MS, bodyTimeout: DELIVERY_TIMEOUT_MS },
        {
          // Its presence selects undici's current handler interface.
          onRequestStart() {},
          onResponseStart(_c, statusCode, h) {
            status = statusCode;
            resHeaders = {};
            for (const [k, v] of Object.entries(h)) if (v !== undefined) resHeaders[k] = Array.isArray(v) ? v.join(", ") : v;
          },
          onResponseData(_c, chunk) {
            if (kept < RESPONSE_BODY_LIMIT) {
              chunks.push(chunk.subarray(0, RESPONSE_BODY_LIMIT - kept));
              kept += Math.min(chunk.length, RESPONSE_BODY_LIMIT - kept);
            }
          },
          onResponseEnd() {
            resolve({ status, headers: resHeaders, body: chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8") });
          },
          onResponseError(_c, err) {
            reject(err);
          },
        },
      );
    });
  }

  /**
   * Shutting down: ends every request still waiting for a receiver now (each answers a
   * `SHUTDOWN` result, which counts against nothing) and refuses new ones.
   */
  abort(): Promise<void> {
    if (this.aborted) return Promise.resolve();
    this.aborted = true;
    return this.agent.destroy(new Error("Threadline is shutting down.")).catch(() => undefined);
  }

  async close(): Promise<void> {
    // Deliveries are drained (bounded) before this; whatever still hangs is cut, not awaited.
    await this.abort();
  }
}
