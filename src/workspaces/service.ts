import type { DB } from "../db/index.js";
import { cached } from "../db/cache.js";
import { hashToken, newId, newToken } from "../db/ids.js";
import { ApiError, invalid, notFound } from "../errors.js";
import type { Clock } from "../clock/index.js";

export interface TeammateView {
  id: string;
  full_name: string;
  email: string;
}

export interface WorkspaceView {
  id: string;
  name: string;
  timezone: string;
  owner: TeammateView;
}

const SESSION_TTL_MS = 30 * 24 * 3600_000;

export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function checkEmail(field: string, email: string): string {
  const e = normalizeEmail(email);
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(e)) throw invalid(field, `"${email}" is not an e-mail address.`);
  return e;
}

function checkName(field: string, name: string): string {
  const n = name.trim();
  if (!n) throw invalid(field, "must not be empty.");
  return n;
}

export async function createWorkspace(
  db: DB,
  clock: Clock,
  input: { name: string; owner: { full_name: string; email: string }; timezone?: string },
): Promise<WorkspaceView & { api_key: string }> {
  const name = checkName("name", input.name);
  const fullName = checkName("owner.full_name", input.owner.full_name);
  const email = checkEmail("owner.email", input.owner.email);
  const timezone = input.timezone ?? "UTC";
  if (!isValidTimezone(timezone)) throw invalid("timezone", `"${timezone}" is not an IANA time zone such as Europe/Paris.`);
  const now = clock.now();
  const id = newId("ws");
  const ownerId = newId("tm");
  const apiKey = newToken("tlk");
  await db.transaction().execute(async (tx) => {
    await tx.insertInto("workspaces").values({ id, name, timezone, owner_teammate_id: ownerId, created_at: now }).execute();
    await tx.insertInto("teammates").values({ id: ownerId, workspace_id: id, full_name: fullName, email, created_at: now }).execute();
    await tx.insertInto("api_keys").values({ id: newId("key"), workspace_id: id, key_hash: hashToken(apiKey), created_at: now }).execute();
  });
  return { id, name, timezone, owner: { id: ownerId, full_name: fullName, email }, api_key: apiKey };
}

export async function getWorkspace(db: DB, workspaceId: string): Promise<WorkspaceView> {
  const row = await db
    .selectFrom("workspaces as w")
    .innerJoin("teammates as t", "t.id", "w.owner_teammate_id")
    .select(["w.id", "w.name", "w.timezone", "t.id as owner_id", "t.full_name", "t.email"])
    .where("w.id", "=", workspaceId)
    .executeTakeFirst();
  if (!row) throw notFound("The workspace");
  return { id: row.id, name: row.name, timezone: row.timezone, owner: { id: row.owner_id, full_name: row.full_name, email: row.email } };
}

export async function updateWorkspace(db: DB, workspaceId: string, patch: { name?: string; timezone?: string }): Promise<WorkspaceView> {
  const values: { name?: string; timezone?: string } = {};
  if (patch.name !== undefined) values.name = checkName("name", patch.name);
  if (patch.timezone !== undefined) {
    if (!isValidTimezone(patch.timezone)) throw invalid("timezone", `"${patch.timezone}" is not an IANA time zone such as Europe/Paris.`);
    values.timezone = patch.timezone;
  }
  if (Object.keys(values).length) await db.updateTable("workspaces").set(values).where("id", "=", workspaceId).execute();
  return getWorkspace(db, workspaceId);
}

/** The workspace of an API key; kept in memory until api_keys changes (db/cache.ts). */
export async function workspaceForApiKey(db: DB, key: string): Promise<string | undefined> {
  const hash = hashToken(key);
  return cached(db, "api_key", hash, async () => {
    const row = await db.selectFrom("api_keys").select("workspace_id").where("key_hash", "=", hash).executeTakeFirst();
    return row?.workspace_id;
  });
}

/** A new API key for the workspace; the ones it had stop working at once, in every process. */
export async function rotateApiKey(db: DB, clock: Clock, workspaceId: string): Promise<{ api_key: string }> {
  const apiKey = newToken("tlk");
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom("api_keys").where("workspace_id", "=", workspaceId).execute();
    await tx.insertInto("api_keys").values({ id: newId("key"), workspace_id: workspaceId, key_hash: hashToken(apiKey), created_at: clock.now() }).execute();
  });
  return { api_key: apiKey };
}

export async function createSession(db: DB, clock: Clock, workspaceId: string): Promise<{ token: string; expiresAt: number }> {
  const token = newToken("tls", 32);
  const now = clock.now();
  const expiresAt = now + SESSION_TTL_MS;
  await db.insertInto("sessions").values({ token_hash: hashToken(token), workspace_id: workspaceId, created_at: now, expires_at: expiresAt }).execute();
  return { token, expiresAt };
}

export async function workspaceForSession(db: DB, clock: Clock, token: string): Promise<string | undefined> {
  const row = await db
    .selectFrom("sessions")
    .select("workspace_id")
    .where("token_hash", "=", hashToken(token))
    .where("expires_at", ">", clock.now())
    .executeTakeFirst();
  return row?.workspace_id;
}

export async function deleteSession(db: DB, token: string): Promise<void> {
  await db.deleteFrom("sessions").where("token_hash", "=", hashToken(token)).execute();
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
  await db.insertInto("meta").values({ key: "operator_token_hash", value: hashToken(token) }).execute();
  return { generated: token };
}

export async function isOperatorToken(db: DB, fromEnv: string | undefined, token: string): Promise<boolean> {
  if (fromEnv) return hashToken(token) === hashToken(fromEnv);
  const row = await db.selectFrom("meta").select("value").where("key", "=", "operator_token_hash").executeTakeFirst();
  return row !== undefined && row.value === hashToken(token);
}

export async function createTeammate(db: DB, clock: Clock, workspaceId: string, input: { full_name: string; email: string }): Promise<TeammateView> {
  const full_name = checkName("full_name", input.full_name);
  const email = checkEmail("email", input.email);
  const existing = await findTeammateByEmail(db, workspaceId, email);
  if (existing) throw new ApiError("CONFLICT", `A teammate with e-mail ${email} already exists in this workspace.`, "email");
  const id = newId("tm");
  await db.insertInto("teammates").values({ id, workspace_id: workspaceId, full_name, email, created_at: clock.now() }).execute();
  return { id, full_name, email };
}

export async function listTeammates(db: DB, workspaceId: string): Promise<TeammateView[]> {
  return db.selectFrom("teammates").select(["id", "full_name", "email"]).where("workspace_id", "=", workspaceId).orderBy("created_at", "desc").orderBy("id", "desc").execute();
}

export async function findTeammateByEmail(db: DB, workspaceId: string, email: string): Promise<TeammateView | undefined> {
  return db
    .selectFrom("teammates")
    .select(["id", "full_name", "email"])
    .where("workspace_id", "=", workspaceId)
    .where("email", "=", normalizeEmail(email))
    .executeTakeFirst();
}

/**
 * The operator's list of workspaces, in creation order (ids are time-ordered), `limit` a
 * page, after the id `after` (the previous page's last): paged in the database, however many.
 */
export async function listWorkspaces(db: DB, opts: { limit: number; after?: string }): Promise<{ items: WorkspaceView[]; last: string | undefined; more: boolean }> {
  let q = db
    .selectFrom("workspaces as w")
    .innerJoin("teammates as t", "t.id", "w.owner_teammate_id")
    .select(["w.id", "w.name", "w.timezone", "t.id as owner_id", "t.full_name", "t.email"])
    .orderBy("w.id", "asc")
    .limit(opts.limit + 1);
  if (opts.after !== undefined) q = q.where("w.id", ">", opts.after);
  const rows = await q.execute();
  const page = rows.slice(0, opts.limit);
  return {
    items: page.map((row) => ({ id: row.id, name: row.name, timezone: row.timezone, owner: { id: row.owner_id, full_name: row.full_name, email: row.email } })),
    last: page.at(-1)?.id,
    more: rows.length > opts.limit,
  };
}
