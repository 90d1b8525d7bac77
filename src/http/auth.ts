import type { FastifyReply, FastifyRequest } from "fastify";
import type { Threadline } from "../app.js";
import { ApiError } from "../errors.js";
import { isOperatorToken } from "../workspaces/service.js";
import { keyFor, touchKey } from "../workspaces/api-keys.js";
import { openSession, personForSession, type Opening, type SessionPerson } from "../workspaces/sessions.js";
import { forbidden, hasRole, type Role } from "../workspaces/roles.js";
import type { Actor, Who } from "../audit/index.js";
import type { AuthFailures } from "./rate-limits.js";
import { isTokenRoute, SIGN_IN_ROUTES } from "./route-kinds.js";

export const SESSION_COOKIE = "tl_session";
/**
 * Who may call a route: `operator` (the operator token), `workspace` (a person's session or an
 * API key, with `role` the least role it needs), `person` (a signed-in person only: their own
 * sessions), `public`.
 */
export type AuthKind = "operator" | "workspace" | "person" | "public";

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: AuthKind;
    /** The least role a `workspace` route needs (docs/api.md, "Roles"); owner when not said. */
    role?: Role;
  }
  interface FastifyRequest {
    workspaceId: string;
    /** Who acts: a person (by session) or an API key (by its name, with the admin role). */
    actor: Actor;
    role: Role;
    /** The signed-in person, when the credential is a session cookie. */
    person?: SessionPerson;
  }
  interface FastifyInstance {
    /** Failed authentications per client address (sign-in and inbound routes count theirs too). */
    authFailures: AuthFailures;
  }
}

/** The actor and address of a request, for the audit log. */
export const whoOf = (req: FastifyRequest): Who & { role: Role } => ({
  actor: req.actor,
  address: req.ip,
  role: req.role,
});

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

/** The signed-in person of a request's session cookie, if any (the HTML pages; a key does not open them). */
export async function personOf(app: Threadline, req: FastifyRequest): Promise<SessionPerson | undefined> {
  const session = req.cookies?.[SESSION_COOKIE];
  return session ? personForSession(app.db, app.clock, session) : undefined;
}

/** Whether the secure flag goes on the cookie: a public URL in https, or a request that came over https (behind a trusted proxy). */
const secureCookie = (app: Threadline, req: FastifyRequest) =>
  app.publicUrl().startsWith("https:") || req.protocol === "https";

/** Signs a browser in as a person: a new session (new id and token) and its http-only cookie. */
export async function signInPerson(
  app: Threadline,
  req: FastifyRequest,
  reply: FastifyReply,
  person: { id: string; workspace_id: string; full_name: string },
  method: Opening["method"],
): Promise<void> {
  const s = await openSession(app.db, app.clock, person, {
    userAgent: req.headers["user-agent"] ?? "",
    address: req.ip,
    method,
  });
  void reply.setCookie(SESSION_COOKIE, s.token, {
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    expires: new Date(s.expiresAt),
    secure: secureCookie(app, req),
  });
  void reply.setCookie(SIGNED_IN_HINT, "1", {
    httpOnly: false,
    sameSite: "lax",
    path: "/",
    expires: new Date(s.expiresAt),
    secure: secureCookie(app, req),
  });
}

export function clearSessionCookie(app: Threadline, req: FastifyRequest, reply: FastifyReply): void {
  void reply.clearCookie(SESSION_COOKIE, {
    path: "/",
    httpOnly: true,
    sameSite: "lax",
    secure: secureCookie(app, req),
  });
  void reply.clearCookie(SIGNED_IN_HINT, { path: "/", sameSite: "lax", secure: secureCookie(app, req) });
}

/**
 * A cookie the UI can read (no secret in it: the session is the http-only one) that says a
 * session was opened in this browser: without it the UI shows the sign-in page at once
 * instead of asking the API, whose 401 every browser prints as a console error.
 */
export const SIGNED_IN_HINT = "tl_signed_in";

/**
 * Authentication and roles, as an `onRequest` hook: it runs before the body is read, so a
 * request without a valid credential is answered 401 (and one whose role cannot do the
 * action 403) and nothing it sent is parsed. A wrong credential counts against the client
 * address (`AuthFailures`), which is checked first. A session is read from the database on
 * every request: a removed person or an ended session is signed out at its next request.
 */
export function authHook(app: Threadline, failures: AuthFailures) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (presentsCredential(req)) failures.check(req, reply);
    const kind = req.routeOptions.config?.auth ?? "public";
    if (kind === "public") return;
    const token = bearer(req);
    if (kind === "operator") {
      if (!token) throw new ApiError("UNAUTHORIZED", "Send the operator token as Authorization: Bearer <token>.");
      if (!(await isOperatorToken(app.db, app.config.adminToken, token))) {
        if (await keyFor(app.db, token))
          throw new ApiError(
            "FORBIDDEN",
            "This needs the operator token (printed at first start); a workspace API key cannot do it.",
          );
        failures.failed(req);
        throw new ApiError("UNAUTHORIZED", "The operator token is not valid.");
      }
      return;
    }
    const cookie = req.cookies?.[SESSION_COOKIE];
    if (token) {
      const key = await keyFor(app.db, token);
      if (!key) {
        failures.failed(req);
        throw new ApiError("UNAUTHORIZED", "The API key is not valid (it may have been revoked).");
      }
      if (kind === "person")
        throw new ApiError("FORBIDDEN", "This is about a signed-in person (their sessions); an API key has none.");
      await touchKey(app.db, app.clock, key.id);
      req.workspaceId = key.workspaceId;
      req.actor = { type: "api_key", id: key.id, name: key.name };
      req.role = "admin";
    } else if (cookie) {
      const person = await personForSession(app.db, app.clock, cookie);
      if (!person) {
        failures.failed(req);
        // An ended session is dropped, so the browser stops presenting it (and counting failures).
        clearSessionCookie(app, req, reply);
        throw new ApiError(
          "UNAUTHORIZED",
          "Your session has ended (signed out, expired, or removed from the workspace); sign in again.",
        );
      }
      req.workspaceId = person.workspaceId;
      req.actor = { type: "person", id: person.teammate.id, name: person.teammate.full_name };
      req.role = person.teammate.role;
      req.person = person;
    } else {
      throw new ApiError("UNAUTHORIZED", "Sign in, or send a workspace API key as Authorization: Bearer <key>.");
    }
    const needed = kind === "person" ? "member" : (req.routeOptions.config?.role ?? "owner");
    if (!hasRole(req.role, needed)) throw forbidden(needed, req.role);
  };
}
