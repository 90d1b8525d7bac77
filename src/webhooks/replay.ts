import type { DB, Database } from "../db/index.js";
import { newId } from "../db/ids.js";
import { headSeq, readDeliverable } from "../log/index.js";
import { countDeliverable } from "./filter.js";
import { readWindowPage, windowBundles, type Bundle } from "./bundles.js";
import { messageDeliveryId, type ConsumerDeps, type WebhookRow } from "./consumer.js";
import { signingSecrets } from "./deliver.js";
import { matcher, parseFilter } from "./filter.js";
import { isReceiverFailure, type AttemptResult } from "./outcome.js";
import { bundlePayloadJson, messagePayloadJson } from "./payload.js";

/**
 * Replays (`POST …/replay {since, until}`): a job that delivers a range of the log again,
 * under the `webhook-id`s of the first deliveries (`messageDeliveryId`, `bundleDeliveryId`
 * of the window as it went out), so receivers drop what they already have. Outside the
 * consumer: the cursor, the failure count, the backoff and the alerts never move; a
 * replay's failures count in its own `failed` only. Stored in `webhook_replays` (one
 * `running` per webhook, by a partial unique index) and run by the process holding the
 * webhook's lease (manager.ts), which resumes it from `position` after a restart.
 */

export type ReplayRow = Database["webhook_replays"];
export type ReplayState = "running" | "done" | "cancelled" | "failed";

/** A delivery the receiver refused: tried again after these pauses, then counted as failed (the replay moves on). */
export const REPLAY_RETRY_MS = [1_000, 3_000];
/** This many failed deliveries in a row (after their retries): the receiver is down; the replay ends as `failed`. */
export const REPLAY_GIVE_UP_AFTER = 20;
/** Deliveries in flight at once (across chats; a chat's own go one at a time, in order). */
const CONCURRENCY = 8;
/** Messages read at a time (unaggregated); the position is persisted after each batch. */
const BATCH = 200;
/** Aggregated windows read at a time. */
const WINDOW_PAGE = 20;
/** How often the counts are written (and a cancellation made elsewhere is noticed). */
const PROGRESS_EVERY_MS = 1_000;

/** The range of the log a replay covers: messages stored in [since, until], as seqs (stored_at grows along seq). */
export async function replayRange(
  db: DB,
  workspaceId: string,
  since: number,
  until: number,
): Promise<{ afterSeq: number; maxSeq: number }> {
  const afterSeq = await headSeq(db, workspaceId, { storedBefore: since });
  const maxSeq = await headSeq(db, workspaceId, { afterSeq, storedBefore: until + 1 });
  return { afterSeq, maxSeq };
}

type WindowRow = Database["webhook_windows"];

/** The aggregated windows a replay re-sends: those whose span [start, end) meets [since, until], after `afterEnd`, oldest first. */
function overlappingWindows(
  db: DB,
  webhookId: string,
  r: { since: number; until: number },
  afterEnd: number,
  limit: number,
): Promise<WindowRow[]> {
  return db
    .selectFrom("webhook_windows")
    .selectAll()
    .where("webhook_id", "=", webhookId)
    .where("window_end", ">", Math.max(afterEnd, r.since))
    .where("window_start", "<=", r.until)
    .orderBy("window_end", "asc")
    .limit(limit)
    .execute();
}

/**
 * How many messages a replay of [since, until] sends: the one count behind `POST …/replay`'s
 * `messages`, its `total` and `GET …/replay/count`. Unaggregated: the range's deliverable
 * messages the filter lets through; aggregated: those of every window overlapping it.
 */
export async function replayCount(
  db: DB,
  webhook: WebhookRow,
  since: number,
  until: number,
): Promise<{ kind: "messages" | "windows"; afterSeq: number; maxSeq: number; messages: number }> {
  const filter = webhook.filter === null ? undefined : parseFilter(webhook.filter);
  if (webhook.aggregation === "none") {
    const range = await replayRange(db, webhook.workspace_id, since, until);
    return { kind: "messages", ...range, messages: await countDeliverable(db, webhook.workspace_id, range, filter) };
  }
  // Windows are contiguous on the log: consecutive ones are counted as one run.
  let messages = 0;
  let run: { afterSeq: number; maxSeq: number } | undefined;
  let first: number | undefined;
  let last = 0;
  const count = async () => {
    if (run) messages += await countDeliverable(db, webhook.workspace_id, run, filter);
  };
  for (let after = -Infinity; ;) {
    const page = await overlappingWindows(db, webhook.id, { since, until }, after, 500);
    for (const w of page) {
      first ??= w.after_seq;
      last = Math.max(last, w.max_seq);
      if (run && w.after_seq === run.maxSeq) run.maxSeq = w.max_seq;
      else {
        await count();
        run = { afterSeq: w.after_seq, maxSeq: w.max_seq };
      }
    }
    if (page.length < 500) break;
    after = page[page.length - 1]!.window_end;
  }
  await count();
  return { kind: "windows", afterSeq: first ?? 0, maxSeq: last, messages };
}

/** A replay as the API shows it. */
export function replayView(r: ReplayRow) {
  return {
    replay_id: r.id,
    state: r.state as ReplayState,
    since: new Date(r.since).toISOString(),
    until: new Date(r.until).toISOString(),
    total: r.total,
    delivered: r.delivered,
    failed: r.failed,
    reason: r.reason,
    started_at: new Date(r.created_at).toISOString(),
    ended_at: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
  };
}

export function newReplayId(): string {
  return newId("rpl");
}

/**
 * The running replays, of one webhook or of all: few at any time (one a webhook at most, read
 * through the partial index on running replays), so a look costs one query however many
 * webhooks a process holds.
 */
export async function runningReplays(db: DB, webhookId?: string): Promise<ReplayRow[]> {
  let q = db.selectFrom("webhook_replays").selectAll().where("state", "=", "running");
  if (webhookId !== undefined) q = q.where("webhook_id", "=", webhookId);
  return q.execute();
}

/**
 * Ends a webhook's running replay from outside its runner (a `DELETE`, the webhook switched
 * off): a conditional update, so it ends once whoever gets there first. Answers the row as
 * it was, or undefined when none was running. The runner notices within a second.
 */
export async function endRunningReplay(
  db: DB,
  webhookId: string,
  reason: string,
  at: number,
): Promise<ReplayRow | undefined> {
  const r = await db
    .selectFrom("webhook_replays")
    .selectAll()
    .where("webhook_id", "=", webhookId)
    .where("state", "=", "running")
    .executeTakeFirst();
  if (!r) return undefined;
  const res = await db
    .updateTable("webhook_replays")
    .set({ state: "cancelled", reason, ended_at: at })
    .where("id", "=", r.id)
    .where("state", "=", "running")
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 0 ? undefined : r;
}

/** What the activity says of a replay that ended: "Replay of 12 messages since … cancelled: … 3 delivered." */
export function replayEndSummary(
  r: Pick<ReplayRow, "total" | "since">,
  state: ReplayState,
  reason: string | null,
  counts: { delivered: number; failed: number },
): string {
  const what = `Replay of ${r.total} message${r.total === 1 ? "" : "s"} since ${new Date(r.since).toISOString()}`;
  const tally = `${counts.delivered} delivered${counts.failed ? `, ${counts.failed} failed` : ""}`;
  return state === "done"
    ? `${what} finished: ${tally}.`
    : `${what} ${state === "failed" ? "failed" : "cancelled"}:${reason ? ` ${reason}` : ""} ${tally}.`;
}

/** One thing a replay sends: a message, or one part of a chat's bundle of a window. */
interface Item {
  id: string;
  chatId: number;
  /** Messages it carries (1, or the bundle part's). */
  count: number;
  body(): string;
}

/**
 * Runs one replay in the process holding the webhook's lease. Reads the range a batch (or an
 * aggregated window) at a time, sends each chat's items in order (several chats at once),
 * persists the position after each batch, and the counts every second. `stop` (the lease
 * went elsewhere, a shutdown, a cancellation) takes no new work; the row stays as it is
 * unless it was cancelled, so whoever holds the lease next resumes it from `position`.
 */
export class ReplayRunner {
  private stopped = false;
  private delivered = 0;
  private failed = 0;
  private inARow = 0;
  private tick: NodeJS.Timeout | undefined;
  private ending: { state: ReplayState; reason: string | null } | undefined;
  readonly done: Promise<void>;

  constructor(
    private deps: ConsumerDeps,
    readonly replayId: string,
    readonly webhookId: string,
  ) {
    this.done = this.run().catch((e) =>
      this.deps.log.error(
        { err: e, webhook: webhookId, replay: replayId },
        "a replay stopped on an error; the next look resumes it",
      ),
    );
  }

  stop(): void {
    this.stopped = true;
  }

  get stopping(): boolean {
    return this.stopped;
  }

  private async run(): Promise<void> {
    const { db } = this.deps;
    const r = await db.selectFrom("webhook_replays").selectAll().where("id", "=", this.replayId).executeTakeFirst();
    if (!r || r.state !== "running") return;
    this.delivered = r.resume_delivered;
    this.failed = r.resume_failed;
    this.tick = setInterval(
      () =>
        void this.progress().catch((e) =>
          this.deps.log.warn({ err: e, replay: this.replayId }, "writing a replay's progress failed"),
        ),
      PROGRESS_EVERY_MS,
    );
    this.tick.unref();
    try {
      let position = r.position;
      for (;;) {
        const webhook = await db.selectFrom("webhooks").selectAll().where("id", "=", this.webhookId).executeTakeFirst();
        if (!webhook) return this.stop(); // deleted (its replays with it)
        if (webhook.enabled !== 1) {
          this.ending = { state: "cancelled", reason: "The webhook was switched off." };
          break;
        }
        if (this.stopped) return;
        const next =
          r.kind === "windows"
            ? await this.windowsAfter(r, webhook, position)
            : await this.messagesAfter(r, webhook, position);
        // Stopped with an end decided (switched off): it still ends, whoever holds the lease now.
        if (this.stopped && !this.ending) return;
        if (next === undefined) {
          this.ending ??= { state: "done", reason: null };
          break;
        }
        if (this.ending) break;
        position = next;
        await this.checkpoint(position);
      }
      await this.end(r);
    } finally {
      clearInterval(this.tick);
      // Stopped (a shutdown, the lease gone, a cancellation): the counts so far, for the page.
      if (!this.ending) await this.progress(true).catch(() => undefined);
    }
  }

  /** The next batch of messages after `position`; answers the new position (undefined: nothing left). */
  private async messagesAfter(r: ReplayRow, webhook: WebhookRow, position: number): Promise<number | undefined> {
    const rows = await readDeliverable(this.deps.db, webhook.workspace_id, {
      afterSeq: position,
      maxSeq: r.max_seq,
      limit: BATCH,
    });
    if (!rows.length) return undefined;
    const accepts = matcher(webhook.filter);
    const publicUrl = this.deps.publicUrl();
    const items: Item[] = [];
    for (const m of rows) {
      if (accepts && !accepts(m)) continue;
      items.push({
        id: messageDeliveryId(webhook, m.id),
        chatId: m.chat_id,
        count: 1,
        body: () => messagePayloadJson(m, publicUrl),
      });
    }
    await this.sendAll(webhook, items);
    return rows[rows.length - 1]!.seq;
  }

  /** The next overlapping windows after `position` (a window's end), each re-sent as it went out. */
  private async windowsAfter(r: ReplayRow, webhook: WebhookRow, position: number): Promise<number | undefined> {
    const windows = await overlappingWindows(this.deps.db, this.webhookId, r, position, WINDOW_PAGE);
    if (!windows.length) return undefined;
    const accepts = matcher(webhook.filter);
    for (const w of windows) {
      const spec = {
        afterSeq: w.after_seq,
        maxSeq: w.max_seq,
        fromSeq: w.after_seq,
        start: w.window_start,
        cut: w.window_end,
        timeZone: w.time_zone,
        aggregation: w.aggregation,
      };
      for (let exhausted = false; !exhausted && !this.stopped && !this.ending;) {
        const page = await readWindowPage(this.deps.db, webhook.workspace_id, spec);
        // The ids of the window as it went out: its epoch then, not the webhook's now.
        const built = windowBundles(page, spec, {
          webhook: { id: webhook.id, epoch: w.epoch },
          accepts,
          publicUrl: this.deps.publicUrl(),
          maxBytes: this.deps.bundleMaxBytes,
          order: 0,
        });
        await this.sendAll(webhook, built.bundles.map(bundleItem));
        spec.fromSeq = built.fromSeq;
        exhausted = built.exhausted;
      }
      if (this.stopped || this.ending) return w.window_end;
      await this.checkpoint(w.window_end);
    }
    return windows[windows.length - 1]!.window_end;
  }

  /** Sends items, each chat's in order, several chats at once. */
  private async sendAll(webhook: WebhookRow, items: Item[]): Promise<void> {
    const chats = new Map<number, Item[]>();
    for (const it of items) {
      let q = chats.get(it.chatId);
      if (!q) chats.set(it.chatId, (q = []));
      q.push(it);
    }
    const queues = [...chats.values()];
    const worker = async () => {
      for (let q = queues.shift(); q; q = queues.shift())
        for (const it of q) if (!(await this.sendOne(webhook, it))) return;
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queues.length) }, worker));
  }

  /** One item, with its retries; answers false when the replay stopped (nothing more to send). */
  private async sendOne(webhook: WebhookRow, it: Item): Promise<boolean> {
    let body: string;
    try {
      body = it.body();
    } catch (e) {
      // A body that cannot be written fails the same way every time: failed, moved on.
      this.deps.log.error({ err: e, webhook: webhook.id, delivery: it.id }, "a replayed delivery could not be written");
      this.failed += it.count;
      return true;
    }
    for (let attempt = 0; ; attempt++) {
      if (this.stopped || this.ending) return false;
      const result: AttemptResult = await this.deps.deliverer.attempt(
        webhook.url,
        signingSecrets(webhook, this.deps.clock.now()),
        it.id,
        body,
        webhook.workspace_id,
      );
      // Cut by a shutdown: handed back, the next holder sends it again.
      if (!result.ok && !isReceiverFailure(result)) return false;
      this.deps.events.attempted(webhook, result);
      if (result.ok) {
        this.delivered += it.count;
        this.inARow = 0;
        return true;
      }
      const pause = REPLAY_RETRY_MS[attempt];
      if (pause === undefined) break;
      await sleep(pause);
    }
    this.failed += it.count;
    if (++this.inARow >= REPLAY_GIVE_UP_AFTER && !this.ending) {
      this.ending = { state: "failed", reason: `The receiver failed ${REPLAY_GIVE_UP_AFTER} deliveries in a row.` };
    }
    return true;
  }

  /** The counts as they are now; a replay cancelled (or its webhook deleted or switched off) meanwhile stops here. */
  private async progress(final = false): Promise<void> {
    const res = await this.deps.db
      .updateTable("webhook_replays")
      .set({ delivered: this.delivered, failed: this.failed })
      .where("id", "=", this.replayId)
      // As it stops after a cancellation, its last counts still land.
      .where("state", "in", final ? ["running", "cancelled"] : ["running"])
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return this.stop();
    if (final || this.ending) return;
    // Switched off meanwhile (by a person or by its failures): nothing more goes to it.
    const w = await this.deps.db
      .selectFrom("webhooks")
      .select("enabled")
      .where("id", "=", this.webhookId)
      .executeTakeFirst();
    if (!w) this.stop();
    else if (w.enabled !== 1) this.ending = { state: "cancelled", reason: "The webhook was switched off." };
  }

  /** Everything up to `position` is done: a restart resumes after it, with these counts. */
  private async checkpoint(position: number): Promise<void> {
    const res = await this.deps.db
      .updateTable("webhook_replays")
      .set({
        position,
        delivered: this.delivered,
        failed: this.failed,
        resume_delivered: this.delivered,
        resume_failed: this.failed,
      })
      .where("id", "=", this.replayId)
      .where("state", "=", "running")
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) this.stop();
  }

  private async end(r: ReplayRow): Promise<void> {
    const { state, reason } = this.ending!;
    const at = this.deps.clock.now();
    const res = await this.deps.db
      .updateTable("webhook_replays")
      .set({ state, reason, delivered: this.delivered, failed: this.failed, ended_at: at })
      .where("id", "=", this.replayId)
      .where("state", "=", "running")
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return;
    this.deps.writer.activity(this.webhookId, {
      at,
      kind: "replay",
      summary: replayEndSummary(r, state, reason, { delivered: this.delivered, failed: this.failed }),
    });
    this.deps.log.info(
      { webhook: this.webhookId, replay: this.replayId, state, delivered: this.delivered, failed: this.failed },
      "webhook replay ended",
    );
  }
}

function bundleItem(b: Bundle): Item {
  let body = b.body;
  return {
    id: b.id,
    chatId: b.chatId,
    count: b.count,
    body: () => {
      if (b.failure) throw b.failure;
      return (body ??= bundlePayloadJson(b.part!.messages, b.part!.opts));
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
