import type { DB } from "../db/index.js";
import { cached } from "../db/cache.js";
import { newId, newToken } from "../db/ids.js";
import { ApiError, invalid, notFound } from "../errors.js";
import type { Clock } from "../clock/index.js";
import { findTeammateByEmail } from "../workspaces/teammates.js";
import { adapterFor } from "../sources/index.js";
import { SourceInputError, type SourceAccount } from "../sources/types.js";

import { SOURCES, type Account, type Connection } from "./schemas.js";

export { SOURCES };
export type Source = (typeof SOURCES)[number];

/** Config keys whose values are secrets: never answered back in full. */
const SECRET_KEYS = new Set(["app_secret", "access_token", "api_key", "hmac_key", "verify_token"]);

export interface AccountRow {
  id: string;
  workspace_id: string;
  phone: string;
  source: string;
  source_config: string;
  inbound_token: string;
  created_at: number;
  owner_teammate_id: string;
  send_pause_ms: number | null;
  full_name: string;
  email: string;
}

/** What an account read answers as `connection` (accounts/connection.ts keeps it). */
export type ConnectionView = Connection;

/** An account as the API answers it (accounts/schemas.ts). */
export type AccountView = Account;

/** A hint of a secret (its first 3 characters), and only when that leaves most of it hidden. */
export function maskSecret(value: string): string {
  return value.length >= 12 ? `${value.slice(0, 3)}…` : "…";
}

export const E164 = /^\+[1-9]\d{6,14}$/;

const NO_CONNECTION: ConnectionView = { state: "unknown", since: null, reason: null, last_message_at: null };

export function accountView(
  row: AccountRow,
  publicUrl: string,
  connection: ConnectionView = NO_CONNECTION,
): AccountView {
  const config = JSON.parse(row.source_config) as Record<string, unknown>;
  const shown: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config))
    shown[k] = SECRET_KEYS.has(k) && typeof v === "string" ? maskSecret(v) : v;
  return {
    id: row.id,
    phone: row.phone,
    full_name: row.full_name,
    email: row.email,
    // Stored only once checked against SOURCES (createAccount).
    source: row.source as Source,
    source_config: shown,
    inbound_url: row.source === "api" ? null : `${publicUrl}/inbound/${row.source}/${row.inbound_token}`,
    send_pause_ms: row.send_pause_ms,
    created_at: new Date(row.created_at).toISOString(),
    connection,
  };
}

export function sourceAccount(row: AccountRow): SourceAccount {
  return {
    id: row.id,
    phone: row.phone,
    source: row.source,
    source_config: JSON.parse(row.source_config),
    owner_full_name: row.full_name,
  };
}

/** The connected accounts: a deleted one is not found here (its inbound URL, sending, reads), only by the log's reads of its chats. */
export function accountQuery(db: DB) {
  return db
    .selectFrom("accounts as a")
    .innerJoin("teammates as t", "t.id", "a.owner_teammate_id")
    .select([
      "a.id",
      "a.workspace_id",
      "a.phone",
      "a.source",
      "a.source_config",
      "a.inbound_token",
      "a.created_at",
      "a.owner_teammate_id",
      "a.send_pause_ms",
      "t.full_name",
      "t.email",
    ])
    .where("a.deleted_at", "is", null);
}

export async function createAccount(
  db: DB,
  clock: Clock,
  workspaceId: string,
  input: { phone: string; owner_email: string; source: string; source_config?: unknown; send_pause_ms?: number },
): Promise<AccountRow> {
  const phone = input.phone.trim();
  if (!E164.test(phone)) throw invalid("phone", `"${input.phone}" is not an E.164 phone number such as +972500000000.`);
  if (!(SOURCES as readonly string[]).includes(input.source))
    throw invalid("source", `must be one of ${SOURCES.join(", ")}.`);
  const owner = await findTeammateByEmail(db, workspaceId, input.owner_email);
  if (!owner)
    throw invalid(
      "owner_email",
      `no teammate with e-mail ${input.owner_email} in this workspace; add the teammate first.`,
    );
  let config: Record<string, unknown> = {};
  if (input.source !== "api") {
    const adapter = adapterFor(input.source);
    if (!adapter) throw invalid("source", `source ${input.source} is not available.`);
    try {
      config = adapter.validateConfig(input.source_config ?? {});
    } catch (e) {
      if (e instanceof SourceInputError) throw new ApiError("VALIDATION_ERROR", e.message, e.field ?? "source_config");
      throw e;
    }
  }
  const clash = await db
    .selectFrom("accounts")
    .select(["id", "deleted_at", "purging"])
    .where("workspace_id", "=", workspaceId)
    .where("phone", "=", phone)
    .executeTakeFirst();
  const settings = {
    owner_teammate_id: owner.id,
    source: input.source,
    source_config: JSON.stringify(config),
    inbound_token: newToken("in", 24),
    created_at: clock.now(),
    send_pause_ms: input.send_pause_ms ?? null,
  };
  if (clash && clash.deleted_at === null)
    throw new ApiError("CONFLICT", `The account ${phone} is already connected in this workspace.`, "phone");
  if (clash && clash.purging)
    throw new ApiError(
      "CONFLICT",
      `The account ${phone} is still being deleted; connect it again in a minute.`,
      "phone",
    );
  if (clash) {
    // A deleted account's phone connected again: the account comes back under its old id, with
    // these settings and a new inbound URL, and its chats and messages are its own again (a
    // contact's next message joins their old chat). Conditional: two connects revive it once.
    const revived = await db
      .updateTable("accounts")
      .set({ ...settings, deleted_at: null })
      .where("id", "=", clash.id)
      .where("deleted_at", "is not", null)
      .where("purging", "=", 0)
      .executeTakeFirst();
    if (Number(revived.numUpdatedRows) !== 1)
      throw new ApiError("CONFLICT", `The account ${phone} is already connected in this workspace.`, "phone");
    return getAccount(db, workspaceId, clash.id);
  }
  const id = newId("acc");
  await db
    .insertInto("accounts")
    .values({ id, workspace_id: workspaceId, phone, ...settings })
    .execute();
  return getAccount(db, workspaceId, id);
}

/** A person leaves (workspaces/service.ts, inside its transaction): the accounts they owned pass to `to`. */
export async function passAccounts(tx: DB, workspaceId: string, fromTeammateId: string, to: string): Promise<void> {
  await tx
    .updateTable("accounts")
    .set({ owner_teammate_id: to })
    .where("workspace_id", "=", workspaceId)
    .where("owner_teammate_id", "=", fromTeammateId)
    .execute();
}

export async function getAccount(db: DB, workspaceId: string, id: string): Promise<AccountRow> {
  const row = await accountQuery(db)
    .where("a.workspace_id", "=", workspaceId)
    .where("a.id", "=", id)
    .executeTakeFirst();
  if (!row) throw notFound("The account");
  return row;
}

export async function listAccounts(db: DB, workspaceId: string): Promise<AccountRow[]> {
  return accountQuery(db)
    .where("a.workspace_id", "=", workspaceId)
    .orderBy("a.created_at", "desc")
    .orderBy("a.id", "desc")
    .execute();
}

/** The workspace's accounts of these phones; each kept in memory until accounts or teammates change (db/cache.ts). */
export async function accountsByPhone(db: DB, workspaceId: string, phones: string[]): Promise<Map<string, AccountRow>> {
  const found = new Map<string, AccountRow>();
  for (const phone of phones) {
    const row = await cached(db, "account_phone", `${workspaceId}\u0000${phone}`, () =>
      accountQuery(db).where("a.workspace_id", "=", workspaceId).where("a.phone", "=", phone).executeTakeFirst(),
    );
    if (row) found.set(phone, row);
  }
  return found;
}

/** The account an inbound gateway URL points at, or undefined for an unknown token; kept in memory like accountsByPhone. */
export async function accountForInbound(db: DB, source: string, token: string): Promise<AccountRow | undefined> {
  return cached(db, "account_inbound", `${source}\u0000${token}`, () =>
    accountQuery(db).where("a.inbound_token", "=", token).where("a.source", "=", source).executeTakeFirst(),
  );
}
