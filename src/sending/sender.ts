import type { Logger } from "pino";
import type { Metrics } from "../metrics.js";
import type { DB } from "../db/index.js";
import type { Clock, ClockTimer } from "../clock/index.js";
import type { Ingest } from "../ingest/ingest.js";
import type { IngestMessage } from "../ingest/types.js";
import { getAccount, sourceAccount } from "../accounts/service.js";
import { adapterFor, type GatewayHttp } from "../sources/index.js";
import { GatewayError } from "../sources/gateway-http.js";
import { getChat } from "../timeline/service.js";
import { retryDelay } from "../webhooks/policy.js";

/** How long a process holds a message it is sending; a process that died lets go after it. Wall clock. */

/**
 * A message sent from Threadline as it goes into the log, under the gateway's id (so the
 * gateway's echo of it is a duplicate): by the sender queue and by the API's direct send.
 */
export function sentMessage(
  account: { phone: string },
  chat: { external_id: string; full_name: string; is_group: number; phone?: string },
  externalId: string,
  at: number,
  text: string,
  senderName: string,
): IngestMessage {
  return {
    account_phone: account.phone,
    chat: {
      external_id: chat.external_id,
      full_name: chat.full_name,
      is_group: chat.is_group === 1,
      phone: chat.phone,
    },
    external_id: externalId,
    direction: "sent",
    timestamp: new Date(at).toISOString(),
    type: "text",
    text,
    sender: { full_name: senderName, phone: chat.is_group === 1 ? "" : account.phone },
  };
}

export const CLAIM_MS = 60_000;
/** How long a slot is held while its gateway call runs (longer than the gateways' client deadline). */
const SLOT_HOLD_MS = 30_000;
/** Attempts while the gateway is down (the webhooks' backoff: 5 s, 30 s, 2 min, … hourly, about 8 h in all). */
export const MAX_SEND_ATTEMPTS = 12;
/** Due messages left by another process (or a retry whose timer was lost) are looked for this often. */
const SCAN_MS = 5_000;

export interface SenderDeps {
  db: DB;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  gateways: GatewayHttp;
  ingest: Ingest;
  /** THREADLINE_SEND_PAUSE_MS: the pause of accounts that set none. */
  defaultPauseMs: number;
  /** Alone on its database (SQLite): claims left by a killed predecessor are dropped at start. */
  alone: boolean;
  /** This process's id (its `processes` row, webhooks/leases.ts), written into the messages it claims. */
  processId: string;
}

/**
 * A gateway that is down or overloaded is retried; a refusal (4xx), an address Threadline may
 * not reach or a mapping error is final.
 */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof GatewayError) || err.final) return false;
  return err.status === undefined || err.status >= 500 || err.status === 408 || err.status === 429;
}

/** The pause before an account's next message: the configured one ±25 %, so sends do not look machine-timed. */
export function jitteredPause(pauseMs: number, random: () => number = Math.random): number {
  return Math.round(pauseMs * (0.75 + random() * 0.5));
}

/**
 * The senders: one loop per account with queued messages, working through them oldest first
 * with a pause between messages. Several processes may run them on one PostgreSQL database:
 * the pause is a row per account (`send_pacing`) that a process takes by a conditional
 * update, and a message is sent only by the process whose conditional update claimed it.
 */
export class Sender {
  private loops = new Map<string, Promise<void>>();
  private again = new Set<string>();
  private timers = new Map<string, ClockTimer>();
  private scanTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private deps: SenderDeps) {}

  async start(): Promise<void> {
    if (this.deps.alone) {
      await this.deps.db
        .updateTable("send_queue")
        .set({ claimed_by: null, claimed_until: null })
        .where("status", "=", "queued")
        .where("claimed_by", "is not", null)
        .execute();
    }
    await this.scan();
    this.scanTimer = setInterval(() => void this.scan(), SCAN_MS);
    this.scanTimer.unref();
  }

  /** Wakes the sender of every account with a message due. */
  private async scan(): Promise<void> {
    if (this.stopped) return;
    try {
      const rows = await this.deps.db
        .selectFrom("send_queue")
        .select("account_id")
        .distinct()
        .where("status", "=", "queued")
        .where("next_attempt_at", "<=", this.deps.clock.now())
        .execute();
      for (const r of rows) this.wake(r.account_id);
    } catch (err) {
      this.deps.log.warn({ err }, "looking for queued messages failed; trying again shortly");
    }
  }

  /** The account has a message to send (just queued, or its pause or backoff is over). */
  wake(accountId: string): void {
    if (this.stopped) return;
    if (this.loops.has(accountId)) {
      this.again.add(accountId);
      return;
    }
    this.timers.get(accountId)?.cancel();
    this.timers.delete(accountId);
    const loop = this.run(accountId)
      .catch((err: unknown) => {
        this.deps.log.error({ err, account: accountId }, "sending queued messages failed; retrying shortly");
        this.schedule(accountId, this.deps.clock.now() + SCAN_MS);
      })
      .finally(() => {
        this.loops.delete(accountId);
        if (this.again.delete(accountId)) this.wake(accountId);
      });
    this.loops.set(accountId, loop);
  }

  private schedule(accountId: string, at: number): void {
    if (this.stopped) return;
    const current = this.timers.get(accountId);
    if (current && current.dueAt <= at) return;
    current?.cancel();
    this.timers.set(
      accountId,
      this.deps.clock.at(at, () => {
        this.timers.delete(accountId);
        this.wake(accountId);
      }),
    );
  }

  private async pauseOf(accountId: string): Promise<number> {
    const row = await this.deps.db
      .selectFrom("accounts")
      .select("send_pause_ms")
      .where("id", "=", accountId)
      .executeTakeFirst();
    return row?.send_pause_ms ?? this.deps.defaultPauseMs;
  }

  private async run(accountId: string): Promise<void> {
    const { db, clock } = this.deps;
    while (!this.stopped) {
      this.again.delete(accountId);
      const wall = Date.now();
      // The oldest message first: while the gateway is down the ones behind it wait (order kept).
      const next = await db
        .selectFrom("send_queue")
        .select(["id", "next_attempt_at"])
        .where("account_id", "=", accountId)
        .where("status", "=", "queued")
        .where((eb) => eb.or([eb("claimed_until", "is", null), eb("claimed_until", "<", wall)]))
        .orderBy("id")
        .limit(1)
        .executeTakeFirst();
      if (!next) return;
      if (next.next_attempt_at > clock.now()) return this.schedule(accountId, next.next_attempt_at);
      const claim = await db
        .updateTable("send_queue")
        .set({ claimed_by: this.deps.processId, claimed_until: wall + CLAIM_MS })
        .where("id", "=", next.id)
        .where("status", "=", "queued")
        .where((eb) => eb.or([eb("claimed_until", "is", null), eb("claimed_until", "<", wall)]))
        .executeTakeFirst();
      if (Number(claim.numUpdatedRows) === 0) continue; // another process has it
      const pausedUntil = await this.sendOne(next.id);
      if (pausedUntil !== undefined) return this.schedule(accountId, pausedUntil);
    }
  }

  /**
   * The pause: a process may call the account's gateway only when it moves the account's
   * next_send_at on (one conditional update, so two processes never both do). The winner holds
   * the slot while its call runs and then sets the pause from the call's end (`endSlot`), so
   * the gap between one call's answer and the next call is the pause, however slow the gateway
   * (a process killed mid-call leaves the slot to expire after SLOT_HOLD_MS). Answers
   * `{pause}` when taken, else `{until}`: when to look again (never later than one pause, as
   * the holder's call may end sooner than its hold).
   */
  private async takeSlot(accountId: string): Promise<{ pause: number; until?: undefined } | { until: number }> {
    const { db, clock } = this.deps;
    await db
      .insertInto("send_pacing")
      .values({ account_id: accountId, next_send_at: 0 })
      .onConflict((oc) => oc.column("account_id").doNothing())
      .execute();
    const pause = jitteredPause(await this.pauseOf(accountId));
    const now = clock.now();
    const slot = await db
      .updateTable("send_pacing")
      .set({ next_send_at: now + SLOT_HOLD_MS })
      .where("account_id", "=", accountId)
      .where("next_send_at", "<=", now)
      .executeTakeFirst();
    if (Number(slot.numUpdatedRows) > 0) return { pause };
    const pacing = await db
      .selectFrom("send_pacing")
      .select("next_send_at")
      .where("account_id", "=", accountId)
      .executeTakeFirst();
    return { until: Math.max(Math.min(pacing?.next_send_at ?? 0, now + pause), now + 1) };
  }

  /** The call of a taken slot ended (answered or not): the next may go after the pause. */
  private async endSlot(accountId: string, pause: number): Promise<void> {
    await this.deps.db
      .updateTable("send_pacing")
      .set({ next_send_at: this.deps.clock.now() + pause })
      .where("account_id", "=", accountId)
      .execute();
  }

  /**
   * Sends one claimed message through its account's gateway; on confirmation it enters the
   * log. When the account's pause is not over, gives the claim back and answers when it is.
   */
  private async sendOne(id: string): Promise<number | undefined> {
    const { db, clock, log } = this.deps;
    const row = await db.selectFrom("send_queue").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    const release = { claimed_by: null, claimed_until: null };
    const fail = async (reason: string) => {
      this.deps.metrics.sends.inc({ outcome: "failed" });
      await db
        .updateTable("send_queue")
        .set({ ...release, status: "failed", error: reason, attempts: row.attempts + 1 })
        .where("id", "=", id)
        .execute();
    };
    const account = await getAccount(db, row.workspace_id, row.account_id).catch(() => undefined);
    const chat = await getChat(db, row.workspace_id, String(row.chat_id)).catch(() => undefined);
    if (!account || !chat) return void (await fail("The account or chat no longer exists."));
    const target = { external_id: chat.external_id, is_group: chat.is_group === 1, phone: chat.phone };
    const slot = await this.takeSlot(account.id);
    if (slot.until !== undefined) {
      await db
        .updateTable("send_queue")
        .set(release)
        .where("id", "=", id)
        .where("claimed_by", "=", this.deps.processId)
        .execute();
      return slot.until;
    }
    const adapter = adapterFor(account.source);
    let externalId: string;
    try {
      // The `api` source has no gateway: the message is confirmed at once (the API client delivers it).
      const call = adapter
        ? adapter.sendText(sourceAccount(account), target, row.text, this.deps.gateways).then((r) => r.external_id)
        : Promise.resolve(`threadline_${id.toLowerCase()}`);
      externalId = await call.finally(() => this.endSlot(account.id, slot.pause));
    } catch (err) {
      const reason = (err as Error).message;
      const attempts = row.attempts + 1;
      if (isRetryable(err) && attempts < MAX_SEND_ATTEMPTS) {
        const at = clock.now() + Math.round(retryDelay(attempts)); // bigint column: whole ms
        await db
          .updateTable("send_queue")
          .set({ ...release, attempts, next_attempt_at: at, error: reason })
          .where("id", "=", id)
          .execute();
        log.warn(
          { message: id, account: account.id, attempts, reason },
          "the gateway did not take a message; retrying",
        );
        this.deps.metrics.sends.inc({ outcome: "retried" });
        this.schedule(account.id, at);
        return;
      }
      await fail(
        isRetryable(err)
          ? `The gateway did not answer after ${attempts} attempts: ${reason}`
          : err instanceof GatewayError && err.final
            ? `The gateway cannot be called: ${reason}`
            : `The gateway refused the message: ${reason}`,
      );
      return;
    }
    const teammate = await db
      .selectFrom("teammates")
      .select(["id", "full_name"])
      .where("id", "=", row.teammate_id)
      .executeTakeFirst();
    try {
      // Into the log with the gateway's id: its echo of the same message is then a duplicate.
      const r = await this.deps.ingest(
        row.workspace_id,
        [sentMessage(account, chat, externalId, clock.now(), row.text, teammate?.full_name ?? account.full_name)],
        { sentByTeammateId: teammate?.id, messageId: id },
      );
      await db
        .updateTable("send_queue")
        .set({
          ...release,
          status: "sent",
          error: null,
          sent_at: clock.now(),
          attempts: row.attempts + 1,
          message_id: r.messageIds[0] ?? id,
        })
        .where("id", "=", id)
        .execute();
      this.deps.metrics.sends.inc({ outcome: "sent" });
    } catch (err) {
      // Sent, but not stored: never sent again (the gateway's echo may still store it).
      log.error({ err, message: id }, "a message the gateway took could not be stored");
      await fail(`WhatsApp took the message (${externalId}) but it could not be stored: ${(err as Error).message}`);
    }
  }

  /** Stops sending; a message being sent is finished first. Claims of queued messages are given back. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.scanTimer) clearInterval(this.scanTimer);
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    await Promise.allSettled([...this.loops.values()]);
    await this.deps.db
      .updateTable("send_queue")
      .set({ claimed_by: null, claimed_until: null })
      .where("claimed_by", "=", this.deps.processId)
      .where("status", "=", "queued")
      .execute()
      .catch(() => undefined);
  }
}
