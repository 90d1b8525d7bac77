import type { FastifyReply, FastifyRequest } from "fastify";
import type { Threadline } from "../app.js";
import { ApiError } from "../errors.js";
import { createSession, isOperatorToken, workspaceForApiKey, workspaceForSession } from "../workspaces/service.js";
import type { AuthFailures } from "./rate-limits.js";

export const SESSION_COOKIE = "tl_session";
/** The routes that sign a browser in (a form, the UI): their own rate limit and the CSRF rule apply without a cookie. */
export const SIGN_IN_ROUTES: ReadonlySet<string> = new Set(["/signin", "/api/v1/session"]);

export type AuthKind = "operator" | "workspace" | "public";

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: AuthKind;
  }
  interface FastifyRequest {
    workspaceId: string;
  }
  interface FastifyInstance {
    /** Failed authentications per client address (sign-in and inbound routes count theirs too). */
    authFailures: AuthFailures;
  }
}

/** Routes whose path token is the credential: gateways' inbound URLs and the capability URL to send messages. */
export const isTokenRoute = (route: string): boolean => route.startsWith("/inbound/") || route.startsWith("/hooks/send/");

/** The HTML pages that read the session cookie (a wrong one shows the sign-in form, and counts). */
export const SESSION_PAGES = new Set(["/chat/:id/messages/", "/permalink/:uuid/"]);

/**
 * A request that presents a credential to a route that checks it (an API route, a page that
 * reads the session), tries to sign in, or reaches an inbound URL: what a blocked address
 * may not do. Assets and public routes stay reachable.
 */
export function presentsCredential(req: FastifyRequest): boolean {
  const route = req.routeOptions.url ?? "";
  if (SIGN_IN_ROUTES.has(route) || isTokenRoute(route)) return true;
  const checked = (req.routeOptions.config?.auth ?? "public") !== "public" || SESSION_PAGES.has(route);
  return checked && (req.headers.authorization !== undefined || req.cookies?.[SESSION_COOKIE] !== undefined);
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

/** The workspace of a request's API key or session cookie, if any. */
export async function workspaceOf(app: Threadline, req: FastifyRequest): Promise<string | undefined> {
  const token = bearer(req);
  if (token) return workspaceForApiKey(app.db, token);
  const session = req.cookies?.[SESSION_COOKIE];
  if (session) return workspaceForSession(app.db, app.clock, session);
  return undefined;
}

/** The answer to signing in with the operator token: it is valid, but opens no workspace. */
export const OPERATOR_SIGN_IN =
  "This is the operator token: it creates workspaces, it does not open one. Create a workspace with it, then sign in with that workspace's API key.";

/** Whether a key given to sign in is the operator token (answered 403, not counted as a failed authentication). */
export function isOperatorSignIn(app: Threadline, key: string): Promise<boolean> {
  return isOperatorToken(app.db, app.config.adminToken, key.trim());
}

/**
 * Signs a browser in with a workspace API key: an http-only session cookie. Answers the
 * workspace, or undefined for a key that is not valid (nothing is set then).
 */
export async function signInWithKey(app: Threadline, reply: FastifyReply, apiKey: string): Promise<string | undefined> {
  const ws = await workspaceForApiKey(app.db, apiKey.trim());
  if (!ws) return undefined;
  const s = await createSession(app.db, app.clock, ws);
  void reply.setCookie(SESSION_COOKIE, s.token, { httpOnly: true, sameSite: "lax", path: "/", expires: new Date(s.expiresAt), secure: app.publicUrl().startsWith("https:") });
  return ws;
}

/**
 * Authentication, as an `onRequest` hook: it runs before the body is read, so a request
 * without a valid credential is answered 401 and nothing it sent is parsed. A wrong
 * credential counts against the client address (`AuthFailures`), which is checked first.
 */
export function authHook(app: Threadline, failures: AuthFailures) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (presentsCredential(req)) failures.check(req, reply);
    const kind = req.routeOptions.config?.auth ?? "public";
    if (kind === "public") return;
    if (kind === "operator") {
      const token = bearer(req);
      if (!token) throw new ApiError("UNAUTHORIZED", "Send the operator token as Authorization: Bearer <token>.");
      if (!(await isOperatorToken(app.db, app.config.adminToken, token))) {
        if (await workspaceForApiKey(app.db, token)) throw new ApiError("FORBIDDEN", "This needs the operator token (printed at first start); a workspace API key cannot do it.");
        failures.failed(req);
        throw new ApiError("UNAUTHORIZED", "The operator token is not valid.");
      }
      return;
    }
    const ws = await workspaceOf(app, req);
    if (!ws) {
      if (bearer(req) || req.cookies?.[SESSION_COOKIE]) failures.failed(req);
      // An expired session is dropped, so the browser stops presenting it (and counting failures).
      if (!bearer(req) && req.cookies?.[SESSION_COOKIE]) void reply.clearCookie(SESSION_COOKIE, { path: "/" });
      throw new ApiError(
        "UNAUTHORIZED",
        bearer(req) || req.cookies?.[SESSION_COOKIE] ? "The API key or session is not valid." : "Send a workspace API key as Authorization: Bearer <key>.",
      );
    }
    req.workspaceId = ws;
  };
}
