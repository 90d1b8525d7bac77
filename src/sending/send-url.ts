import type { DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import { hashToken, newToken } from "../db/ids.js";

/**
 * The capability URL of a workspace: `{PUBLIC_URL}/hooks/send/{token}` sends messages without
 * an API key. Its token is stored hashed like API keys, so the full URL is shown once, when it
 * is generated; afterwards only its beginning (`url_hint`) is known.
 */
export const sendUrl = (publicUrl: string, token: string) => `${publicUrl}/hooks/send/${token}`;

export interface SendUrlView {
  configured: boolean;
  url_hint: string | null;
  created_at: string | null;
}

/** Generates the workspace's send URL; the one before stops working at once. */
export async function regenerateSendUrl(db: DB, clock: Clock, workspaceId: string, publicUrl: string): Promise<{ url: string; created_at: string }> {
  const token = newToken("snd", 24);
  const now = clock.now();
  const row = { workspace_id: workspaceId, token_hash: hashToken(token), token_hint: token.slice(0, 8), created_at: now };
  await db
    .insertInto("send_urls")
    .values(row)
    .onConflict((oc) => oc.column("workspace_id").doUpdateSet({ token_hash: row.token_hash, token_hint: row.token_hint, created_at: now }))
    .execute();
  return { url: sendUrl(publicUrl, token), created_at: new Date(now).toISOString() };
}

export async function getSendUrl(db: DB, workspaceId: string, publicUrl: string): Promise<SendUrlView> {
  const row = await db.selectFrom("send_urls").select(["token_hint", "created_at"]).where("workspace_id", "=", workspaceId).executeTakeFirst();
  if (!row) return { configured: false, url_hint: null, created_at: null };
  return { configured: true, url_hint: `${sendUrl(publicUrl, row.token_hint)}…`, created_at: new Date(row.created_at).toISOString() };
}

/** The workspace whose send URL carries this token, or undefined. */
export async function workspaceForSendToken(db: DB, token: string): Promise<string | undefined> {
  const row = await db.selectFrom("send_urls").select("workspace_id").where("token_hash", "=", hashToken(token)).executeTakeFirst();
  return row?.workspace_id;
}
