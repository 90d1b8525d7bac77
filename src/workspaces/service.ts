import type { DB } from "../db/index.js";
import { hashToken, newId, newToken } from "../db/ids.js";
import { ApiError, invalid, notFound } from "../errors.js";
import type { Clock } from "../clock/index.js";
import { audit, THREADLINE, type Who } from "../audit/index.js";
import { checkManages, type Role } from "./roles.js";
import { signOutEverywhere } from "./sessions.js";
import { unassignChats } from "../timeline/service.js";
import { passAccounts } from "../accounts/service.js";
import { findTeammateByEmail, normalizeEmail, TEAMMATE_COLUMNS, type TeammateView } from "./teammates.js";

export interface WorkspaceView {
  id: string;
  name: string;
  timezone: string;
  owner: TeammateView;
}

export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function checkEmail(field: string, email: string): string {
  const e = normalizeEmail(email);
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(e)) throw invalid(field, `"${email}" is not an e-mail address.`);
  return e;
}

export function checkName(field: string, name: string): string {
  const n = name.trim();
  if (!n) throw invalid(field, "must not be empty.");
  return n;
}

export async function createWorkspace(
  db: DB,
  clock: Clock,
  input: { name: string; owner: { full_name: string; email: string }; timezone?: string },
): Promise<WorkspaceView & { api_key: string }> {
  // The owner is a person without a password yet: the operator's answer adds an invitation URL to set one.
  const name = checkName("name", input.name);
  const fullName = checkName("owner.full_name", input.owner.full_name);
  const email = checkEmail("owner.email", input.owner.email);
  const timezone = input.timezone ?? "UTC";
  if (!isValidTimezone(timezone))
    throw invalid("timezone", `"${timezone}" is not an IANA time zone such as Europe/Paris.`);
  const now = clock.now();
  const id = newId("ws");
  const ownerId = newId("tm");
  const apiKey = newToken("tlk");
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto("workspaces")
      .values({ id, name, timezone, owner_teammate_id: ownerId, created_at: now })
      .execute();
    await tx
      .insertInto("teammates")
      .values({
        id: ownerId,
        workspace_id: id,
        full_name: fullName,
        email,
        created_at: now,
        role: "owner",
        password_hash: null,
      })
      .execute();
    const keyId = newId("key");
    await tx
      .insertInto("api_keys")
      .values({
        id: keyId,
        workspace_id: id,
        key_hash: hashToken(apiKey),
        created_at: now,
        name: DEFAULT_KEY,
        created_by: JSON.stringify(THREADLINE),
      })
      .execute();
    await audit(
      tx,
      clock,
      id,
      { actor: THREADLINE },
      {
        action: "workspace.created",
        object: { type: "workspace", id },
        after: { name, timezone, owner: { id: ownerId, email } },
      },
    );
  });
  return { id, name, timezone, owner: { id: ownerId, full_name: fullName, email, role: "owner" }, api_key: apiKey };
}

/** The name of the key a workspace is created with (and of the key `POST /api/v1/workspace/api_key` replaces). */
export const DEFAULT_KEY = "Default key";

export async function getWorkspace(db: DB, workspaceId: string): Promise<WorkspaceView> {
  const row = await db
    .selectFrom("workspaces as w")
    .innerJoin("teammates as t", "t.id", "w.owner_teammate_id")
    .select(["w.id", "w.name", "w.timezone", "t.id as owner_id", "t.full_name", "t.email", "t.role"])
    .where("w.id", "=", workspaceId)
    .where("w.deleted_at", "is", null)
    .executeTakeFirst();
  if (!row) throw notFound("The workspace");
  return {
    id: row.id,
    name: row.name,
    timezone: row.timezone,
    owner: { id: row.owner_id, full_name: row.full_name, email: row.email, role: row.role as Role },
  };
}

export async function updateWorkspace(
  db: DB,
  clock: Clock,
  workspaceId: string,
  who: Who,
  patch: { name?: string; timezone?: string },
): Promise<WorkspaceView> {
  const values: { name?: string; timezone?: string } = {};
  if (patch.name !== undefined) values.name = checkName("name", patch.name);
  if (patch.timezone !== undefined) {
    if (!isValidTimezone(patch.timezone))
      throw invalid("timezone", `"${patch.timezone}" is not an IANA time zone such as Europe/Paris.`);
    values.timezone = patch.timezone;
  }
  if (Object.keys(values).length) {
    const before = await getWorkspace(db, workspaceId);
    await db.updateTable("workspaces").set(values).where("id", "=", workspaceId).execute();
    await audit(db, clock, workspaceId, who, {
      action: "workspace.updated",
      object: { type: "workspace", id: workspaceId },
      before: { name: before.name, timezone: before.timezone },
      after: values,
    });
  }
  return getWorkspace(db, workspaceId);
}

/** `PATCH /api/v1/workspace {retention_days}`, checked by retention/index.ts (`checkRetentionDays`), which prunes by it. */
export async function setRetentionDays(db: DB, workspaceId: string, days: number | null): Promise<void> {
  await db.updateTable("workspaces").set({ retention_days: days }).where("id", "=", workspaceId).execute();
}

/**
 * The operator token: from THREADLINE_ADMIN_TOKEN, or generated once and kept (hashed)
 * in the database. Returns the token when it was generated now, so it can be printed.
 */
export async function ensureOperatorToken(db: DB, fromEnv: string | undefined): Promise<{ generated?: string }> {
  if (fromEnv) return {};
  const row = await db.selectFrom("meta").select("value").where("key", "=", "operator_token_hash").executeTakeFirst();
  if (row) return {};
  const token = newToken("tlo");
  await db
    .insertInto("meta")
    .values({ key: "operator_token_hash", value: hashToken(token) })
    .execute();
  return { generated: token };
}

export async function isOperatorToken(db: DB, fromEnv: string | undefined, token: string): Promise<boolean> {
  if (fromEnv) return hashToken(token) === hashToken(fromEnv);
  const row = await db.selectFrom("meta").select("value").where("key", "=", "operator_token_hash").executeTakeFirst();
  return row !== undefined && row.value === hashToken(token);
}

export async function createTeammate(
  db: DB,
  clock: Clock,
  workspaceId: string,
  who: Who & { role: Role },
  input: { full_name: string; email: string; role?: Role },
): Promise<TeammateView> {
  const full_name = checkName("full_name", input.full_name);
  const email = checkEmail("email", input.email);
  const role = input.role ?? "member";
  checkManages(who.role, role);
  const existing = await findTeammateByEmail(db, workspaceId, email);
  if (existing)
    throw new ApiError("CONFLICT", `A teammate with e-mail ${email} already exists in this workspace.`, "email");
  const id = newId("tm");
  await db
    .insertInto("teammates")
    .values({ id, workspace_id: workspaceId, full_name, email, created_at: clock.now(), role, password_hash: null })
    .execute();
  await audit(db, clock, workspaceId, who, {
    action: "person.created",
    object: { type: "person", id },
    after: { full_name, email, role },
  });
  return { id, full_name, email, role };
}

export async function listTeammates(db: DB, workspaceId: string): Promise<TeammateView[]> {
  const rows = await db
    .selectFrom("teammates")
    .select(TEAMMATE_COLUMNS)
    .where("workspace_id", "=", workspaceId)
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
  return rows as TeammateView[];
}

export async function getTeammate(db: DB, workspaceId: string, id: string): Promise<TeammateView> {
  const row = await db
    .selectFrom("teammates")
    .select(TEAMMATE_COLUMNS)
    .where("workspace_id", "=", workspaceId)
    .where("id", "=", id)
    .executeTakeFirst();
  if (!row) throw notFound("The teammate");
  return row as TeammateView;
}

/**
 * Another owner than `exceptId`, or undefined: a workspace keeps at least one owner, and
 * `workspaces.owner_teammate_id` (who gets the alert e-mails) always names one.
 */
async function otherOwner(db: DB, workspaceId: string, exceptId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom("teammates")
    .select("id")
    .where("workspace_id", "=", workspaceId)
    .where("role", "=", "owner")
    .where("id", "!=", exceptId)
    .orderBy("created_at")
    .executeTakeFirst();
  return row?.id;
}

const LAST_OWNER = "A workspace keeps at least one owner: make someone else owner first.";

/** Changes a person's role (owners only give or take the owner role; the last owner stays). */
export async function setTeammateRole(
  db: DB,
  clock: Clock,
  workspaceId: string,
  who: Who & { role: Role },
  id: string,
  role: Role,
): Promise<TeammateView> {
  const t = await getTeammate(db, workspaceId, id);
  checkManages(who.role, t.role);
  checkManages(who.role, role);
  if (t.role === role) return t;
  await db.transaction().execute(async (tx) => {
    if (t.role === "owner") {
      const other = await otherOwner(tx, workspaceId, id);
      if (!other) throw new ApiError("CONFLICT", LAST_OWNER, "role");
      await tx
        .updateTable("workspaces")
        .set({ owner_teammate_id: other })
        .where("id", "=", workspaceId)
        .where("owner_teammate_id", "=", id)
        .execute();
    }
    await tx.updateTable("teammates").set({ role }).where("id", "=", id).execute();
    await audit(tx, clock, workspaceId, who, {
      action: "person.role_changed",
      object: { type: "person", id },
      before: { role: t.role },
      after: { role },
    });
  });
  return { ...t, role };
}

/**
 * Removes a person: every session of theirs ends at once (the sessions are deleted, and each
 * request reads its session), their chats become unassigned, the accounts they owned pass
 * to the workspace's owner, and their pending sign-in links die.
 */
export async function removeTeammate(
  db: DB,
  clock: Clock,
  workspaceId: string,
  who: Who & { role: Role },
  id: string,
): Promise<void> {
  const t = await getTeammate(db, workspaceId, id);
  checkManages(who.role, t.role);
  await db.transaction().execute(async (tx) => {
    let owner = (
      await tx
        .selectFrom("workspaces")
        .select("owner_teammate_id")
        .where("id", "=", workspaceId)
        .executeTakeFirstOrThrow()
    ).owner_teammate_id;
    if (t.role === "owner" || owner === id) {
      const other = await otherOwner(tx, workspaceId, id);
      if (!other) throw new ApiError("CONFLICT", LAST_OWNER);
      if (owner === id)
        await tx.updateTable("workspaces").set({ owner_teammate_id: other }).where("id", "=", workspaceId).execute();
      owner = other;
    }
    await signOutEverywhere(tx, id);
    await unassignChats(tx, workspaceId, id);
    await passAccounts(tx, workspaceId, id, owner);
    await tx.deleteFrom("teammates").where("id", "=", id).execute();
    await audit(tx, clock, workspaceId, who, {
      action: "person.removed",
      object: { type: "person", id },
      before: { full_name: t.full_name, email: t.email, role: t.role },
    });
  });
}

/**
 * The operator's list of workspaces, in creation order (ids are time-ordered), `limit` a
 * page, after the id `after` (the previous page's last): paged in the database, however many.
 */
export async function listWorkspaces(
  db: DB,
  opts: { limit: number; after?: string },
): Promise<{ items: WorkspaceView[]; last: string | undefined; more: boolean }> {
  let q = db
    .selectFrom("workspaces as w")
    .innerJoin("teammates as t", "t.id", "w.owner_teammate_id")
    .select(["w.id", "w.name", "w.timezone", "t.id as owner_id", "t.full_name", "t.email", "t.role"])
    .where("w.deleted_at", "is", null)
    .orderBy("w.id", "asc")
    .limit(opts.limit + 1);
  if (opts.after !== undefined) q = q.where("w.id", ">", opts.after);
  const rows = await q.execute();
  const page = rows.slice(0, opts.limit);
  return {
    items: page.map((row) => ({
      id: row.id,
      name: row.name,
      timezone: row.timezone,
      owner: { id: row.owner_id, full_name: row.full_name, email: row.email, role: row.role as Role },
    })),
    last: page.at(-1)?.id,
    more: rows.length > opts.limit,
  };
}
