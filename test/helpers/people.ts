// People as tests use them: a workspace owner who set a password through the operator's
// invitation URL, invited teammates, and API calls made with a person's session cookie.
import assert from "node:assert/strict";
import type { TestServer } from "./server.js";

export const PASSWORD = "correct horse battery staple";

export interface Person {
  id: string;
  email: string;
  role: string;
  password: string;
  /** `tl_session=…`, for the Cookie header. */
  cookie: string;
}

export const cookieOf = (headers: Headers): string | undefined =>
  /tl_session=[^;]+/.exec(headers.get("set-cookie") ?? "")?.[0];

/** The token of an invitation URL (its last path segment). */
export const tokenOf = (url: string): string => new URL(url).pathname.split("/").pop()!;

/** Accepts an invitation through the API: the person's session cookie and who they are. */
export async function accept(server: TestServer, url: string, password = PASSWORD, fullName?: string): Promise<Person> {
  const r = await server.api("POST", "/api/v1/invitations/accept", {
    body: { token: tokenOf(url), password, ...(fullName ? { full_name: fullName } : {}) },
  });
  assert.equal(r.status, 200, r.text);
  const cookie = cookieOf(r.headers);
  assert.ok(cookie, "accepting signs in");
  return { id: r.json.id, email: r.json.email, role: r.json.role, password, cookie };
}

/** The workspace owner, signed in: the operator's `owner_invitation_url` accepted with a password. */
export function ownerOf(server: TestServer, ws: { owner_invitation_url: string }): Promise<Person> {
  return accept(server, ws.owner_invitation_url);
}

/** Invites `email` with `role` (as `by`) and accepts: the new person, signed in. */
export async function invite(
  server: TestServer,
  by: Person,
  email: string,
  role: string,
  fullName = email.split("@")[0]!,
): Promise<Person> {
  const r = await as(server, by, "POST", "/api/v1/invitations", { email, full_name: fullName, role });
  assert.equal(r.status, 201, r.text);
  return accept(server, r.json.url);
}

/** A request with a person's session cookie, from Threadline's own page (the CSRF rule). */
export function as(server: TestServer, who: { cookie: string }, method: string, path: string, body?: unknown) {
  return server.api(method, path, { body, headers: { cookie: who.cookie, origin: new URL(server.url).origin } });
}

/** Signs in with e-mail and password through the API. */
export async function signInApi(server: TestServer, email: string, password: string, workspaceId?: string) {
  const r = await server.api("POST", "/api/v1/session", {
    body: { email, password, ...(workspaceId ? { workspace_id: workspaceId } : {}) },
  });
  return { ...r, cookie: cookieOf(r.headers) };
}

/** The workspaces whose owner has set a password already (their invitation is used once). */
const ownersSet = new Map<string, Promise<unknown>>();

/** Sets the owner's password through the operator's invitation URL, once per workspace; answers how to sign in. */
export async function ownerPassword(
  server: TestServer,
  ws: { owner_invitation_url: string; owner: { email: string } },
): Promise<{ email: string; password: string }> {
  if (!ownersSet.has(ws.owner_invitation_url))
    ownersSet.set(ws.owner_invitation_url, accept(server, ws.owner_invitation_url));
  await ownersSet.get(ws.owner_invitation_url);
  return { email: ws.owner.email, password: PASSWORD };
}

/** A new session cookie of the workspace's owner (`tl_session=…`). */
export async function ownerCookie(
  server: TestServer,
  ws: { id: string; owner_invitation_url: string; owner: { email: string } },
): Promise<string> {
  const { email, password } = await ownerPassword(server, ws);
  // Tests give many workspaces the same owner e-mail: the workspace is named.
  const r = await signInApi(server, email, password, ws.id);
  assert.equal(r.status, 200, r.text);
  return r.cookie!;
}
