import { isIP } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import rateLimit from "@fastify/rate-limit";
import type { RateLimits } from "../config/index.js";
import type { App } from "./fastify-app.js";
import { ApiError } from "../errors.js";
import { isTokenRoute, SIGN_IN_ROUTES } from "./route-kinds.js";

const WINDOW_MS = 60_000;

/**
 * The client a limit counts: an IPv4 address, or an IPv6 address's /64 (one client holds a
 * whole /64 and could otherwise take a fresh address for every few guesses). An IPv4-mapped
 * address counts as its IPv4 address.
 */
export function clientKey(ip: string): string {
  if (!isIP(ip) || isIP(ip) === 4) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  const [head = "", tail = ""] = ip.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  // An embedded IPv4 tail takes two groups.
  const width = right.length && right[right.length - 1]!.includes(".") ? right.length + 1 : right.length;
  const groups = ip.includes("::") ? [...left, ...Array<string>(8 - left.length - width).fill("0"), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g || "0", 16).toString(16))
    .join(":")}::/64`;
}

const rateLimited = (retryAfterS: number) =>
  new ApiError("RATE_LIMITED", `Too many requests; try again in ${retryAfterS} s (the Retry-After header says when).`);

/**
 * Failed authentications per client (`clientKey`: an address, an IPv6 /64) (a wrong API key, operator token, session or
 * inbound token). Once an address has failed `max` times in a minute, every request of it
 * that presents a credential answers 429 until the minute ends, the right key included: were
 * the right key let through, the 429s would tell a guesser which key is right.
 *
 * `@fastify/rate-limit` counts every request; it cannot count only the failed ones and
 * refuse before checking, so this one counter is kept here (a fixed window per address).
 */
export class AuthFailures {
  private byAddress = new Map<string, { count: number; resetAt: number }>();
  constructor(private max: number) {}

  /** Throws 429 (and sets Retry-After) when the address is blocked. */
  check(req: FastifyRequest, reply: FastifyReply): void {
    if (this.max === 0) return;
    const e = this.byAddress.get(clientKey(req.ip));
    const now = Date.now();
    if (!e || e.resetAt <= now || e.count < this.max) return;
    const retryAfterS = Math.ceil((e.resetAt - now) / 1000);
    void reply.header("retry-after", String(retryAfterS));
    throw rateLimited(retryAfterS);
  }

  failed(req: FastifyRequest): void {
    if (this.max === 0) return;
    const now = Date.now();
    if (this.byAddress.size > 10_000)
      for (const [k, v] of this.byAddress) if (v.resetAt <= now) this.byAddress.delete(k);
    const key = clientKey(req.ip);
    const e = this.byAddress.get(key);
    if (!e || e.resetAt <= now) this.byAddress.set(key, { count: 1, resetAt: now + WINDOW_MS });
    else e.count++;
  }
}

/**
 * Request rates (`@fastify/rate-limit`, a minute's window, runs after authentication):
 * sign-in attempts per client address, inbound requests per inbound URL token (and
 * capability-URL requests per send token), and
 * authenticated API requests per workspace (or the operator). Requests that are neither
 * are not counted here (a request without a valid credential is answered 401 and counts
 * as a failed authentication instead). A limit of 0 turns that one off.
 */
export async function registerRateLimits(f: App, limits: RateLimits): Promise<void> {
  const kindOf = (req: FastifyRequest): { key: string; max: number } | undefined => {
    const route = req.routeOptions.url ?? "";
    if (SIGN_IN_ROUTES.has(route) && req.method === "POST")
      return { key: `signin:${clientKey(req.ip)}`, max: limits.signIn };
    if (isTokenRoute(route))
      return { key: `inbound:${(req.params as { token?: string }).token ?? ""}`, max: limits.inbound };
    const auth = req.routeOptions.config?.auth;
    if (auth === "operator") return { key: "operator", max: limits.api };
    if ((auth === "workspace" || auth === "person") && req.workspaceId)
      return { key: `ws:${req.workspaceId}`, max: limits.api };
    return undefined;
  };
  await f.register(rateLimit, {
    global: true,
    timeWindow: WINDOW_MS,
    keyGenerator: (req) => kindOf(req)?.key ?? "",
    allowList: (req) => {
      const k = kindOf(req);
      return k === undefined || k.max === 0;
    },
    max: (req) => kindOf(req)?.max ?? 0,
    addHeadersOnExceeding: { "x-ratelimit-limit": false, "x-ratelimit-remaining": false, "x-ratelimit-reset": false },
    errorResponseBuilder: (_req, ctx) => rateLimited(Math.ceil(ctx.ttl / 1000)),
  });
}

/**
 * Sign-in attempts and link or reset requests per e-mail address (a fixed window a minute),
 * whatever address they come from: a guesser spread over many addresses still gets `max` a
 * minute on one person. Counted for every e-mail, known or not, so the 429 tells nothing.
 */
export class EmailLimits {
  private byEmail = new Map<string, { count: number; resetAt: number }>();
  constructor(private max: number) {}

  hit(email: string, reply: FastifyReply): void {
    if (this.max === 0) return;
    const key = email.trim().toLowerCase();
    const now = Date.now();
    if (this.byEmail.size > 10_000) for (const [k, v] of this.byEmail) if (v.resetAt <= now) this.byEmail.delete(k);
    const e = this.byEmail.get(key);
    if (!e || e.resetAt <= now) {
      this.byEmail.set(key, { count: 1, resetAt: now + WINDOW_MS });
      return;
    }
    if (++e.count <= this.max) return;
    const retryAfterS = Math.ceil((e.resetAt - now) / 1000);
    void reply.header("retry-after", String(retryAfterS));
    throw rateLimited(retryAfterS);
  }
}
