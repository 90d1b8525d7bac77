import type { DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import { hashToken, newId, newToken } from "../db/ids.js";
import { ApiError, notFound } from "../errors.js";
import { audit, type Who } from "../audit/index.js";
import { hashPassword, verifyPassword, checkPassword } from "./passwords.js";
import { normalizeEmail, type TeammateView } from "./teammates.js";
import type { Role } from "./roles.js";

export const SESSION_TTL_MS = 30 * 24 * 3600_000;
/** How long a one-time sign-in link and a password-reset link stay valid. */
export const LINK_TTL_MS = 3600_000;
/** The same e-mail can be a person of a few workspaces; a sign-in tries at most this many. */
const MAX_WORKSPACES_PER_EMAIL = 5;

/** A signed-in person as a request sees them. */
export interface SessionPerson {
  sessionId: string;
  workspaceId: string;
  teammate: TeammateView;
  workspaceName: string;
}

/** What a session records of the browser that opened it (shown in `GET /api/v1/me/sessions`). */
export interface Opening {
  userAgent: string;
  address: string;
  method: "password" | "link" | "reset" | "invitation" | "sso";
}

/** The person of a session cookie; read on every request, so a deleted session or person is signed out at once. */
export async function personForSession(db: DB, clock: Clock, token: string): Promise<SessionPerson | undefined> {
  const row = await db
    .selectFrom("sessions as s")
    .innerJoin("teammates as t", "t.id", "s.teammate_id")
    .innerJoin("workspaces as w", "w.id", "s.workspace_id")
    .select([
      "s.id as session_id",
      "s.workspace_id",
      "t.id",
      "t.full_name",
      "t.email",
      "t.role",
      "w.name as workspace_name",
    ])
    .where("s.token_hash", "=", hashToken(token))
    .where("s.expires_at", ">", clock.now())
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    sessionId: row.session_id,
    workspaceId: row.workspace_id,
    teammate: { id: row.id, full_name: row.full_name, email: row.email, role: row.role as Role },
    workspaceName: row.workspace_name,
  };
}

/** A new session (a new id and token at every sign-in), recorded in the audit log. */
export async function openSession(
  db: DB,
  clock: Clock,
  person: { id: string; workspace_id: string; full_name: string },
  opening: Opening,
): Promise<{ token: string; expiresAt: number }> {
  const token = newToken("tls", 32);
  const now = clock.now();
  const id = newId("ses");
  const expiresAt = now + SESSION_TTL_MS;
  await db
    .insertInto("sessions")
    .values({
      id,
      token_hash: hashToken(token),
      workspace_id: person.workspace_id,
      teammate_id: person.id,
      created_at: now,
      expires_at: expiresAt,
      user_agent: opening.userAgent.slice(0, 300),
      address: opening.address,
      method: opening.method,
    })
    .execute();
  await audit(
    db,
    clock,
    person.workspace_id,
    { actor: { type: "person", id: person.id, name: person.full_name }, address: opening.address },
    {
      action: "person.signed_in",
      object: { type: "session", id },
      after: { method: opening.method },
    },
  );
  return { token, expiresAt };
}

interface PersonRow {
  id: string;
  workspace_id: string;
  full_name: string;
  email: string;
  role: string;
  password_hash: string | null;
}

async function peopleByEmail(db: DB, email: string, workspaceId?: string): Promise<PersonRow[]> {
  let q = db
    .selectFrom("teammates")
    .select(["id", "workspace_id", "full_name", "email", "role", "password_hash"])
    .where("email", "=", normalizeEmail(email));
  if (workspaceId) q = q.where("workspace_id", "=", workspaceId);
  // Newest first: of the workspaces an e-mail is a person of, the one joined last is tried first.
  return q.orderBy("created_at", "desc").limit(MAX_WORKSPACES_PER_EMAIL).execute();
}

/**
 * E-mail and password: the person whose password matches (of the workspaces that e-mail is
 * a person of), or undefined. An unknown e-mail costs a password check too, and fails the same way.
 */
export async function personByPassword(
  db: DB,
  email: string,
  password: string,
  workspaceId?: string,
): Promise<PersonRow | undefined> {
  const people = (await peopleByEmail(db, email, workspaceId)).filter((p) => p.password_hash !== null);
  if (!people.length) {
    await verifyPassword(password, undefined);
    return undefined;
  }
  for (const p of people) if (await verifyPassword(password, p.password_hash)) return p;
  return undefined;
}

/** Records a failed sign-in in the audit log of each workspace the e-mail is a person of (never the password). */
export async function recordFailedSignIn(db: DB, clock: Clock, email: string, address: string): Promise<void> {
  for (const p of await peopleByEmail(db, email)) {
    await audit(
      db,
      clock,
      p.workspace_id,
      { actor: { type: "person", id: p.id, name: p.full_name }, address },
      { action: "person.sign_in_failed", object: { type: "person", id: p.id } },
    );
  }
}

/**
 * One-time links by e-mail (`signin`: opens a session; `reset`: sets a password): a token per
 * workspace the e-mail is a person of. Answers what to send; nothing for an unknown e-mail
 * (the route answers the same either way).
 */
export async function createLinks(
  db: DB,
  clock: Clock,
  kind: "signin" | "reset",
  email: string,
): Promise<{ to: string; workspaceId: string; token: string }[]> {
  const out: { to: string; workspaceId: string; token: string }[] = [];
  const now = clock.now();
  for (const p of await peopleByEmail(db, email)) {
    const token = newToken(kind === "signin" ? "tll" : "tlr", 32);
    // One live link of a kind per person: a new request replaces the last.
    await db.deleteFrom("one_time_tokens").where("teammate_id", "=", p.id).where("kind", "=", kind).execute();
    await db
      .insertInto("one_time_tokens")
      .values({
        token_hash: hashToken(token),
        kind,
        workspace_id: p.workspace_id,
        teammate_id: p.id,
        created_at: now,
        expires_at: now + LINK_TTL_MS,
      })
      .execute();
    out.push({ to: p.email, workspaceId: p.workspace_id, token });
  }
  return out;
}

/** Uses a one-time link: deleted as it is read, so a second use (or a race) finds nothing. */
export async function useLink(db: DB, clock: Clock, kind: "signin" | "reset", token: string): Promise<PersonRow> {
  const row = await db
    .deleteFrom("one_time_tokens")
    .where("token_hash", "=", hashToken(token))
    .where("kind", "=", kind)
    .returningAll()
    .executeTakeFirst();
  if (!row || row.expires_at <= clock.now())
    throw new ApiError(
      "NOT_FOUND",
      "This link is not valid: it was used already, replaced by a newer one, or has expired. Ask for a new one.",
      "token",
    );
  const p = await db
    .selectFrom("teammates")
    .select(["id", "workspace_id", "full_name", "email", "role", "password_hash"])
    .where("id", "=", row.teammate_id)
    .executeTakeFirst();
  if (!p) throw new ApiError("NOT_FOUND", "This link is not valid: that person was removed.", "token");
  return p;
}

/** Sets a person's password; every session they had ends (a reset is often after a leak). */
export async function setPassword(db: DB, clock: Clock, person: PersonRow, password: string, who: Who): Promise<void> {
  const hash = await hashPassword(checkPassword(password));
  await db.transaction().execute(async (tx) => {
    await tx.updateTable("teammates").set({ password_hash: hash }).where("id", "=", person.id).execute();
    await tx.deleteFrom("sessions").where("teammate_id", "=", person.id).execute();
    await audit(tx, clock, person.workspace_id, who, {
      action: "person.password_set",
      object: { type: "person", id: person.id },
    });
  });
}

/** A person is removed (workspaces/service.ts, inside its transaction): their sessions and sign-in links end. */
export async function signOutEverywhere(tx: DB, teammateId: string): Promise<void> {
  await tx.deleteFrom("sessions").where("teammate_id", "=", teammateId).execute();
  await tx.deleteFrom("one_time_tokens").where("teammate_id", "=", teammateId).execute();
}

export async function listSessions(db: DB, teammateId: string, currentId: string) {
  const rows = await db
    .selectFrom("sessions")
    .selectAll()
    .where("teammate_id", "=", teammateId)
    .orderBy("created_at", "desc")
    .execute();
  return rows.map((s) => ({
    id: s.id,
    created_at: new Date(s.created_at).toISOString(),
    expires_at: new Date(s.expires_at).toISOString(),
    user_agent: s.user_agent,
    address: s.address,
    method: s.method,
    current: s.id === currentId,
  }));
}

export async function endSession(db: DB, clock: Clock, person: SessionPerson, id: string, who: Who): Promise<void> {
  const r = await db
    .deleteFrom("sessions")
    .where("id", "=", id)
    .where("teammate_id", "=", person.teammate.id)
    .executeTakeFirst();
  if (!Number(r.numDeletedRows)) throw notFound("The session");
  await audit(db, clock, person.workspaceId, who, { action: "person.session_ended", object: { type: "session", id } });
}

export async function endSessionByToken(db: DB, token: string): Promise<void> {
  await db.deleteFrom("sessions").where("token_hash", "=", hashToken(token)).execute();
}
