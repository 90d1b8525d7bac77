import type { Actor } from "../audit/index.js";
import type { Kysely } from "kysely";
import type SQLite from "better-sqlite3";
import { sqliteOf, type DB, type Database } from "../db/index.js";
import { ulid } from "../db/ids.js";
import type { AttemptResult } from "./outcome.js";

export const REQUEST_LOG_SIZE = 100;
export const ACTIVITY_SIZE = 10;
// Long enough that a busy webhook writes at most 100 log rows per flush, short enough
// that a crash repeats little (the cursor is persisted with each flush).
const FLUSH_EVERY_MS = 200;
/** After a failed flush, the next try (with whatever was buffered since). */
const RETRY_FAILED_MS = 1000;

export type ActivityKind =
  "delivered" | "failed" | "disabled" | "enabled" | "updated" | "warning" | "parked" | "replay";

export interface Activity {
  at: number;
  kind: ActivityKind;
  summary: string;
  status_code?: number | null;
  delivery_id?: string | null;
  /**
   * The logged attempt this entry reports; its request id is read when the entry is written,
   * so an attempt gets one only if a flush keeps its entry (the activity keeps 10 of thousands
   * a second).
   */
  request?: LoggedRequest;
  /** The chat the delivery was about, named as it was then. */
  chat?: DeliveryChat;
  /** Who made the change this entry reports (a person, an API key); none for deliveries. */
  actor?: Actor;
  /** The delivered message's text on one line (a bundle's first), so rows that look alike can be told apart. */
  snippet?: string;
}

/** What the activity says of the chat a delivery was about. */
export interface DeliveryChat {
  chat_id: number;
  full_name: string;
  is_group: boolean;
}

/** What the request log keeps beside an attempt's outcome (the deliveries view). */
export interface RequestMarks {
  chatId?: number | string | null;
  /** A test event: kept in the log, not counted in the hourly chart. */
  test?: boolean;
  /** Sent again by hand: outside the failure rule. */
  resend?: boolean;
  /** When the consumer means to try again (set by the consumer once the rules decided). */
  nextRetryAt?: number | null;
}

/**
 * One attempt in the request log. Its id is made when first read: a busy webhook logs
 * thousands of attempts a second and a flush keeps the newest 100 of them.
 */
export class LoggedRequest implements RequestMarks {
  private id: string | undefined;
  chatId?: number | string | null;
  test?: boolean;
  resend?: boolean;
  nextRetryAt?: number | null;
  constructor(
    readonly delivery_id: string,
    readonly attempt: number,
    readonly result: AttemptResult,
    marks: RequestMarks = {},
  ) {
    Object.assign(this, marks);
  }

  get request_id(): string {
    return (this.id ??= `req_${ulid(this.result.at).toLowerCase()}`);
  }
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

/** Deletes a webhook's rows of a bounded log beyond the newest `size`. */
async function keepNewest(
  tx: Kysely<Database>,
  table: "webhook_requests" | "webhook_activity",
  webhookId: string,
  size: number,
): Promise<void> {
  const cut = await tx
    .selectFrom(table)
    .select("id")
    .where("webhook_id", "=", webhookId)
    .orderBy("id", "desc")
    .offset(size)
    .limit(1)
    .executeTakeFirst();
  if (cut) await tx.deleteFrom(table).where("webhook_id", "=", webhookId).where("id", "<=", cut.id).execute();
}

/** A logged attempt as the request log stores it. */
export function requestRow(webhookId: string, r: LoggedRequest) {
  return {
    webhook_id: webhookId,
    request_id: r.request_id,
    delivery_id: r.delivery_id,
    attempt: r.attempt,
    at: r.result.at,
    duration_ms: r.result.durationMs,
    request: JSON.stringify(r.result.request),
    response: r.result.response ? JSON.stringify(r.result.response) : null,
    error: r.result.error ? JSON.stringify(r.result.error) : null,
    chat_id: r.chatId === undefined || r.chatId === null ? null : String(r.chatId),
    test: r.test ? 1 : 0,
    resend: r.resend ? 1 : 0,
    // Backoff times carry jitter: stored as whole milliseconds (a bigint on PostgreSQL).
    next_retry_at: r.nextRetryAt === undefined || r.nextRetryAt === null ? null : Math.round(r.nextRetryAt),
  };
}

/** The request log's columns as SQLite's statement names them; a test holds them to the migrated table. */
export const REQUEST_COLUMNS = [
  "webhook_id",
  "request_id",
  "delivery_id",
  "attempt",
  "at",
  "duration_ms",
  "request",
  "response",
  "error",
  "chat_id",
  "test",
  "resend",
  "next_retry_at",
] as const satisfies readonly (keyof ReturnType<typeof requestRow> & keyof Database["webhook_requests"])[];
const requestInserts = new WeakMap<SQLite.Database, SQLite.Statement<[ReturnType<typeof requestRow>]>>();

/**
 * SQLite: the request log's insert, prepared once per file and run row by row (inside the
 * flush's transaction). Kysely parsed and prepared a 100-row, 1,300-parameter statement on
 * every flush (BENCHMARKS.md, "Behind choices in the code").
 */
function insertRequests(file: SQLite.Database, rows: ReturnType<typeof requestRow>[]): void {
  let insert = requestInserts.get(file);
  if (!insert) {
    insert = file.prepare(
      `insert into webhook_requests (${REQUEST_COLUMNS.join(", ")}) values (${REQUEST_COLUMNS.map((c) => `@${c}`).join(", ")})`,
    );
    requestInserts.set(file, insert);
  }
  for (const row of rows) insert.run(row);
}

interface Pending {
  requests: LoggedRequest[];
  activity: Activity[];
  hourly: Map<number, { delivered: number; failed: number }>;
  state: WebhookState;
  /** `cursor_seq` and `window_end`: a position on the log, valid only in the replay epoch it was reached in. */
  position: Pick<WebhookState, "cursor_seq" | "window_end">;
  epoch?: number;
  /** Windows an aggregated webhook finished, written with the cursor that moved past them. */
  windows: Database["webhook_windows"][];
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
      p = { requests: [], activity: [], hourly: new Map(), state: {}, position: {}, windows: [] };
      this.pending.set(webhookId, p);
    }
    if (!this.timer) this.timer = setTimeout(() => this.flush().catch(this.onError), FLUSH_EVERY_MS);
    return p;
  }

  logRequest(
    webhookId: string,
    deliveryId: string,
    attempt: number,
    result: AttemptResult,
    marks: RequestMarks = {},
  ): LoggedRequest {
    const p = this.entry(webhookId);
    const logged = new LoggedRequest(deliveryId, attempt, result, marks);
    p.requests.push(logged);
    if (p.requests.length > REQUEST_LOG_SIZE) p.requests.splice(0, p.requests.length - REQUEST_LOG_SIZE);
    // The chart counts deliveries of messages; a test event is not one.
    if (marks.test) return logged;
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

  /**
   * `epoch`: the replay epoch of the consumer that reached this cursor/window end. A position
   * is written only while the webhook is still in that epoch: a replay (through any process)
   * moves the cursor back and bumps the epoch, and a consumer that has not yet noticed must
   * not move it forward again.
   */
  setState(webhookId: string, state: WebhookState, epoch?: number): void {
    const p = this.entry(webhookId);
    const { cursor_seq, window_end, ...rest } = state;
    Object.assign(p.state, rest);
    if (!("cursor_seq" in state) && !("window_end" in state)) return;
    if (epoch !== undefined && p.epoch !== undefined) {
      if (epoch < p.epoch) return;
      if (epoch > p.epoch) p.position = {};
    }
    if (epoch !== undefined) p.epoch = epoch;
    if ("cursor_seq" in state) p.position.cursor_seq = cursor_seq;
    if ("window_end" in state) p.position.window_end = window_end;
  }

  /**
   * An aggregated window every bundle of which was acknowledged: kept (in the transaction
   * that moves the cursor past it) so a replay re-sends it as it went out.
   */
  recordWindow(w: Database["webhook_windows"]): void {
    this.entry(w.webhook_id).windows.push(w);
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
    // A failed write must not wedge later flushes; its error reaches this caller only. What it
    // carried is not dropped: it goes back in front of what was buffered since, for a later flush.
    this.flushing = this.flushing
      .catch(() => undefined)
      .then(async () => {
        if (!batch.size) return;
        try {
          await this.write(batch);
        } catch (e) {
          this.requeue(batch);
          throw e;
        }
      });
    return this.flushing;
  }

  /** Puts a batch that could not be written back under what was buffered since (newer wins). */
  private requeue(batch: Map<string, Pending>): void {
    for (const [webhookId, old] of batch) {
      if (this.gone.has(webhookId)) continue;
      const cur = this.pending.get(webhookId);
      if (!cur) {
        this.pending.set(webhookId, old);
        continue;
      }
      cur.requests = [...old.requests, ...cur.requests].slice(-REQUEST_LOG_SIZE);
      cur.activity = [...old.activity, ...cur.activity].slice(-ACTIVITY_SIZE);
      for (const [hour, h] of old.hourly) {
        const c = cur.hourly.get(hour);
        if (c) {
          c.delivered += h.delivered;
          c.failed += h.failed;
        } else cur.hourly.set(hour, h);
      }
      cur.state = { ...old.state, ...cur.state };
      cur.windows = [...old.windows, ...cur.windows];
      if (old.epoch !== undefined && cur.epoch !== undefined && old.epoch !== cur.epoch) {
        if (old.epoch > cur.epoch) [cur.position, cur.epoch] = [old.position, old.epoch];
      } else {
        cur.position = { ...old.position, ...cur.position };
        cur.epoch ??= old.epoch;
      }
    }
    if (!this.timer && this.pending.size)
      this.timer = setTimeout(() => this.flush().catch(this.onError), RETRY_FAILED_MS);
  }

  private async write(batch: Map<string, Pending>): Promise<void> {
    const file = sqliteOf(this.db);
    await this.db.transaction().execute(async (tx) => {
      for (const [webhookId, p] of batch) {
        if (this.gone.has(webhookId)) continue;
        if (p.requests.length) {
          const rows = p.requests.map((r) => requestRow(webhookId, r));
          // Kysely's transaction holds SQLite's one connection: these rows are part of it.
          if (file) insertRequests(file, rows);
          else await tx.insertInto("webhook_requests").values(rows).execute();
          await keepNewest(tx, "webhook_requests", webhookId, REQUEST_LOG_SIZE);
        }
        if (p.activity.length) {
          await tx
            .insertInto("webhook_activity")
            .values(
              p.activity.map((a) => ({
                webhook_id: webhookId,
                at: a.at,
                kind: a.kind,
                summary: a.summary,
                status_code: a.status_code ?? null,
                delivery_id: a.delivery_id ?? null,
                request_id: a.request?.request_id ?? null,
                chat_id: a.chat?.chat_id ?? null,
                chat_name: a.chat?.full_name ?? null,
                actor: a.actor ? JSON.stringify(a.actor) : null,
                snippet: a.snippet ?? null,
              })),
            )
            .execute();
          await keepNewest(tx, "webhook_activity", webhookId, ACTIVITY_SIZE);
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
        if (p.windows.length)
          await tx
            .insertInto("webhook_windows")
            .values(p.windows)
            .onConflict((oc) => oc.columns(["webhook_id", "window_end"]).doNothing())
            .execute();
        if (Object.keys(p.state).length)
          await tx.updateTable("webhooks").set(p.state).where("id", "=", webhookId).execute();
        // A position is written only in the epoch it was reached in, and a cursor only ever
        // moves forward within an epoch: a late success of a consumer that lost its lease (or
        // was replaced) never moves it back behind what the current owner acknowledged.
        const { cursor_seq, ...rest } = p.position;
        if (cursor_seq !== undefined) {
          let q = tx
            .updateTable("webhooks")
            .set({ cursor_seq })
            .where("id", "=", webhookId)
            .where("cursor_seq", "<", cursor_seq);
          if (p.epoch !== undefined) q = q.where("epoch", "=", p.epoch);
          await q.execute();
        }
        if (Object.keys(rest).length) {
          let q = tx.updateTable("webhooks").set(rest).where("id", "=", webhookId);
          if (p.epoch !== undefined) q = q.where("epoch", "=", p.epoch);
          await q.execute();
        }
      }
    });
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
