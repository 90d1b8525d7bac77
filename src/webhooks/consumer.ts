import type { DB, Database } from "../db/index.js";
import type { Clock, ClockTimer } from "../clock/index.js";
import { readDeliverable } from "../timeline/service.js";
import { SHUTDOWN_CODE, signingSecrets, type Deliverer, type AttemptResult } from "./deliver.js";
import { messagePayload, type DeliverableMessage } from "./payload.js";
import type { DeliveryWriter } from "./writer.js";

/** A webhook as stored; the consumer owns its cursor, counters and window while it runs. */
export type WebhookRow = Database["webhooks"];

/** What a consumer needs from the rest of the process. */
export interface ConsumerDeps {
  db: DB;
  clock: Clock;
  writer: DeliveryWriter;
  deliverer: Deliverer;
  publicUrl(): string;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Told of every attempt's outcome (metrics) and of alert-worthy transitions. */
  events: ConsumerEvents;
}

export interface ConsumerEvents {
  attempted(webhook: WebhookRow, result: AttemptResult): void;
  /** `failingSince`: when the current run of errors began, when this process saw it begin. */
  warning(webhook: WebhookRow, failures: number, failingSince?: number): void;
  disabled(webhook: WebhookRow, reason: "consecutive_failures" | "gone", failingSince?: number): void;
}

/** The product's rule: more than this many consecutive errors disable a webhook. */
export const MAX_CONSECUTIVE_FAILURES = 10;
export const WARNING_AT = 5;
/** Standard Webhooks-style backoff: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then hourly. */
export const RETRY_SCHEDULE_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000];
const MAX_RETRY_AFTER_MS = 6 * 3600_000;
const MAX_IN_FLIGHT = 64;
const FETCH_BATCH = 1000;
const LOW_WATER = 500;

export function retryDelay(failures: number, retryAfterMs?: number): number {
  const base = RETRY_SCHEDULE_MS[Math.min(failures, RETRY_SCHEDULE_MS.length) - 1]!;
  const jittered = base * (0.9 + Math.random() * 0.2);
  return retryAfterMs !== undefined ? Math.min(Math.max(retryAfterMs, 1000), MAX_RETRY_AFTER_MS) : jittered;
}

/** The `webhook-id` of one message's delivery: stable across retries and restarts. */
export function messageDeliveryId(webhook: Pick<WebhookRow, "id" | "epoch">, messageId: string): string {
  return `msg_${messageId}_${webhook.id.slice(-10)}${webhook.epoch ? `_r${webhook.epoch}` : ""}`;
}

/**
 * Something that delivers one payload with the failure rules: the shared core of the
 * message and bundle consumers. The subclass decides what is due and what success means.
 */
export abstract class Consumer {
  /** Takes no new work (stopped, draining for shutdown, or disabled). */
  protected stopped = false;
  /**
   * Outcomes of attempts still in flight are ignored: another consumer owns the webhook
   * now (restart, replay, delete). A drain or an automatic disable keeps recording them.
   */
  protected discarded = false;
  private keepOutcomes = false;
  protected failures: number;
  protected retryAt = 0;
  private retryTimer: ClockTimer | undefined;
  private failingSince: number | undefined;
  private sending = new Set<Promise<boolean>>();

  constructor(
    protected deps: ConsumerDeps,
    public row: WebhookRow,
  ) {
    this.failures = row.consecutive_failures;
    // A webhook that was failing before a restart keeps backing off.
    if (this.failures > 0) this.retryAt = deps.clock.now() + retryDelay(this.failures);
  }

  abstract start(): void;
  /** New messages may be in the log. */
  abstract wake(): void;

  /** Settings changed while enabled (URL, secret). */
  update(row: WebhookRow): void {
    this.row = { ...row, consecutive_failures: this.failures, cursor_seq: this.row.cursor_seq };
  }

  stop(): void {
    if (!this.keepOutcomes) this.discarded = true;
    this.keepOutcomes = false;
    this.stopped = true;
    this.retryTimer?.cancel();
  }

  /**
   * Shutdown: takes no new work and resolves once the attempts in flight have ended and
   * their outcomes are recorded (the caller bounds the wait by aborting the deliverer).
   */
  async drain(): Promise<void> {
    this.keepOutcomes = true;
    this.stop();
    while (this.sending.size) await Promise.allSettled([...this.sending]);
    // Let the callers of `send` finish their bookkeeping (cursor moves) first.
    await new Promise((r) => setImmediate(r));
  }

  get active(): boolean {
    return !this.stopped;
  }

  /** Sends what is open now (aggregated webhooks); answers how many deliveries it made. */
  async flushOpen(): Promise<number> {
    return 0;
  }

  protected get failing(): boolean {
    return this.failures > 0;
  }

  /** While failing, one attempt at a time, when the backoff allows. */
  protected mayAttemptWhileFailing(then: () => void): boolean {
    if (this.deps.clock.now() >= this.retryAt) return true;
    if (!this.retryTimer || this.retryTimer.dueAt !== this.retryAt) {
      this.retryTimer?.cancel();
      this.retryTimer = this.deps.clock.at(this.retryAt, () => {
        this.retryTimer = undefined;
        then();
      });
    }
    return false;
  }

  /** Sends one delivery, records the attempt, and applies the failure rules. */
  protected async send(deliveryId: string, attempt: number, body: string, what: string): Promise<boolean> {
    const p = this.sendOnce(deliveryId, attempt, body, what);
    this.sending.add(p);
    try {
      return await p;
    } finally {
      this.sending.delete(p);
    }
  }

  private async sendOnce(deliveryId: string, attempt: number, body: string, what: string): Promise<boolean> {
    const row = this.row;
    const result = await this.deps.deliverer.attempt(row.url, signingSecrets(row, this.deps.clock.now()), deliveryId, body);
    if (this.discarded) return result.ok;
    const { writer, clock } = this.deps;
    // Every attempt is an entry in the log, whatever happens next.
    writer.logRequest(row.id, deliveryId, attempt, result);
    // Cut short by a shutdown: not the receiver's error; the delivery is handed back.
    if (result.error?.code === SHUTDOWN_CODE) return false;
    this.deps.events.attempted(row, result);
    // Disabled while this attempt was in flight: only the log (and, on success, the cursor) move.
    if (this.row.enabled === 0) return result.ok;
    const status = result.response?.status ?? null;
    if (result.ok) {
      this.failures = 0;
      this.retryAt = 0;
      writer.activity(row.id, { at: clock.now(), kind: "delivered", summary: `Delivered ${what} (HTTP ${status}).`, status_code: status, delivery_id: deliveryId });
      writer.setState(row.id, { consecutive_failures: 0 });
      return true;
    }
    // The product's rule is exact: every failed attempt is one more consecutive error,
    // including attempts that were already in flight when the run of errors began.
    if (this.failures === 0) this.failingSince = clock.now();
    this.failures++;
    writer.activity(row.id, {
      at: clock.now(),
      kind: "failed",
      summary: `Failed to deliver ${what}: ${result.error?.message ?? "error"} (${this.failures} consecutive).`,
      status_code: status,
      delivery_id: deliveryId,
    });
    writer.setState(row.id, { consecutive_failures: this.failures });
    if (status === 410) {
      this.disable("gone", `Disabled: the receiver answered 410 Gone to ${what}.`);
    } else if (this.failures > MAX_CONSECUTIVE_FAILURES) {
      this.disable("consecutive_failures", `Disabled after ${this.failures} consecutive errors.`);
    } else {
      if (this.failures === WARNING_AT) {
        writer.activity(row.id, { at: clock.now(), kind: "warning", summary: `${this.failures} consecutive errors; the webhook is disabled after ${MAX_CONSECUTIVE_FAILURES + 1}.` });
        this.deps.events.warning(row, this.failures, this.failingSince);
      }
      this.retryAt = clock.now() + retryDelay(this.failures, result.retryAfterMs);
    }
    return false;
  }

  private disable(reason: "consecutive_failures" | "gone", summary: string): void {
    const { writer, clock } = this.deps;
    const at = clock.now();
    // 410 Gone is the receiver saying "stop": recorded as an automatic disable too.
    writer.setState(this.row.id, { enabled: 0, disabled_reason: "consecutive_failures", disabled_at: at, consecutive_failures: this.failures });
    writer.activity(this.row.id, { at, kind: "disabled", summary });
    this.row = { ...this.row, enabled: 0, disabled_reason: "consecutive_failures", disabled_at: at };
    // Attempts still in flight are logged (and a success still moves the cursor).
    this.keepOutcomes = true;
    this.stop();
    void writer.flush().catch((e) => this.deps.log.error({ err: e }, "could not record a disabled webhook"));
    this.deps.events.disabled(this.row, reason, this.failingSince);
  }
}

interface Delivery {
  seq: number;
  msg: DeliverableMessage;
  id: string;
  body?: string;
  attempts: number;
}

/**
 * An unaggregated webhook: a cursor on the workspace's log, many requests in flight
 * across chats, one per chat so each chat's order holds.
 */
export class MessageConsumer extends Consumer {
  private cursor: number;
  private readSeq: number;
  private queues = new Map<number, Delivery[]>();
  private ready = new Set<number>();
  private busy = new Set<number>();
  /** Fetched seqs in order; the cursor moves past a prefix once all of it is done. */
  private order: { seq: number; done: boolean }[] = [];
  private orderHead = 0;
  private inFlight = 0;
  private queued = 0;
  private fetching = false;
  private exhausted = false;
  private wokenWhileFetching = false;

  constructor(deps: ConsumerDeps, row: WebhookRow) {
    super(deps, row);
    this.cursor = row.cursor_seq;
    this.readSeq = row.cursor_seq;
  }

  start(): void {
    this.pump();
  }

  wake(): void {
    if (this.fetching) this.wokenWhileFetching = true;
    this.exhausted = false;
    this.pump();
  }

  private pump(): void {
    if (this.stopped) return;
    if (!this.fetching && !this.exhausted && this.queued < LOW_WATER) void this.fetch();
    if (this.failing) {
      if (this.inFlight > 0 || this.ready.size === 0) return;
      if (!this.mayAttemptWhileFailing(() => this.pump())) return;
      // The probe is the oldest waiting head: the delivery that failed first.
      let oldest: number | undefined;
      let oldestSeq = Infinity;
      for (const chat of this.ready) {
        const seq = this.queues.get(chat)![0]!.seq;
        if (seq < oldestSeq) [oldest, oldestSeq] = [chat, seq];
      }
      if (oldest !== undefined) void this.dispatch(oldest);
      return;
    }
    for (const chat of this.ready) {
      if (this.inFlight >= MAX_IN_FLIGHT) break;
      void this.dispatch(chat);
    }
  }

  private async fetch(): Promise<void> {
    this.fetching = true;
    try {
      const rows = await readDeliverable(this.deps.db, this.row.workspace_id, { afterSeq: this.readSeq, limit: FETCH_BATCH });
      if (this.stopped) return;
      for (const msg of rows) {
        const d: Delivery = { seq: msg.seq, msg, id: messageDeliveryId(this.row, msg.id), attempts: 0 };
        let q = this.queues.get(msg.chat_id);
        if (!q) this.queues.set(msg.chat_id, (q = []));
        q.push(d);
        this.order.push({ seq: msg.seq, done: false });
        this.readSeq = msg.seq;
        this.queued++;
        if (!this.busy.has(msg.chat_id)) this.ready.add(msg.chat_id);
      }
      this.exhausted = rows.length < FETCH_BATCH && !this.wokenWhileFetching;
    } catch (e) {
      this.deps.log.error({ err: e, webhook: this.row.id }, "reading the message log failed; retrying");
      this.exhausted = true;
      setTimeout(() => this.wake(), 1000).unref();
    } finally {
      this.fetching = false;
      this.wokenWhileFetching = false;
    }
    this.pump();
  }

  private async dispatch(chat: number): Promise<void> {
    const q = this.queues.get(chat)!;
    const d = q[0]!;
    this.ready.delete(chat);
    this.busy.add(chat);
    this.inFlight++;
    d.attempts++;
    d.body ??= JSON.stringify(messagePayload(d.msg, this.deps.publicUrl()));
    let ok = false;
    try {
      ok = await this.send(d.id, d.attempts, d.body, `message ${d.msg.id}`);
    } catch (e) {
      this.deps.log.error({ err: e, webhook: this.row.id }, "delivery bookkeeping failed");
    }
    this.inFlight--;
    this.busy.delete(chat);
    // A draining (shutdown) or just-disabled consumer still records what was acknowledged.
    if (this.discarded) return;
    if (ok) {
      q.shift();
      this.queued--;
      if (q.length === 0) this.queues.delete(chat);
      this.markDone(d.seq);
    }
    if (q.length > 0) this.ready.add(chat);
    this.pump();
  }

  private markDone(seq: number): void {
    // Deliveries finish roughly in order: search from the head.
    for (let i = this.orderHead; i < this.order.length; i++) {
      if (this.order[i]!.seq === seq) {
        this.order[i]!.done = true;
        break;
      }
    }
    const before = this.cursor;
    while (this.orderHead < this.order.length && this.order[this.orderHead]!.done) {
      this.cursor = this.order[this.orderHead]!.seq;
      this.orderHead++;
    }
    if (this.orderHead > 4096) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    if (this.cursor !== before) this.deps.writer.setState(this.row.id, { cursor_seq: this.cursor }, this.row.epoch);
  }
}
