import type { Selectable } from "kysely";
import type { DB, Database } from "../db/index.js";

/**
 * Parked deliveries: ones that failed by an internal error (a bug, a row the payload cannot
 * be written from), not by the receiver, `PARK_AFTER` times. They are set aside instead of
 * being retried forever, the consumer moves on past them, and they are listed per webhook
 * and sent again by hand (`WebhookService.resendParked`).
 */

/** Internal errors a delivery may meet before it is parked. */
export const PARK_AFTER = 3;
/** Parked deliveries kept per webhook (the oldest go first): the list never grows without a bound. */
export const PARKED_KEPT = 1000;

export type ParkedRow = Selectable<Database["parked_deliveries"]>;

export interface Parking {
  webhookId: string;
  deliveryId: string;
  chatId: number | null;
  messageId: string | null;
  reason: string;
  body: string | null;
  at: number;
}

/** Parks a delivery (a second parking of the same one keeps the newest reason), keeping the newest PARKED_KEPT. */
export async function park(db: DB, p: Parking): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .deleteFrom("parked_deliveries")
      .where("webhook_id", "=", p.webhookId)
      .where("delivery_id", "=", p.deliveryId)
      .execute();
    await tx
      .insertInto("parked_deliveries")
      .values({
        webhook_id: p.webhookId,
        delivery_id: p.deliveryId,
        chat_id: p.chatId === null ? null : String(p.chatId),
        message_id: p.messageId,
        reason: p.reason,
        body: p.body,
        parked_at: p.at,
      })
      .execute();
    const keep = await tx
      .selectFrom("parked_deliveries")
      .select("id")
      .where("webhook_id", "=", p.webhookId)
      .orderBy("id", "desc")
      .offset(PARKED_KEPT)
      .limit(1)
      .executeTakeFirst();
    if (keep)
      await tx
        .deleteFrom("parked_deliveries")
        .where("webhook_id", "=", p.webhookId)
        .where("id", "<=", keep.id)
        .execute();
  });
}

/** A webhook's parked deliveries, newest first. */
export function listParked(db: DB, webhookId: string): Promise<ParkedRow[]> {
  return db
    .selectFrom("parked_deliveries")
    .selectAll()
    .where("webhook_id", "=", webhookId)
    .orderBy("id", "desc")
    .limit(PARKED_KEPT)
    .execute();
}

export function findParked(db: DB, webhookId: string, deliveryId: string): Promise<ParkedRow | undefined> {
  return db
    .selectFrom("parked_deliveries")
    .selectAll()
    .where("webhook_id", "=", webhookId)
    .where("delivery_id", "=", deliveryId)
    .executeTakeFirst();
}

export async function unpark(db: DB, webhookId: string, deliveryId: string): Promise<void> {
  await db
    .deleteFrom("parked_deliveries")
    .where("webhook_id", "=", webhookId)
    .where("delivery_id", "=", deliveryId)
    .execute();
}

/** As the API shows a parked delivery. */
export function parkedView(r: ParkedRow) {
  return {
    delivery_id: r.delivery_id,
    chat_id: r.chat_id,
    message_id: r.message_id,
    reason: r.reason,
    parked_at: new Date(r.parked_at).toISOString(),
    resendable: r.body !== null || r.message_id !== null,
  };
}

/** An error as one short sentence for the log and the activity (never a stack). */
export function internalReason(e: unknown): string {
  const err = e as { name?: string; message?: string } | undefined;
  const text = `${err?.name ?? "Error"}: ${err?.message ?? String(e)}`;
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}
