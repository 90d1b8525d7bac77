import { createHmac } from "node:crypto";
import { isIP } from "node:net";
import { Agent, request } from "undici";
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

  async attempt(url: string, secret: string, webhookId: string, body: string): Promise<AttemptResult> {
    const at = Date.now();
    const ts = Math.floor(at / 1000);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": this.userAgent,
      "webhook-id": webhookId,
      "webhook-timestamp": String(ts),
      "webhook-signature": sign(secret, webhookId, ts, body),
    };
    const req = { method: "POST" as const, url, headers, body };
    const fail = (error: { code: string; message: string }): AttemptResult => ({ ok: false, at, durationMs: Date.now() - at, request: req, response: null, error });
    if (this.aborted) return fail(SHUTDOWN_ERROR);

    const bad = checkWebhookUrl(url);
    if (bad) return fail({ code: "INVALID_URL", message: `The webhook URL ${bad}` });
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    if (isIP(host)) {
      const reason = this.guard.blockedReason(host);
      if (reason) return fail({ code: "BLOCKED_TARGET", message: reason });
    }
    try {
      const res = await request(url, {
        method: "POST",
        headers,
        body,
        dispatcher: this.agent,
        // Per-phase timeouts are far cheaper than an AbortSignal per request; the total is checked below.
        headersTimeout: DELIVERY_TIMEOUT_MS,
        bodyTimeout: DELIVERY_TIMEOUT_MS,
      });
      const chunks: Buffer[] = [];
      let kept = 0;
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        if (kept < RESPONSE_BODY_LIMIT) {
          chunks.push(b.subarray(0, RESPONSE_BODY_LIMIT - kept));
          kept += Math.min(b.length, RESPONSE_BODY_LIMIT - kept);
        }
      }
      const resHeaders: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) resHeaders[k] = Array.isArray(v) ? v.join(", ") : v;
      const status = res.statusCode;
      const late = Date.now() - at > DELIVERY_TIMEOUT_MS;
      const ok = status >= 200 && status < 300 && !late;
      const result: AttemptResult = {
        ok,
        at,
        durationMs: Date.now() - at,
        request: req,
        response: { status, headers: resHeaders, body: Buffer.concat(chunks).toString("utf8") },
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
