import { isIP } from "node:net";
import { Agent, request } from "undici";
import type { TargetGuard } from "../webhooks/targets.js";
import { AccountLimiter } from "./limiter.js";

/** A gateway call that failed: `status` is the gateway's HTTP status when it answered, else undefined (no answer). */
export class GatewayError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions & {
      /** Trying again cannot help (an address the target rule refuses, a URL that is not valid). */
      final?: boolean;
    },
  ) {
    super(message, options);
    this.name = "GatewayError";
    this.final = options?.final ?? false;
  }

  readonly final: boolean;
}

export const GATEWAY_TIMEOUT_MS = 10_000;
/** How long a call made while receiving (group info, hidden-id lookup, status check) may take. */
export const GROUP_INFO_TIMEOUT_MS = 2_000;

/**
 * The one outgoing HTTP client of the gateways (Graph API, WAHA, Evolution): the same target
 * guard as webhook deliveries, so an account's `base_url` / `graph_base_url` cannot reach
 * loopback, private, link-local or metadata addresses unless THREADLINE_ALLOW_PRIVATE_TARGETS
 * allows them. Addresses are checked at connect time (no DNS rebinding) and IP literals
 * before connecting; redirects are not followed (a 3xx is an error).
 */
export class GatewayHttp {
  private agent: Agent;
  /** Every call made while receiving goes through it: a few in flight per account (limiter.ts). */
  readonly perAccount = new AccountLimiter();

  constructor(private guard: TargetGuard) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connect: { lookup: guard.lookup, timeout: GATEWAY_TIMEOUT_MS },
    });
  }

  /**
   * POSTs JSON and returns the parsed JSON answer. A refused target, a network error, a
   * timeout (10 s) or a non-2xx answer throws an Error naming the gateway and the status;
   * the gateway's body is never quoted (it goes back to the API client).
   */
  async postJson(label: string, url: string, headers: Record<string, string>, body: unknown): Promise<unknown> {
    const failed = (reason: string, cause?: unknown, final = false) =>
      new GatewayError(`${label} request to ${url} failed: ${reason}`, undefined, { cause, final });
    let host: string;
    try {
      host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    } catch (err) {
      throw failed("the URL is not valid", err, true);
    }
    const blocked = isIP(host) ? this.guard.blockedReason(host) : undefined;
    if (blocked) throw failed(blocked, undefined, true);
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        dispatcher: this.agent,
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", ...headers },
        body: JSON.stringify(body),
        headersTimeout: GATEWAY_TIMEOUT_MS,
        bodyTimeout: GATEWAY_TIMEOUT_MS,
        signal: AbortSignal.timeout(GATEWAY_TIMEOUT_MS),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw failed(reasonOf(err), err, isBlocked(err));
    }
    if (status < 200 || status > 299) throw new GatewayError(`${label} answered HTTP ${status}`, status);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new Error(`${label} answered HTTP ${status} with a body that is not JSON`);
    }
  }

  /**
   * GETs JSON (a group-info call) through the same guard; undefined on any failure: a
   * group's subject is a nicety, the message is stored without it.
   */
  async getJsonQuietly(url: string, headers: Record<string, string>): Promise<unknown> {
    return this.quietly("GET", url, headers);
  }

  /** POSTs JSON (a lookup) the same way: undefined on any failure. */
  async postJsonQuietly(url: string, headers: Record<string, string>, body: unknown): Promise<unknown> {
    return this.quietly("POST", url, { "content-type": "application/json", ...headers }, JSON.stringify(body));
  }

  private async quietly(
    method: "GET" | "POST",
    url: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<unknown> {
    try {
      const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
      if (isIP(host) && this.guard.blockedReason(host)) return undefined;
      const res = await request(url, {
        dispatcher: this.agent,
        method,
        body,
        headers: { accept: "application/json", ...headers },
        headersTimeout: GROUP_INFO_TIMEOUT_MS,
        bodyTimeout: GROUP_INFO_TIMEOUT_MS,
        signal: AbortSignal.timeout(GROUP_INFO_TIMEOUT_MS),
      });
      const text = await res.body.text();
      if (res.statusCode < 200 || res.statusCode > 299) return undefined;
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

type NetworkError = { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };

/** The name resolved to an address the target rule refuses (at connect time). */
function isBlocked(err: unknown): boolean {
  const e = err as NetworkError;
  return (e.cause?.code ?? e.code) === "EBLOCKEDTARGET";
}

/** A network error in a few words: the guard's sentence, or an error code (never a remote answer). */
function reasonOf(err: unknown): string {
  const e = err as NetworkError;
  const code = e.cause?.code ?? e.code ?? e.name ?? "";
  if (code === "EBLOCKEDTARGET") return e.cause?.message ?? e.message ?? "the address is not allowed";
  if (code === "TimeoutError" || code === "AbortError" || (code.startsWith("UND_ERR_") && code.endsWith("TIMEOUT")))
    return `no answer within ${GATEWAY_TIMEOUT_MS / 1000} s`;
  return code ? `could not connect (${code})` : "could not connect";
}
