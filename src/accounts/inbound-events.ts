/**
 * Unrecognised inbound events: what an authenticated gateway request carried that could not
 * be mapped to messages (an unknown shape, a message without a chat...). They are stored
 * instead of being refused, so a gateway never drops them after a 4xx, and listed per
 * account. Only the newest KEEP_PER_ACCOUNT of an account are kept.
 */
import type { DB } from "../db/index.js";
import type { InboundEvent, Source } from "./schemas.js";

export const KEEP_PER_ACCOUNT = 1000;

/** An unrecognised event as the API answers it (accounts/schemas.ts). */
export type InboundEventView = InboundEvent;

export async function recordInboundEvent(
  db: DB,
  e: { workspaceId: string; accountId: string; source: string; reason: string; body: string; at: number },
): Promise<void> {
  await db
    .insertInto("inbound_events")
    .values({
      workspace_id: e.workspaceId,
      account_id: e.accountId,
      source: e.source,
      reason: e.reason,
      body: e.body,
      received_at: e.at,
    })
    .execute();
  // The oldest beyond the newest KEEP_PER_ACCOUNT go. Run after the insert is committed (not
  // in its transaction): the last of concurrent requests then sees every insert and trims
  // to exactly KEEP_PER_ACCOUNT.
  const cut = await db
    .selectFrom("inbound_events")
    .select("id")
    .where("account_id", "=", e.accountId)
    .orderBy("id", "desc")
    .offset(KEEP_PER_ACCOUNT)
    .limit(1)
    .executeTakeFirst();
  if (cut)
    await db.deleteFrom("inbound_events").where("account_id", "=", e.accountId).where("id", "<=", cut.id).execute();
}

/** An account's unrecognised events, newest first; `before` is the id of the last one of the previous page. */
export async function listInboundEvents(
  db: DB,
  accountId: string,
  limit: number,
  before?: number,
): Promise<InboundEventView[]> {
  let q = db.selectFrom("inbound_events").selectAll().where("account_id", "=", accountId);
  if (before !== undefined) q = q.where("id", "<", before);
  const rows = await q.orderBy("id", "desc").limit(limit).execute();
  return rows.map((r) => ({
    id: String(r.id),
    account_id: r.account_id,
    source: r.source as Source,
    reason: r.reason,
    body: r.body,
    received_at: new Date(Number(r.received_at)).toISOString(),
  }));
}
