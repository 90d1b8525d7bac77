import type { FastifyReply, FastifyRequest } from "fastify";
import type { Threadline } from "../app.js";
import { ApiError } from "../errors.js";
import { SESSION_COOKIE } from "./auth.js";
import { SIGN_IN_ROUTES } from "./route-kinds.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The origins a browser page of Threadline runs on: the public URL's, and, when
 * THREADLINE_PUBLIC_URL is not set, the listening port on the loopback names (the default
 * public URL says `localhost`; people also open `127.0.0.1`).
 */
export function trustedOrigins(app: Threadline): () => Set<string> {
  let cached: { publicUrl: string; origins: Set<string> } | undefined;
  return () => {
    const publicUrl = app.publicUrl();
    if (cached?.publicUrl === publicUrl) return cached.origins;
    const url = new URL(publicUrl);
    const origins = new Set([url.origin]);
    if (app.config.publicUrl === undefined)
      for (const host of ["localhost", "127.0.0.1", "[::1]"]) origins.add(`http://${host}:${url.port}`);
    cached = { publicUrl, origins };
    return origins;
  };
}

/**
 * Whether a page's `Origin` is the host the request was sent to: then the page is Threadline's
 * own, opened at another address than the public URL (a LAN address, 127.0.0.1). A page of
 * another site, port or subdomain has another host than the one its request went to.
 */
function sameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * CSRF: a state-changing request that a browser could send on its own carries the session
 * cookie; the page that made it must be ours. Rule, applied before anything is parsed:
 * - Requests with an `Authorization` header are not checked (a cross-site page cannot set one),
 *   nor the inbound routes (gateways, checked by their token and signature).
 * - Otherwise a POST/PUT/PATCH/DELETE that carries the session cookie, or goes to a sign-in
 *   route, must come with an `Origin` that is Threadline's own: the public URL's, or the very
 *   host the request was sent to. Without `Origin`, it passes only
 *   when `Sec-Fetch-Site: same-origin` says the browser made it from our page; a cookie
 *   without either is refused (browsers send `Origin` on every such request: a client that
 *   does not is not a browser and should use an API key).
 * - A sign-in without a cookie, `Origin` or `Sec-Fetch-Site` (curl, scripts) passes: no
 *   browser is involved, so no one else's session can be planted.
 */
export function csrfHook(origins: () => Set<string>) {
  return async (req: FastifyRequest, _reply: FastifyReply) => {
    if (SAFE_METHODS.has(req.method) || req.headers.authorization !== undefined) return;
    const route = req.routeOptions.url ?? "";
    if (route.startsWith("/inbound/")) return;
    const hasCookie = req.cookies?.[SESSION_COOKIE] !== undefined;
    const origin = req.headers.origin;
    const fetchSite = req.headers["sec-fetch-site"];
    if (!hasCookie && !SIGN_IN_ROUTES.has(route)) return;
    if (typeof origin === "string") {
      if (origins().has(origin) || sameHost(origin, req.headers.host)) return;
      throw new ApiError(
        "CROSS_ORIGIN",
        `Requests from ${origin} may not act with a Threadline session; use an API key (Authorization: Bearer).`,
      );
    }
    if (fetchSite === "same-origin") return;
    if (fetchSite === undefined && !hasCookie) return;
    throw new ApiError(
      "CROSS_ORIGIN",
      "A request with a session cookie must come from a Threadline page (no Origin header); scripts use an API key (Authorization: Bearer).",
    );
  };
}
