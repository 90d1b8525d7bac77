import type { DB } from "../db/index.js";
import { ulid } from "../db/ids.js";
import type { AttemptResult } from "./deliver.js";

export const REQUEST_LOG_SIZE = 100;
export const ACTIVITY_SIZE = 10;
// Long enough that a busy webhook writes at most 100 log rows per flush, short enough
// that a crash repeats little (the cursor is persisted with each flush).
const FLUSH_EVERY_MS = 200;

export type ActivityKind = "delivered" | "failed" | "disabled" | "enabled" | "updated" | "warning";

export interface Activity {
  at: number;
  kind: ActivityKind;
  summary: string;
  status_code?: number | null;
  delivery_id?: string | null;
}

export interface LoggedRequest {
  request_id: string;
  delivery_id: string;
  attempt: number;
  result: AttemptResult;
}

/** Webhook columns the consumer owns while it runs. */
export interface WebhookState {
  cursor_seq?: number;
  consecutive_failures?: number;
  enabled?: number;
  disabled_reason?: string | null;
  disabled_at?: number | null;
  window_end?: number | null;
}

interface Pending {
  requests: LoggedRequest[];
  activity: Activity[];
  hourly: Map<number, { delivered: number; failed: number }>;
  state: WebhookState;
}

/**
 * Batches the writes that follow deliveries (request log, activity, hourly counts,
 * cursor and counters) into one transaction every few milliseconds, keeping only the
 * newest rows of a burst: a flush never inserts more than the log keeps.
 */
export class DeliveryWriter {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private gone = new Set<string>();

  constructor(
    private db: DB,
    /** A background flush that failed (the next flush writes the newer state again). */
    private onError: (err: unknown) => void = (err) => console.error("writing delivery state failed", err),
  ) {}

  private entry(webhookId: string): Pending {
    let p = this.pending.get(webhookId);
    if (!p) {
      p = { requests: [], activity: [], hourly: new Map(), state: {} };
      this.pending.set(webhookId, p);
    }
    if (!this.timer) this.timer = setTimeout(() => this.flush().catch(this.onError), FLUSH_EVERY_MS);
    return p;
  }

  logRequest(webhookId: string, deliveryId: string, attempt: number, result: AttemptResult): LoggedRequest {
    const p = this.entry(webhookId);
    const logged = { request_id: `req_${ulid(result.at).toLowerCase()}`, delivery_id: deliveryId, attempt, result };
    p.requests.push(logged);
    if (p.requests.length > REQUEST_LOG_SIZE) p.requests.splice(0, p.requests.length - REQUEST_LOG_SIZE);
    const hour = Math.floor(result.at / 3600_000) * 3600_000;
    const h = p.hourly.get(hour) ?? { delivered: 0, failed: 0 };
    if (result.ok) h.delivered++;
    else h.failed++;
    p.hourly.set(hour, h);
    return logged;
  }

  activity(webhookId: string, a: Activity): void {
    const p = this.entry(webhookId);
    p.activity.push(a);
    if (p.activity.length > ACTIVITY_SIZE) p.activity.splice(0, p.activity.length - ACTIVITY_SIZE);
  }

  setState(webhookId: string, state: WebhookState): void {
    Object.assign(this.entry(webhookId).state, state);
  }

  /** A deleted webhook: drop what is buffered and never write for it again. */
  forget(webhookId: string): void {
    this.gone.add(webhookId);
    this.pending.delete(webhookId);
  }

  /** Writes everything buffered so far; resolves once it is committed. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    // A failed write must not wedge later flushes; its error reaches this caller only.
    this.flushing = this.flushing.catch(() => undefined).then(() => (batch.size ? this.write(batch) : undefined));
    return this.flushing;
  }

  private async write(batch: Map<string, Pending>): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      for (const [webhookId, p] of batch) {
        if (this.gone.has(webhookId)) continue;
        if (p.requests.length) {
          await tx
            .insertInto("webhook_requests")
            .values(
              p.requests.map((r) => ({
                webhook_id: webhookId,
                request_id: r.request_id,
                delivery_id: r.delivery_id,
                attempt: r.attempt,
                at: r.result.at,
                duration_ms: r.result.durationMs,
                request: JSON.stringify(r.result.request),
                response: r.result.response ? JSON.stringify(r.result.response) : null,
                error: r.result.error ? JSON.stringify(r.result.error) : null,
              })),
            )
            .execute();
          const cut = await tx
            .selectFrom("webhook_requests")
            .select("id")
            .where("webhook_id", "=", webhookId)
            .orderBy("id", "desc")
            .offset(REQUEST_LOG_SIZE)
            .limit(1)
            .executeTakeFirst();
          if (cut) await tx.deleteFrom("webhook_requests").where("webhook_id", "=", webhookId).where("id", "<=", cut.id).execute();
        }
        if (p.activity.length) {
          await tx
            .insertInto("webhook_activity")
            .values(p.activity.map((a) => ({ webhook_id: webhookId, at: a.at, kind: a.kind, summary: a.summary, status_code: a.status_code ?? null, delivery_id: a.delivery_id ?? null })))
            .execute();
          const cut = await tx
            .selectFrom("webhook_activity")
            .select("id")
            .where("webhook_id", "=", webhookId)
            .orderBy("id", "desc")
            .offset(ACTIVITY_SIZE)
            .limit(1)
            .executeTakeFirst();
          if (cut) await tx.deleteFrom("webhook_activity").where("webhook_id", "=", webhookId).where("id", "<=", cut.id).execute();
        }
        for (const [hour, h] of p.hourly) {
          await tx
            .insertInto("webhook_hourly")
            .values({ webhook_id: webhookId, hour_start: hour, delivered: h.delivered, failed: h.failed })
            .onConflict((oc) =>
              oc.columns(["webhook_id", "hour_start"]).doUpdateSet((eb) => ({
                delivered: eb("webhook_hourly.delivered", "+", h.delivered),
                failed: eb("webhook_hourly.failed", "+", h.failed),
              })),
            )
            .execute();
        }
        if (Object.keys(p.state).length) await tx.updateTable("webhooks").set(p.state).where("id", "=", webhookId).execute();
      }
    });
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
