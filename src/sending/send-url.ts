import type { DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import { newToken } from "../db/ids.js";

/**
 * The capability URL of a workspace: `{PUBLIC_URL}/hooks/send/{token}` sends messages without
 * an API key. Like an account's inbound URL (a credential a tool keeps in its settings and the
 * UI shows again), its token is stored as it is, so `GET /api/v1/send-url` answers the URL.
 */
export const sendUrl = (publicUrl: string, token: string) => `${publicUrl}/hooks/send/${token}`;

export interface SendUrlView {
  url: string | null;
  created_at: string | null;
}

/** Generates the workspace's send URL; the one before stops working at once. */
export async function regenerateSendUrl(
  db: DB,
  clock: Clock,
  workspaceId: string,
  publicUrl: string,
): Promise<{ url: string; created_at: string }> {
  const token = newToken("snd", 24);
  const now = clock.now();
  await db
    .insertInto("send_urls")
    .values({ workspace_id: workspaceId, token, created_at: now })
    .onConflict((oc) => oc.column("workspace_id").doUpdateSet({ token, created_at: now }))
    .execute();
  return { url: sendUrl(publicUrl, token), created_at: new Date(now).toISOString() };
}

export async function getSendUrl(db: DB, workspaceId: string, publicUrl: string): Promise<SendUrlView> {
  const row = await db
    .selectFrom("send_urls")
    .select(["token", "created_at"])
    .where("workspace_id", "=", workspaceId)
    .executeTakeFirst();
  if (!row) return { url: null, created_at: null };
  return { url: sendUrl(publicUrl, row.token), created_at: new Date(row.created_at).toISOString() };
}

/** The workspace whose send URL carries this token, or undefined. */
export async function workspaceForSendToken(db: DB, token: string): Promise<string | undefined> {
  const row = await db.selectFrom("send_urls").select("workspace_id").where("token", "=", token).executeTakeFirst();
  return row?.workspace_id;
}
