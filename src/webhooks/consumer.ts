import type { DB, Database } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import type { Scheduled, Scheduler } from "../clock/scheduler.js";
import { readDeliverable, type DeliverableMessage } from "../log/index.js";
import { highestLoggedAttempt } from "./deliveries.js";
import { signingSecrets, type Deliverer } from "./deliver.js";
import { isReceiverFailure, type AttemptResult } from "./outcome.js";
import {
  capacity,
  initialHealth,
  judge,
  mayProbe,
  MAX_CONSECUTIVE_FAILURES,
  ticket,
  type DisabledReason,
  type Health,
  type Ticket,
} from "./policy.js";
import { messagePayloadJson } from "./payload.js";
import type { DeliveryChat, DeliveryWriter } from "./writer.js";
import { matcher, type Matcher } from "./filter.js";
import { internalReason, park, PARK_AFTER } from "./parked.js";
import { previewOf } from "../timeline/service.js";

/** A webhook as stored; the consumer owns its cursor, counters and window while it runs. */
export type WebhookRow = Database["webhooks"];

/** What a consumer needs from the rest of the process. */
export interface ConsumerDeps {
  db: DB;
  clock: Clock;
  /** The process's one timer for retries and window ends. */
  scheduler: Scheduler;
  writer: DeliveryWriter;
  deliverer: Deliverer;
  publicUrl(): string;
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
  /** Told of every attempt's outcome (metrics) and of alert-worthy transitions. */
  events: ConsumerEvents;
  /** The largest bundle body (THREADLINE_BUNDLE_MAX_BYTES; 1 MiB when not given): a window's chat with more is sent in parts. */
  bundleMaxBytes?: number;
}

export interface ConsumerEvents {
  attempted(webhook: WebhookRow, result: AttemptResult): void;
  /** `failingSince`: when the current run of errors began, when this process saw it begin. */
  warning(webhook: WebhookRow, failures: number, failingSince?: number): void;
  disabled(webhook: WebhookRow, reason: DisabledReason, failingSince?: number): void;
}

const FETCH_BATCH = 1000;
const LOW_WATER = 500;
/** After a failed read of the log, the next try. */
const RETRY_READ_MS = 1000;

/** The `webhook-id` of one message's delivery: stable across retries and restarts. */
export function messageDeliveryId(webhook: Pick<WebhookRow, "id" | "epoch">, messageId: string): string {
  return `msg_${messageId}_${webhook.id.slice(-10)}${webhook.epoch ? `_r${webhook.epoch}` : ""}`;
}

/** A delivery the consumers attempt: its `webhook-id` and how many attempts it has had (its last attempt's number). */
export interface Attempted {
  id: string;
  attempts: number;
  /** Internal errors this delivery met (not the receiver's): parked at PARK_AFTER. */
  internalErrors?: number;
}

/** What a parked delivery keeps to be sent again by hand. */
export interface ParkedPayload {
  body: string | null;
  /** An unaggregated delivery's message: its body can be written again from the log. */
  messageId: string | null;
}

/** What one delivery carries, as the activity says it: "a message in the chat with John Doe". */
export interface DeliverySubject {
  what: string;
  chat: DeliveryChat;
  /** The message's text on one line (a bundle's first message), for the activity. */
  snippet?: string;
}

/** The chat a delivered message belongs to, named by its contact or group (the phone when unnamed). */
export function deliveryChat(
  m: Pick<DeliverableMessage, "chat_id" | "chat_name" | "chat_phone" | "chat_is_group">,
): DeliveryChat {
  return {
    chat_id: m.chat_id,
    full_name: m.chat_name.trim() || m.chat_phone || `chat ${m.chat_id}`,
    is_group: m.chat_is_group === 1,
  };
}

export function chatPhrase(chat: DeliveryChat): string {
  return chat.is_group ? `the group ${chat.full_name}` : `the chat with ${chat.full_name}`;
}

/**
 * Something that delivers one payload with the failure rules: the shared core of the
 * message and bundle consumers. The subclass decides what is due and what success means.
 *
 * The path of one attempt is `send`: stamp a ticket (`policy.ticket`) → `deliverer.attempt`
 * → `record`: log row, metrics, then `policy.judge` decides the count, and the verdict is
 * applied (activity, state, warning, disable).
 */
/**
 * Where a consumer is in its life (the manager's transitions move it, `manager.ts`):
 * - `running`: takes work and records its outcomes;
 * - `draining`: takes no new work; what is in flight ends and is recorded (log, cursor):
 *   a shutdown, a handover to another process, a disable, a filter or aggregation change;
 * - `abandoned`: takes no new work; outcomes still in flight are ignored, another consumer
 *   owns the webhook now (a replay, a delete, a restart, a lease lost).
 */
export type Phase = "running" | "draining" | "abandoned";

export abstract class Consumer {
  phase: Phase = "running";
  protected health: Health;
  private retryTimer: Scheduled | undefined;
  private sending = new Set<Promise<boolean>>();
  /** The webhook's filter (filter.ts); undefined when it lets everything through. */
  protected accepts: Matcher | undefined;

  constructor(
    protected deps: ConsumerDeps,
    public row: WebhookRow,
  ) {
    // A webhook that was failing before a restart keeps backing off.
    this.health = initialHealth(row.consecutive_failures, deps.clock.now());
    this.accepts = matcher(row.filter);
  }

  /** Begins (`running`); `hasWork`: the log may hold messages for it (else it waits for a wake). */
  abstract start(hasWork: boolean): void;
  /** New messages may be in the log. */
  abstract wake(): void;

  /** Settings changed while enabled (URL, secret). */
  update(row: WebhookRow): void {
    this.row = { ...row, consecutive_failures: this.health.failures, cursor_seq: this.row.cursor_seq };
    this.accepts = matcher(row.filter);
  }

  /** Takes no new work; its timers are cancelled. */
  protected halt(phase: Exclude<Phase, "running">): void {
    this.phase = phase;
    this.retryTimer?.cancel();
  }

  /** No new work, and outcomes still in flight are dropped: another consumer owns the webhook now. */
  abandon(): void {
    this.halt("abandoned");
  }

  /**
   * No new work; resolves once the attempts in flight have ended and their outcomes are
   * recorded (a shutdown bounds the wait by aborting the deliverer).
   */
  async drain(): Promise<void> {
    if (this.phase === "running") this.halt("draining");
    while (this.sending.size) await Promise.allSettled([...this.sending]);
    // Let the callers of `send` finish their bookkeeping (cursor moves) first.
    await new Promise((r) => setImmediate(r));
  }

  get active(): boolean {
    return this.phase === "running";
  }

  /** Takes no new work (draining or abandoned). */
  protected get stopped(): boolean {
    return this.phase !== "running";
  }

  /** Outcomes of attempts still in flight are ignored. */
  protected get discarded(): boolean {
    return this.phase === "abandoned";
  }

  /** Nothing in flight, nothing waiting in memory: a handover may pick it first. */
  abstract get idle(): boolean;

  /** Sends what is open now (aggregated webhooks); answers how many deliveries it made. */
  async flushOpen(): Promise<number> {
    return 0;
  }

  /**
   * While failing: the next attempt (the probe) goes now, not at its backoff time (a person
   * asked, or a resend just succeeded). Judged like any probe: a success recovers the webhook
   * and what waits follows. Answers whether there was a retry to bring forward.
   */
  retryNow(): boolean {
    if (!this.failing || this.stopped) return false;
    this.health = { ...this.health, retryAt: this.deps.clock.now() };
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    this.wake();
    return true;
  }

  /** While failing and running, when the next attempt (the probe) may go. */
  get nextRetryAt(): number | undefined {
    return this.failing && !this.stopped ? this.health.retryAt : undefined;
  }

  protected get failing(): boolean {
    return this.health.failures > 0;
  }

  /** How many attempts may be in flight now (one while failing; ramping up after a recovery). */
  protected get capacity(): number {
    return capacity(this.health);
  }

  /** While failing, one attempt at a time, when the backoff allows; else `then` runs at that time. */
  protected mayAttemptWhileFailing(then: () => void): boolean {
    const retryAt = this.health.retryAt;
    if (mayProbe(this.health, this.deps.clock.now())) return true;
    if (!this.retryTimer || this.retryTimer.dueAt !== retryAt) {
      this.retryTimer?.cancel();
      this.retryTimer = this.deps.scheduler.at(retryAt, () => {
        this.retryTimer = undefined;
        then();
      });
    }
    return false;
  }

  /**
   * Runs a read of the log until it succeeds (the database may be briefly unreachable),
   * logging each failure; answers undefined once the consumer stopped. For steps the consumer
   * cannot go on without (an aggregation window's reads, parking a delivery); the
   * unaggregated consumer's log read retries on the scheduler instead (`fetch`), and a
   * delivery's internal error is tried again by `failedInternally`.
   */
  protected async retrying<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    for (;;) {
      if (this.stopped) return undefined;
      try {
        return await fn();
      } catch (e) {
        this.deps.log.error({ err: e, webhook: this.row.id }, `${what} failed; retrying`);
        await sleep(RETRY_READ_MS);
      }
    }
  }

  /** Sends one delivery, records the attempt, and applies the failure rules. */
  protected async send(item: Attempted, body: string, subject: DeliverySubject): Promise<boolean> {
    const p = this.sendOnce(item, body, subject);
    this.sending.add(p);
    try {
      return await p;
    } finally {
      this.sending.delete(p);
    }
  }

  private async sendOnce(item: Attempted, body: string, subject: DeliverySubject): Promise<boolean> {
    if (item.attempts === 0 && !this.failing) item.attempts = 1;
    else {
      const next = await this.nextAttempt(item);
      // Stopped while the log was read: the delivery is handed back unsent.
      if (this.stopped) return false;
      item.attempts = next;
    }
    const row = this.row;
    const t = ticket(this.health);
    const result = await this.deps.deliverer.attempt(
      row.url,
      signingSecrets(row, this.deps.clock.now()),
      item.id,
      body,
      row.workspace_id,
    );
    if (this.discarded) return result.ok;
    return this.record(row, t, item.id, item.attempts, result, subject);
  }

  /**
   * A retry's number counts past what the request log keeps: a resend by hand (here or in
   * another process) or, after a restart while failing, this delivery's earlier attempts
   * took numbers this consumer did not make. Asked on retries only (few: one at a time while
   * failing), never on a first attempt while all goes well.
   */
  private async nextAttempt(item: Attempted): Promise<number> {
    try {
      return Math.max(item.attempts, await highestLoggedAttempt(this.deps.db, this.row.id, item.id)) + 1;
    } catch (e) {
      this.deps.log.warn({ err: e, webhook: this.row.id }, "could not read the request log for an attempt's number");
      return item.attempts + 1;
    }
  }

  /** The one recorder of an attempt's outcome: log row, metrics, the rules' verdict, activity, state, alerts. */
  private record(
    row: WebhookRow,
    t: Ticket,
    deliveryId: string,
    attempt: number,
    result: AttemptResult,
    subject: DeliverySubject,
  ): boolean {
    const { writer, clock } = this.deps;
    const { chat } = subject;
    const what = `${subject.what} ${chatPhrase(chat)}`;
    // Every attempt is an entry in the log, whatever happens next.
    const logged = writer.logRequest(row.id, deliveryId, attempt, result, { chatId: chat.chat_id });
    // Cut short by a shutdown: not the receiver's error; the delivery is handed back.
    if (!isReceiverFailure(result) && !result.ok) return false;
    this.deps.events.attempted(row, result);
    // Disabled while this attempt was in flight: only the log (and, on success, the cursor) move.
    if (this.row.enabled === 0) return result.ok;
    const status = result.response?.status ?? null;
    const now = clock.now();
    const before = this.health;
    const v = judge(before, t, { ok: result.ok, status, retryAfterMs: result.retryAfterMs }, now);
    this.health = v.health;
    if (result.ok) {
      // Written when the count changes only: at thousands of deliveries a second the state stays put.
      if (v.recovered || this.row.consecutive_failures !== 0) writer.setState(row.id, { consecutive_failures: 0 });
      if (v.recovered)
        this.deps.log.info(
          { workspace: row.workspace_id, webhook: row.id, after_errors: before.failures },
          "webhook recovered: its receiver answered again",
        );
      this.row.consecutive_failures = 0;
      writer.activity(row.id, {
        at: now,
        kind: "delivered",
        summary: `Delivered ${what} (HTTP ${status}).`,
        status_code: status,
        delivery_id: deliveryId,
        request: logged,
        chat,
        snippet: subject.snippet,
      });
      return true;
    }
    const n = v.health.failures;
    writer.activity(row.id, {
      at: now,
      kind: "failed",
      summary: v.counted
        ? `Failed to deliver ${what}: ${result.error?.message ?? "error"} (${n} consecutive).`
        : `Failed to deliver ${what}: ${result.error?.message ?? "error"} (in flight when the errors began; counted as one with them, sent again).`,
      status_code: status,
      delivery_id: deliveryId,
      request: logged,
      chat,
      snippet: subject.snippet,
    });
    // Still buffered (nothing awaited since it was logged): the log shows when the next try is due.
    if (!v.disable) logged.nextRetryAt = v.health.retryAt;
    if (v.counted) {
      writer.setState(row.id, { consecutive_failures: n });
      this.row.consecutive_failures = n;
      // One line per state change at the default level; never the URL (receivers put secrets in it) or a secret.
      if (n === 1)
        this.deps.log.warn(
          { workspace: row.workspace_id, webhook: row.id, error: result.error?.code, status },
          `webhook failing: ${result.error?.message ?? "error"}; retried with backoff`,
        );
    }
    if (v.disable === "gone") this.disable("gone", `Disabled: the receiver answered 410 Gone to ${what}.`);
    else if (v.disable) this.disable(v.disable, `Disabled after ${n} consecutive errors.`);
    else if (v.warn) {
      this.deps.log.warn(
        { workspace: row.workspace_id, webhook: row.id, errors: n },
        `webhook warned: ${n} consecutive errors; the owner is e-mailed`,
      );
      writer.activity(row.id, {
        at: now,
        kind: "warning",
        summary: `${n} consecutive errors; the webhook is disabled after ${MAX_CONSECUTIVE_FAILURES + 1}.`,
      });
      this.deps.events.warning(row, n, v.health.failingSince);
    }
    return false;
  }

  /**
   * A delivery failed by Threadline's own error (writing its body, recording its outcome):
   * logged with the reason (`INTERNAL_ERROR`, in the request log and the activity), counted
   * against nothing, tried again after a pause; the PARK_AFTER-th time (or at once when
   * `now`: a body that cannot be written fails the same way every time) it is parked and
   * answers true: the caller moves on past it. Never throws.
   */
  protected async failedInternally(
    item: Attempted,
    payload: ParkedPayload,
    subject: DeliverySubject,
    err: unknown,
    now = false,
  ): Promise<boolean> {
    const { writer, clock, log } = this.deps;
    const row = this.row;
    const errors = (item.internalErrors = (item.internalErrors ?? 0) + 1);
    const reason = internalReason(err);
    const parking = now || errors >= PARK_AFTER;
    const what = `${subject.what} ${chatPhrase(subject.chat)}`;
    log.error(
      { err, webhook: row.id, delivery: item.id },
      parking
        ? "a delivery failed by an internal error; parked"
        : "a delivery failed by an internal error; trying it again",
    );
    const at = clock.now();
    try {
      item.attempts = Math.max(item.attempts, 0) + 1;
      const result: AttemptResult = {
        ok: false,
        at,
        durationMs: 0,
        request: { method: "POST", url: row.url, headers: {}, body: payload.body ?? "" },
        response: null,
        error: {
          code: "INTERNAL_ERROR",
          message: `Threadline failed to send this delivery (${reason}); not the receiver's error.`,
        },
      };
      const logged = writer.logRequest(row.id, item.id, item.attempts, result, { chatId: subject.chat.chat_id });
      this.deps.events.attempted(row, result);
      writer.activity(row.id, {
        at,
        kind: "failed",
        summary: `Failed to deliver ${what}: Threadline's internal error (${reason}); ${parking ? "parked" : `tried again (${errors} of ${PARK_AFTER})`}.`,
        delivery_id: item.id,
        request: logged,
        chat: subject.chat,
      });
    } catch (e) {
      log.error({ err: e, webhook: row.id }, "recording an internal error failed");
    }
    if (!parking) {
      await sleep(RETRY_READ_MS * errors);
      return false;
    }
    const parked = await this.retrying("parking a delivery", async () => {
      await park(this.deps.db, {
        webhookId: row.id,
        deliveryId: item.id,
        chatId: subject.chat.chat_id,
        messageId: payload.messageId,
        reason,
        body: payload.body,
        at,
      });
      return true;
    });
    if (parked === undefined) return false; // stopped first: handed back, the next start meets it again
    try {
      writer.activity(row.id, {
        at,
        kind: "parked",
        summary: `Parked ${what} after ${errors === 1 ? "an internal error" : `${errors} internal errors`} (${reason}): listed under the webhook's parked deliveries, to send again by hand.`,
        delivery_id: item.id,
        chat: subject.chat,
      });
    } catch (e) {
      log.error({ err: e, webhook: row.id }, "recording a parked delivery failed");
    }
    return true;
  }

  private disable(reason: DisabledReason, summary: string): void {
    const { writer, clock } = this.deps;
    const at = clock.now();
    const failures = this.health.failures;
    this.deps.log.warn(
      { workspace: this.row.workspace_id, webhook: this.row.id, reason, errors: failures },
      `webhook disabled: ${summary}`,
    );
    writer.setState(this.row.id, {
      enabled: 0,
      disabled_reason: reason,
      disabled_at: at,
      consecutive_failures: failures,
    });
    writer.activity(this.row.id, { at, kind: "disabled", summary });
    this.row = { ...this.row, enabled: 0, disabled_reason: reason, disabled_at: at, consecutive_failures: failures };
    // Attempts still in flight are logged (and a success still moves the cursor).
    this.halt("draining");
    void writer.flush().catch((e) => this.deps.log.error({ err: e }, "could not record a disabled webhook"));
    this.deps.events.disabled(this.row, reason, this.health.failingSince);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

interface Delivery extends Attempted {
  seq: number;
  msg: DeliverableMessage;
  body?: string;
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

  start(hasWork: boolean): void {
    // An idle webhook is this object and nothing else until a wake: no read of the log.
    this.exhausted = !hasWork;
    this.pump();
  }

  get idle(): boolean {
    return this.inFlight === 0 && this.queued === 0 && !this.fetching;
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
      if (this.inFlight >= this.capacity) break;
      void this.dispatch(chat);
    }
  }

  private async fetch(): Promise<void> {
    this.fetching = true;
    try {
      const rows = await readDeliverable(this.deps.db, this.row.workspace_id, {
        afterSeq: this.readSeq,
        limit: FETCH_BATCH,
      });
      if (this.stopped) return;
      for (const msg of rows) {
        if (this.accepts && !this.accepts(msg)) {
          // Excluded by the filter: done at once, so it never holds the cursor back. A run
          // of them is one entry (memory stays bounded while an earlier delivery is retried).
          const last = this.order.length > this.orderHead ? this.order[this.order.length - 1]! : undefined;
          if (last?.done) last.seq = msg.seq;
          else this.order.push({ seq: msg.seq, done: true });
          this.readSeq = msg.seq;
          continue;
        }
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
      if (this.accepts) this.advanceCursor();
    } catch (e) {
      this.deps.log.error({ err: e, webhook: this.row.id }, "reading the message log failed; retrying");
      this.exhausted = true;
      this.deps.scheduler.at(this.deps.clock.now() + RETRY_READ_MS, () => this.wake());
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
    const subject = { what: "a message in", chat: deliveryChat(d.msg), snippet: previewOf(d.msg.text) };
    let ok = false;
    let built = d.body !== undefined;
    try {
      d.body ??= messagePayloadJson(d.msg, this.deps.publicUrl());
      built = true;
      ok = await this.send(d, d.body, subject);
    } catch (e) {
      // Threadline's own error, not the receiver's: this delivery fails (parked after a few), never the consumer.
      ok = await this.failedInternally(d, { body: d.body ?? null, messageId: d.msg.id }, subject, e, !built);
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
    this.advanceCursor();
  }

  /** Moves the cursor past the prefix of fetched seqs that is done. */
  private advanceCursor(): void {
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
