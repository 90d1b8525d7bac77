import type { DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import { hashToken, newId, newToken } from "../db/ids.js";
import { ApiError, notFound } from "../errors.js";
import { audit, THREADLINE, type Actor, type Who } from "../audit/index.js";
import { checkEmail, checkName } from "./service.js";
import { findTeammateByEmail } from "./teammates.js";
import { checkManages, type Role } from "./roles.js";
import { hashPassword, checkPassword } from "./passwords.js";

export const INVITATION_TTL_MS = 7 * 24 * 3600_000;

/** Where an invitation is accepted: the token is the URL's last path segment. */
export const invitationUrl = (publicUrl: string, token: string) =>
  `${publicUrl.replace(/\/+$/, "")}/invitation/${token}`;

export interface InvitationCreated {
  id: string;
  email: string;
  full_name: string;
  role: Role;
  url: string;
  expires_at: string;
}

/** Stores an invitation (its token hashed) and answers it with its URL, the only time the token is seen. */
async function store(
  db: DB,
  clock: Clock,
  workspaceId: string,
  by: Actor,
  input: { email: string; full_name: string; role: Role },
  publicUrl: string,
): Promise<InvitationCreated> {
  const token = newToken("tli", 32);
  const id = newId("inv");
  const now = clock.now();
  // One open invitation per e-mail: a new one replaces the last.
  await db.deleteFrom("invitations").where("workspace_id", "=", workspaceId).where("email", "=", input.email).execute();
  await db
    .insertInto("invitations")
    .values({
      id,
      workspace_id: workspaceId,
      email: input.email,
      full_name: input.full_name,
      role: input.role,
      token_hash: hashToken(token),
      created_by: JSON.stringify(by),
      created_at: now,
      expires_at: now + INVITATION_TTL_MS,
    })
    .execute();
  return {
    id,
    email: input.email,
    full_name: input.full_name,
    role: input.role,
    url: invitationUrl(publicUrl, token),
    expires_at: new Date(now + INVITATION_TTL_MS).toISOString(),
  };
}

export async function createInvitation(
  db: DB,
  clock: Clock,
  workspaceId: string,
  who: Who & { role: Role },
  input: { email: string; full_name: string; role: Role },
  publicUrl: string,
): Promise<InvitationCreated> {
  const email = checkEmail("email", input.email);
  const full_name = checkName("full_name", input.full_name);
  checkManages(who.role, input.role);
  if (await findTeammateByEmail(db, workspaceId, email))
    throw new ApiError("CONFLICT", `${email} is already a person of this workspace.`, "email");
  return db.transaction().execute(async (tx) => {
    const inv = await store(tx, clock, workspaceId, who.actor, { email, full_name, role: input.role }, publicUrl);
    await audit(tx, clock, workspaceId, who, {
      action: "invitation.created",
      object: { type: "invitation", id: inv.id },
      after: { email, full_name, role: input.role },
    });
    return inv;
  });
}

/** The first owner's invitation (the operator's `POST /api/v1/workspaces`): it sets the owner's password. */
export async function ownerInvitation(
  db: DB,
  clock: Clock,
  workspaceId: string,
  owner: { email: string; full_name: string },
  publicUrl: string,
): Promise<InvitationCreated> {
  return store(
    db,
    clock,
    workspaceId,
    THREADLINE,
    { email: owner.email, full_name: owner.full_name, role: "owner" },
    publicUrl,
  );
}

export async function listInvitations(db: DB, clock: Clock, workspaceId: string) {
  const rows = await db
    .selectFrom("invitations")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .where("expires_at", ">", clock.now())
    .orderBy("created_at", "desc")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    email: r.email,
    full_name: r.full_name,
    role: r.role as Role,
    created_by: JSON.parse(r.created_by) as Actor,
    created_at: new Date(r.created_at).toISOString(),
    expires_at: new Date(r.expires_at).toISOString(),
  }));
}

export async function deleteInvitation(
  db: DB,
  clock: Clock,
  workspaceId: string,
  who: Who & { role: Role },
  id: string,
): Promise<void> {
  const row = await db
    .selectFrom("invitations")
    .select(["id", "email", "role"])
    .where("workspace_id", "=", workspaceId)
    .where("id", "=", id)
    .executeTakeFirst();
  if (!row) throw notFound("The invitation");
  checkManages(who.role, row.role as Role);
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom("invitations").where("id", "=", id).execute();
    await audit(tx, clock, workspaceId, who, {
      action: "invitation.deleted",
      object: { type: "invitation", id },
      before: { email: row.email, role: row.role },
    });
  });
}

/**
 * Accepts an invitation, once: the row is deleted as it is read, so a second use finds
 * nothing. The invited e-mail becomes a person with the invited role and the password
 * given, or, when it is already one without a password (the first owner, a teammate from
 * before people signed in), sets that person's password.
 */
export async function acceptInvitation(
  db: DB,
  clock: Clock,
  input: { token: string; password: string; full_name?: string },
  address: string,
): Promise<{ id: string; workspace_id: string; full_name: string }> {
  checkPassword(input.password);
  const fullName = input.full_name === undefined ? undefined : checkName("full_name", input.full_name);
  const hash = await hashPassword(input.password);
  return db.transaction().execute(async (tx) => {
    const inv = await tx
      .deleteFrom("invitations")
      .where("token_hash", "=", hashToken(input.token))
      .returningAll()
      .executeTakeFirst();
    if (!inv || inv.expires_at <= clock.now())
      throw new ApiError(
        "NOT_FOUND",
        "This invitation is not valid: it was used already, withdrawn, or has expired (after 7 days). Ask for a new one.",
        "token",
      );
    const existing = await findTeammateByEmail(tx, inv.workspace_id, inv.email);
    const full_name = fullName ?? existing?.full_name ?? inv.full_name;
    let id: string;
    if (existing) {
      const row = await tx
        .selectFrom("teammates")
        .select("password_hash")
        .where("id", "=", existing.id)
        .executeTakeFirstOrThrow();
      if (row.password_hash !== null)
        throw new ApiError("CONFLICT", `${inv.email} has a password already: sign in, or reset it.`, "token");
      id = existing.id;
      await tx.updateTable("teammates").set({ password_hash: hash, full_name }).where("id", "=", id).execute();
    } else {
      id = newId("tm");
      await tx
        .insertInto("teammates")
        .values({
          id,
          workspace_id: inv.workspace_id,
          full_name,
          email: inv.email,
          created_at: clock.now(),
          role: inv.role,
          password_hash: hash,
        })
        .execute();
    }
    await audit(
      tx,
      clock,
      inv.workspace_id,
      { actor: { type: "person", id, name: full_name }, address },
      {
        action: "invitation.accepted",
        object: { type: "invitation", id: inv.id },
        after: { person: id, email: inv.email, role: existing?.role ?? inv.role },
      },
    );
    return { id, workspace_id: inv.workspace_id, full_name };
  });
}
