/**
 * Deleting a WhatsApp account (`DELETE /api/v1/accounts/{id}`) or a whole workspace
 * (`DELETE /api/v1/workspaces/{id}`, the operator's). Both are done in two steps:
 *
 * 1. *Mark*, in one short transaction: what lets anyone in stops at once (the account's inbound
 *    URL and sending; the workspace's keys, sessions, sign-in links, invitations, send URL and
 *    every inbound URL). Accounts, API keys, teammates and workspaces are cached tables
 *    (db/cache.ts): the write drops this process's cache, and on PostgreSQL the commit's
 *    NOTIFY drops the other processes'.
 * 2. *Sweep*, in batches of `BATCH` rows with a pause between them (db/batches.ts), so that
 *    ingest and deliveries of other workspaces never wait on one long delete.
 *
 * An account deleted without purging keeps its row, marked (`deleted_at`): its chats and
 * messages stay in the Timeline, the export, the webhooks' reads and replays, all of which
 * read the account's phone through it. Connecting its phone again revives that row
 * (accounts/service.ts). A purged account's row goes once its chats and messages went.
 *
 * What a crash leaves half done (`accounts.purging`, `workspaces.deleted_at`) is finished by
 * the next pass of every process's retention timer (at start, then hourly).
 */
import type { Logger } from "pino";
import type { DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import { BATCH, inBatches, pause } from "../db/batches.js";
import { ApiError, invalid, notFound } from "../errors.js";
import { audit, type Who } from "../audit/index.js";
import { getAccount } from "../accounts/service.js";

/** `?purge=`: `true` or `false` (default false); anything else names the field. */
export function parsePurge(raw: string | undefined): boolean {
  if (raw === undefined || raw === "" || raw === "false") return false;
  if (raw === "true") return true;
  throw invalid("purge", "must be true (delete the account's chats and messages too) or false (keep them).");
}

const NOT_SENT = "Not sent: the account was deleted.";

/**
 * Deletes an account: its inbound URL answers 404 from now on, its queued sends fail, its
 * gateway is no longer checked. Without `purge` its chats and messages stay (and stay
 * deliverable); with it they are deleted in batches before this answers.
 */
export async function deleteAccount(
  db: DB,
  clock: Clock,
  workspaceId: string,
  who: Who,
  id: string,
  purge: boolean,
): Promise<void> {
  const account = await getAccount(db, workspaceId, id);
  await db.transaction().execute(async (tx) => {
    const marked = await tx
      .updateTable("accounts")
      .set({ deleted_at: clock.now(), purging: purge ? 1 : 0 })
      .where("id", "=", id)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    // Deleted meanwhile by another request: the second delete is a 404, as after it.
    if (Number(marked.numUpdatedRows) !== 1) throw notFound("The account");
    await tx
      .updateTable("send_queue")
      .set({ status: "failed", error: NOT_SENT, claimed_by: null, claimed_until: null })
      .where("account_id", "=", id)
      .where("status", "=", "queued")
      .execute();
    await tx.deleteFrom("send_pacing").where("account_id", "=", id).execute();
    await tx.deleteFrom("account_connections").where("account_id", "=", id).execute();
    await audit(tx, clock, workspaceId, who, {
      action: "account.deleted",
      object: { type: "account", id },
      before: { phone: account.phone, source: account.source, owner_email: account.email },
      after: { purge },
    });
  });
  if (purge) await purgeAccount(db, id);
}

/**
 * Deletes an account's chats, messages and everything about them (queued sends, merged chat
 * ids, learned hidden ids, unrecognised inbound events, the webhooks' kept requests, activity
 * and parked deliveries of its chats), then its row. Messages go first, then the chats, each
 * in batches: a consumer that reads the log meanwhile finds fewer messages, never a message
 * without its chat (log/index.ts reads a message with its chat).
 */
export async function purgeAccount(
  db: DB,
  id: string,
  stopped: () => boolean = () => false,
): Promise<{ messages: number; chats: number }> {
  const account = await db.selectFrom("accounts").select("workspace_id").where("id", "=", id).executeTakeFirst();
  if (!account) return { messages: 0, chats: 0 };
  const messages = await inBatches(
    () =>
      db
        .deleteFrom("messages")
        .where("seq", "in", (eb) => eb.selectFrom("messages").select("seq").where("account_id", "=", id).limit(BATCH))
        .executeTakeFirst(),
    stopped,
  );
  const webhooks = db.selectFrom("webhooks").select("id").where("workspace_id", "=", account.workspace_id);
  let chats = 0;
  for (;;) {
    if (stopped()) return { messages, chats };
    const ids = (await db.selectFrom("chats").select("id").where("account_id", "=", id).limit(BATCH).execute()).map(
      (c) => Number(c.id),
    );
    if (ids.length === 0) break;
    const texts = ids.map(String);
    await db.transaction().execute(async (tx) => {
      await tx.deleteFrom("send_queue").where("chat_id", "in", ids).execute();
      await tx.deleteFrom("chat_aliases").where("chat_id", "in", ids).execute();
      // Through each webhook's index: the request log is kept per webhook (100 rows each).
      await tx
        .deleteFrom("webhook_requests")
        .where("webhook_id", "in", webhooks)
        .where("chat_id", "in", texts)
        .execute();
      await tx.deleteFrom("webhook_activity").where("webhook_id", "in", webhooks).where("chat_id", "in", ids).execute();
      await tx
        .deleteFrom("parked_deliveries")
        .where("webhook_id", "in", webhooks)
        .where("chat_id", "in", texts)
        .execute();
      await tx.deleteFrom("chats").where("id", "in", ids).execute();
    });
    chats += ids.length;
    await pause();
  }
  await inBatches(
    () =>
      db
        .deleteFrom("contact_ids")
        .where("account_id", "=", id)
        .where("hidden_id", "in", (eb) =>
          eb.selectFrom("contact_ids").select("hidden_id").where("account_id", "=", id).limit(BATCH),
        )
        .executeTakeFirst(),
    stopped,
  );
  await inBatches(
    () =>
      db
        .deleteFrom("send_queue")
        .where("id", "in", (eb) => eb.selectFrom("send_queue").select("id").where("account_id", "=", id).limit(BATCH))
        .executeTakeFirst(),
    stopped,
  );
  if (stopped()) return { messages, chats };
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom("chat_aliases").where("account_id", "=", id).execute();
    await tx.deleteFrom("inbound_events").where("account_id", "=", id).execute();
    await tx.deleteFrom("send_pacing").where("account_id", "=", id).execute();
    await tx.deleteFrom("account_connections").where("account_id", "=", id).execute();
    await tx.deleteFrom("accounts").where("id", "=", id).execute();
  });
  return { messages, chats };
}

/** What stops a workspace's webhooks in every process before its data goes (WebhookService.remove). */
export type RemoveWebhook = (workspaceId: string, id: string) => Promise<void>;

/**
 * The operator deletes a workspace: its webhooks are stopped (in whichever process holds
 * them) and deleted first, so nothing of it is delivered after this answers; then in one
 * transaction its keys, sessions, sign-in links, invitations, send URL and people go and its
 * inbound URLs stop; then its data is swept in batches. People are rows of one workspace
 * (the same e-mail in another workspace is another row), so its people go and the others stay.
 */
export async function deleteWorkspace(
  db: DB,
  clock: Clock,
  log: Logger,
  id: string,
  removeWebhook: RemoveWebhook,
): Promise<void> {
  const ws = await db
    .selectFrom("workspaces")
    .select(["id", "name"])
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  if (!ws) throw notFound("The workspace");
  await stopWebhooks(db, id, removeWebhook);
  const marked = await db.transaction().execute(async (tx) => {
    const r = await tx
      .updateTable("workspaces")
      .set({ deleted_at: clock.now() })
      .where("id", "=", id)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    await closeWorkspace(tx, id, clock.now());
    return true;
  });
  if (!marked) throw notFound("The workspace");
  // A webhook created between the first stop and the mark (its key still worked) stops too.
  await stopWebhooks(db, id, removeWebhook);
  log.info({ workspace: id, name: ws.name }, "the operator deleted a workspace; deleting its data");
  await sweepWorkspace(db, id);
}

async function stopWebhooks(db: DB, workspaceId: string, removeWebhook: RemoveWebhook): Promise<void> {
  for (const w of await db.selectFrom("webhooks").select("id").where("workspace_id", "=", workspaceId).execute()) {
    try {
      await removeWebhook(workspaceId, w.id);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === "NOT_FOUND")) throw e;
    }
  }
}

/** Everything that lets anyone act in or send to the workspace, gone in one transaction (repeated by a resumed sweep). */
async function closeWorkspace(tx: DB, id: string, now: number): Promise<void> {
  const keys = tx.selectFrom("api_keys").select("id").where("workspace_id", "=", id);
  await tx.deleteFrom("api_key_uses").where("key_id", "in", keys).execute();
  await tx.deleteFrom("api_keys").where("workspace_id", "=", id).execute();
  await tx.deleteFrom("sessions").where("workspace_id", "=", id).execute();
  await tx.deleteFrom("one_time_tokens").where("workspace_id", "=", id).execute();
  await tx.deleteFrom("invitations").where("workspace_id", "=", id).execute();
  await tx.deleteFrom("send_urls").where("workspace_id", "=", id).execute();
  await tx.updateTable("accounts").set({ deleted_at: now, purging: 1 }).where("workspace_id", "=", id).execute();
  // Nothing starts a consumer for a webhook left over by a crash: the sweep deletes it.
  await tx.updateTable("webhooks").set({ enabled: 0 }).where("workspace_id", "=", id).execute();
  await tx
    .updateTable("send_queue")
    .set({ status: "failed", error: NOT_SENT, claimed_by: null, claimed_until: null })
    .where("workspace_id", "=", id)
    .where("status", "=", "queued")
    .execute();
}

/** A marked workspace's data, in batches; its row last (a crash before it leaves the mark, and the next pass resumes). */
async function sweepWorkspace(db: DB, id: string, stopped: () => boolean = () => false): Promise<void> {
  for (const a of await db.selectFrom("accounts").select("id").where("workspace_id", "=", id).execute()) {
    await purgeAccount(db, a.id, stopped);
  }
  // Webhooks left over (a crash between the stop and the delete): no consumer runs them (disabled at the mark).
  for (const w of await db.selectFrom("webhooks").select("id").where("workspace_id", "=", id).execute()) {
    await db.transaction().execute(async (tx) => {
      // The tables WebhookService.remove empties, in one transaction as there.
      for (const table of [
        "webhook_requests",
        "webhook_activity",
        "webhook_hourly",
        "parked_deliveries",
        "webhook_replays",
        "webhook_windows",
      ] as const)
        await tx.deleteFrom(table).where("webhook_id", "=", w.id).execute();
      await tx.deleteFrom("webhooks").where("id", "=", w.id).execute();
    });
  }
  for (const table of ["notifications", "audit_log", "inbound_events"] as const) {
    await inBatches(
      () =>
        db
          .deleteFrom(table)
          .where("id", "in", (eb) => eb.selectFrom(table).select("id").where("workspace_id", "=", id).limit(BATCH))
          .executeTakeFirst(),
      stopped,
    );
  }
  // Chats or messages under no account of the workspace (none are made so; a hand-made row would keep the workspace forever).
  await inBatches(
    () =>
      db
        .deleteFrom("messages")
        .where("seq", "in", (eb) => eb.selectFrom("messages").select("seq").where("workspace_id", "=", id).limit(BATCH))
        .executeTakeFirst(),
    stopped,
  );
  await inBatches(
    () =>
      db
        .deleteFrom("chats")
        .where("id", "in", (eb) => eb.selectFrom("chats").select("id").where("workspace_id", "=", id).limit(BATCH))
        .executeTakeFirst(),
    stopped,
  );
  if (stopped()) return;
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom("send_queue").where("workspace_id", "=", id).execute();
    await tx.deleteFrom("chat_aliases").where("workspace_id", "=", id).execute();
    await tx.deleteFrom("teammates").where("workspace_id", "=", id).execute();
    await tx.deleteFrom("workspaces").where("id", "=", id).execute();
  });
}

/**
 * Finishes the deletions a crash or a shutdown left half done: purges of accounts and sweeps
 * of workspaces (the retention timer calls it, at start and hourly).
 */
export async function finishDeletions(db: DB, clock: Clock, log: Logger, stopped: () => boolean): Promise<void> {
  for (const ws of await db.selectFrom("workspaces").select("id").where("deleted_at", "is not", null).execute()) {
    if (stopped()) return;
    await db.transaction().execute((tx) => closeWorkspace(tx, ws.id, clock.now()));
    await sweepWorkspace(db, ws.id, stopped);
    log.info({ workspace: ws.id }, "finished deleting a workspace");
  }
  for (const a of await db
    .selectFrom("accounts")
    .select("id")
    .where("purging", "=", 1)
    .where("deleted_at", "is not", null)
    .execute()) {
    if (stopped()) return;
    const done = await purgeAccount(db, a.id, stopped);
    log.info({ account: a.id, ...done }, "finished purging a deleted account");
  }
}
