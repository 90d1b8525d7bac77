import type { Selectable } from "kysely";
import type { DB, Database } from "../db/index.js";
import { invalid } from "../errors.js";
import { REQUEST_LOG_SIZE } from "./writer.js";
import { parseIsoTime } from "../clock/iso-time.js";

/**
 * The request log (`webhook_requests`, the newest 100 attempts of a webhook) read two ways:
 * as the downloadable log (`GET …/log`) and as deliveries one can open (`GET …/deliveries`).
 * One read of the table for both.
 */

export type RequestRow = Selectable<Database["webhook_requests"]>;

/** A webhook's kept attempts, newest first. */
export function readRequestLog(db: DB, webhookId: string): Promise<RequestRow[]> {
  return db
    .selectFrom("webhook_requests")
    .selectAll()
    .where("webhook_id", "=", webhookId)
    .orderBy("id", "desc")
    .limit(REQUEST_LOG_SIZE)
    .execute();
}

/** The highest attempt number the log keeps for one delivery (0 when it keeps none). */
export async function highestLoggedAttempt(db: DB, webhookId: string, deliveryId: string): Promise<number> {
  const row = await db
    .selectFrom("webhook_requests")
    .select((eb) => eb.fn.max("attempt").as("attempt"))
    .where("webhook_id", "=", webhookId)
    .where("delivery_id", "=", deliveryId)
    .executeTakeFirst();
  return Number(row?.attempt ?? 0);
}

/** One entry of the downloadable log (its format is fixed: docs/api.md). */
export function logEntryView(r: RequestRow) {
  return {
    request_id: r.request_id,
    delivery_id: r.delivery_id,
    attempt: r.attempt,
    at: new Date(r.at).toISOString(),
    duration_ms: r.duration_ms,
    request: JSON.parse(r.request),
    response: r.response ? JSON.parse(r.response) : null,
    error: r.error ? JSON.parse(r.error) : null,
  };
}

export type DeliveryItem = ReturnType<typeof logEntryView> & {
  status: "succeeded" | "failed";
  chat_id: string | null;
  next_retry_at: string | null;
  test: boolean;
  resend: boolean;
};

/**
 * The log as deliveries, newest first. `next_retry_at` is on the newest attempt of a
 * delivery only, while it failed and the consumer still means to send it again: its own
 * newest attempt failed with a retry time, and the webhook is enabled. A resend by hand does
 * not change the consumer's plan (it keeps its retry time, also after a failed resend).
 */
export function deliveryItems(rows: RequestRow[], webhookEnabled: boolean): DeliveryItem[] {
  const pendingRetry = new Map<string, number | null>();
  const newest = new Set<string>();
  for (const r of rows) {
    if (!r.resend && !r.test && !pendingRetry.has(r.delivery_id))
      pendingRetry.set(r.delivery_id, r.error ? r.next_retry_at : null);
  }
  return rows.map((r) => {
    const first = !newest.has(r.delivery_id);
    newest.add(r.delivery_id);
    const retry = first && r.error && webhookEnabled ? (pendingRetry.get(r.delivery_id) ?? null) : null;
    return {
      ...logEntryView(r),
      status: r.error ? "failed" : "succeeded",
      chat_id: r.chat_id,
      next_retry_at: retry === null ? null : new Date(retry).toISOString(),
      test: r.test === 1,
      resend: r.resend === 1,
    };
  });
}

export interface DeliveryFilter {
  status?: "succeeded" | "failed";
  chatId?: string;
  since?: number;
  until?: number;
}

/** `?status=&chat_id=&since=&until=` of `GET …/deliveries`, each refused with the field named. */
export function parseDeliveryFilter(q: {
  status?: string;
  chat_id?: string;
  since?: string;
  until?: string;
}): DeliveryFilter {
  const f: DeliveryFilter = {};
  if (q.status !== undefined && q.status !== "") {
    if (q.status !== "succeeded" && q.status !== "failed") throw invalid("status", 'must be "succeeded" or "failed".');
    f.status = q.status;
  }
  if (q.chat_id !== undefined && q.chat_id !== "") {
    if (!/^\d{1,19}$/.test(q.chat_id))
      throw invalid("chat_id", "must be a chat id: a string of digits, as in chat.chat_id.");
    f.chatId = q.chat_id;
  }
  f.since = parseIsoTime("since", q.since);
  f.until = parseIsoTime("until", q.until);
  if (f.since !== undefined && f.until !== undefined && f.until < f.since)
    throw invalid("until", "must not be before since.");
  return f;
}

/** `since` inclusive, `until` exclusive, on the attempt's time. */
export function matches(item: DeliveryItem, r: RequestRow, f: DeliveryFilter): boolean {
  if (f.status && item.status !== f.status) return false;
  if (f.chatId !== undefined && r.chat_id !== f.chatId) return false;
  if (f.since !== undefined && r.at < f.since) return false;
  if (f.until !== undefined && r.at >= f.until) return false;
  return true;
}
