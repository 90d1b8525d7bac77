import type { Scheduled } from "../clock/scheduler.js";
import {
  headSeq,
  nextStoredAt,
  readChatParts,
  readMessagesBySeq,
  windowChats,
  windowMessageSeqs,
  type DeliverableMessage,
} from "../log/index.js";
import { getWorkspace } from "../workspaces/service.js";
import { Consumer, deliveryChat, type Attempted, type ConsumerDeps, type Phase, type WebhookRow } from "./consumer.js";
import type { DeliveryChat } from "./writer.js";
import { bundleParts, bundlePayloadJson } from "./payload.js";
import { windowEndAfter, windowHours, windowStartOf } from "./windows.js";
import { previewOf } from "../timeline/service.js";

/**
 * Chats read per page when a window closes; bundles built ahead stay below about twice this.
 * Small, so few bodies live long enough to be promoted under serve's bounded heap growth
 * (bench/bundles.bench.ts; BENCHMARKS.md, "1,000,000 messages in 100,000 chats").
 */
const CHAT_PAGE = 100;
const LOW_WATER = 50;
const MESSAGE_PAGE = 5000;

/**
 * The `webhook-id` of one chat's bundle of one window: stable across retries and restarts
 * (a window's end is persisted before its bundles go out), new after a replay. A chat whose
 * messages took several bundles (THREADLINE_BUNDLE_MAX_BYTES): the first keeps that id, the
 * next ones end in `_p2`, `_p3`, ...
 */
export function bundleDeliveryId(
  webhook: Pick<WebhookRow, "id" | "epoch">,
  chatId: number,
  windowEnd: number,
  part = 1,
): string {
  return `bnd_${chatId}_${windowEnd}_${webhook.id.slice(-10)}${webhook.epoch ? `_r${webhook.epoch}` : ""}${part > 1 ? `_p${part}` : ""}`;
}

// ---------------------------------------------------------------------------------------

export interface Bundle extends Attempted {
  chatId: number;
  chat: DeliveryChat;
  count: number;
  /** Written when first sent (then kept for retries), so only bodies in flight live at once. */
  body?: string;
  part?: ReturnType<typeof bundleParts>[number];
  /** The chat's messages could not be split into bundles: this delivery fails (and is parked). */
  failure?: unknown;
  /** Position in the window's queue: failed bundles are sent again in this order. */
  order: number;
  /** Its first message's text on one line, for the activity. */
  snippet?: string;
}

/** One window being delivered: every deliverable message in (cursor, maxSeq]. */
class Close {
  maxSeq: number | undefined;
  timeZone = "UTC";
  start = 0;
  /** Paging key of `windowChats`. */
  fromSeq = 0;
  /** The cursor the window starts after (its messages: seq in (afterSeq, maxSeq]). */
  afterSeq = 0;
  queue: Bundle[] = [];
  queued = 0;
  /** Bundles that failed, oldest first: the probe while failing is the first of them. */
  retry: Bundle[] = [];
  inFlight = 0;
  fetching = false;
  exhausted = false;
  finishing = false;
  /** Done, or abandoned by a stopped consumer. */
  finished = false;
  /** Waiting for the backoff to allow the next attempt. */
  blocked = false;
  delivered = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly cut: number) {}

  /** Resolves when the window is done, or blocked (waiting for a retry), or its consumer stopped. */
  settled(): Promise<void> {
    if (this.finished || this.blocked) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  settle(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/**
 * An aggregated webhook (`1h` … `24h`): a cursor on the workspace's log and the end of the
 * window being filled (`window_end`, persisted). When the window ends (or on a flush, which
 * first persists its cut as the window's end), every deliverable message with seq > cursor
 * stored before the end is sent as one bundle per chat (a chat belongs to one account),
 * chats read in pages, many bundles in flight. Once every bundle of the window is
 * acknowledged, the cursor moves to the window's last seq and the next window's end is
 * persisted with it. A crash redelivers the window under the same `webhook-id`s.
 */
export class BundleConsumer extends Consumer {
  private cursor: number;
  private windowEnd: number | null;
  private lastCut = 0;
  private readonly hours: number;
  private timer: Scheduled | undefined;
  private close: Close | undefined;
  private opening: Promise<void> = Promise.resolve();
  private flushing: Promise<unknown> = Promise.resolve();

  constructor(deps: ConsumerDeps, row: WebhookRow) {
    super(deps, row);
    const hours = windowHours(row.aggregation);
    if (!hours) throw new Error(`not an aggregated webhook: ${row.aggregation}`);
    this.hours = hours;
    this.cursor = row.cursor_seq;
    this.windowEnd = row.window_end;
  }

  /** New messages wait for the window's end: whether the log has some does not matter here. */
  start(): void {
    this.opening = this.open(-Infinity);
  }

  get idle(): boolean {
    return !this.close;
  }

  /** New messages wait for the window's end; this only nudges a window that is closing. */
  wake(): void {
    if (this.close) this.pump();
  }

  protected override halt(phase: Exclude<Phase, "running">): void {
    super.halt(phase);
    this.timer?.cancel();
    this.timer = undefined;
    if (this.close) {
      this.close.finished = true;
      this.close.settle();
    }
  }

  override async flushOpen(): Promise<number> {
    const run = this.flushing.then(() => this.flushNow());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async flushNow(): Promise<number> {
    await this.opening;
    let flushed = 0;
    // A window that is already due closes first (under its own end), then the open one.
    for (let round = 0; round < 3 && !this.stopped; round++) {
      if (this.close) {
        const c = this.close;
        await c.settled();
        if (this.close === c) return flushed; // blocked by errors: it goes out on retry; nothing is lost
        continue;
      }
      const soon = Math.max(this.deps.clock.now() + 1, this.lastCut + 1);
      const due = this.windowEnd !== null && this.windowEnd <= soon;
      const cut = due ? this.windowEnd! : soon;
      this.timer?.cancel();
      this.timer = undefined;
      if (!due) {
        // The cut becomes the window's end before anything is sent: a crash repeats it exactly.
        this.windowEnd = cut;
        this.deps.writer.setState(this.row.id, { window_end: cut }, this.row.epoch);
        await this.deps.writer.flush();
        if (this.stopped) return flushed;
      }
      const c = this.begin(cut);
      await c.settled();
      flushed += c.delivered;
      if (this.close === c || !due) return flushed;
    }
    return flushed;
  }

  /** Decides and persists the end of the window being filled, then waits for it. */
  private async open(floor: number): Promise<void> {
    if (this.windowEnd === null) {
      const end = await this.retrying("opening an aggregation window", () => this.nextWindowEnd(floor));
      if (end !== undefined && !this.stopped && this.windowEnd === null) {
        this.windowEnd = end;
        this.deps.writer.setState(this.row.id, { window_end: end }, this.row.epoch);
      }
    }
    this.arm();
  }

  /**
   * The end of the next window: the one holding the oldest message still to send (a backlog
   * goes out window by window), else the one open now; always after `floor`. The workspace's
   * time zone is read here, so a change applies from the next window on.
   */
  private async nextWindowEnd(floor: number): Promise<number> {
    const { db, clock } = this.deps;
    const { timezone } = await getWorkspace(db, this.row.workspace_id);
    const pending = await nextStoredAt(db, this.row.workspace_id, this.cursor);
    const now = clock.now();
    const base = Math.max(pending !== undefined && pending < now ? pending : now, floor);
    return windowEndAfter(base, timezone, this.hours);
  }

  private arm(): void {
    if (this.stopped || this.close || this.windowEnd === null) return;
    const end = this.windowEnd;
    this.timer?.cancel();
    this.timer = this.deps.scheduler.at(end, () => {
      this.timer = undefined;
      if (this.windowEnd === end && !this.close) this.begin(end);
    });
  }

  private begin(cut: number): Close {
    const c = new Close(cut);
    this.close = c;
    void this.prepare(c);
    return c;
  }

  private async prepare(c: Close): Promise<void> {
    const { db } = this.deps;
    const read = await this.retrying("reading an aggregation window", async () => {
      const maxSeq = await headSeq(db, this.row.workspace_id, { afterSeq: this.cursor, storedBefore: c.cut });
      const timeZone = maxSeq > this.cursor ? (await getWorkspace(db, this.row.workspace_id)).timezone : undefined;
      return { maxSeq, timeZone };
    });
    if (!read) return;
    c.afterSeq = this.cursor;
    if (read.timeZone !== undefined) {
      c.timeZone = read.timeZone;
      c.start = windowStartOf(c.cut - 1, c.timeZone, this.hours);
      c.fromSeq = this.cursor;
    } else {
      c.exhausted = true;
    }
    c.maxSeq = read.maxSeq;
    this.pump();
  }

  private pump(): void {
    const c = this.close;
    if (this.stopped || !c || c.maxSeq === undefined || c.finishing) return;
    if (this.failing) {
      // One attempt at a time, at the backoff time; the first failed bundle probes.
      if (c.inFlight === 0) {
        const next = c.retry[0] ?? c.queue[0];
        if (next) {
          if (this.mayAttemptWhileFailing(() => this.pump())) {
            (c.retry.length ? c.retry : c.queue).shift();
            c.blocked = false;
            void this.dispatch(c, next);
          } else {
            c.blocked = true;
            c.settle();
          }
        } else if (!c.fetching && !c.exhausted) {
          void this.fetch(c);
        }
      }
    } else {
      while (c.inFlight < this.capacity) {
        const b = c.retry.shift() ?? c.queue.shift();
        if (!b) break;
        void this.dispatch(c, b);
      }
      if (!c.fetching && !c.exhausted && c.queue.length < LOW_WATER) void this.fetch(c);
    }
    this.finishIfDone(c);
  }

  private finishIfDone(c: Close): void {
    if (c.finishing || c.maxSeq === undefined) return;
    if (c.exhausted && !c.fetching && c.inFlight === 0 && c.queue.length === 0 && c.retry.length === 0)
      void this.finish(c);
  }

  /** Builds the bundles of the next page of chats. */
  private async fetch(c: Close): Promise<void> {
    c.fetching = true;
    const w = { afterSeq: this.cursor, maxSeq: c.maxSeq!, fromSeq: c.fromSeq };
    const page = await this.retrying("reading an aggregation window", () =>
      readWindowPage(this.deps.db, this.row.workspace_id, w),
    );
    c.fetching = false;
    if (page && !this.stopped) {
      const built = windowBundles(
        page,
        { ...w, start: c.start, cut: c.cut, timeZone: c.timeZone, aggregation: this.row.aggregation },
        {
          webhook: this.row,
          accepts: this.accepts,
          publicUrl: this.deps.publicUrl(),
          maxBytes: this.deps.bundleMaxBytes,
          order: c.queued,
        },
      );
      c.queue.push(...built.bundles);
      c.queued += built.bundles.length;
      c.fromSeq = built.fromSeq;
      if (built.exhausted) c.exhausted = true;
    }
    this.pump();
  }

  private async dispatch(c: Close, b: Bundle): Promise<void> {
    c.inFlight++;
    let ok = false;
    const subject = {
      what: `a bundle of ${b.count} message${b.count === 1 ? "" : "s"} of`,
      chat: b.chat,
      snippet: b.snippet,
    };
    try {
      if (b.failure) throw b.failure;
      if (b.body === undefined && b.part) {
        b.body = bundlePayloadJson(b.part.messages, b.part.opts);
        b.part = undefined;
      }
      ok = await this.send(b, b.body!, subject);
    } catch (e) {
      // Threadline's own error, not the receiver's: this bundle fails (parked after a few, at
      // once when it could not be written: that fails the same way every time), never the window.
      ok = await this.failedInternally(b, { body: b.body ?? null, messageId: null }, subject, e, b.body === undefined);
    }
    c.inFlight--;
    // Another consumer owns the webhook now: this outcome is not ours to record.
    if (this.discarded) return;
    if (ok) c.delivered++;
    else {
      // Re-queued in the window's order, whatever order the failures came back in.
      let i = c.retry.length;
      while (i > 0 && c.retry[i - 1]!.order > b.order) i--;
      c.retry.splice(i, 0, b);
    }
    // A draining (shutdown) or just-disabled consumer still moves the cursor past a finished window.
    if (this.stopped) this.finishIfDone(c);
    else this.pump();
  }

  /** Every bundle of the window is acknowledged: move the cursor, then open the next window. */
  private async finish(c: Close): Promise<void> {
    c.finishing = true;
    const cursor = Math.max(this.cursor, c.maxSeq!);
    this.cursor = cursor;
    this.lastCut = c.cut;
    // At once (no await before it), so a shutdown drain records it too. Should the process
    // die before the next window's end is written, the old end is simply found empty.
    this.deps.writer.setState(this.row.id, { cursor_seq: cursor }, this.row.epoch);
    // Kept with the cursor's move, so a replay re-sends this window as it went out.
    if (c.maxSeq! > c.afterSeq)
      this.deps.writer.recordWindow({
        webhook_id: this.row.id,
        window_end: c.cut,
        window_start: c.start,
        after_seq: c.afterSeq,
        max_seq: c.maxSeq!,
        time_zone: c.timeZone,
        aggregation: this.row.aggregation,
        epoch: this.row.epoch,
      });
    const next = await this.retrying("opening an aggregation window", () => this.nextWindowEnd(c.cut));
    c.finished = true;
    if (next !== undefined && !this.stopped) {
      this.close = undefined;
      this.windowEnd = next;
      this.deps.writer.setState(this.row.id, { window_end: next }, this.row.epoch);
      this.arm();
    }
    c.settle();
  }
}

/** One window as its bundles are built: the messages with seq in (afterSeq, maxSeq], the chats after `fromSeq`. */
export interface WindowSpec {
  afterSeq: number;
  maxSeq: number;
  fromSeq: number;
  start: number;
  cut: number;
  timeZone: string;
  aggregation: string;
}

/**
 * The next page of a window's chats (after `fromSeq`), with their messages: positions chat by
 * chat (the chat index), a page at a time, then those rows in log order; a chat cut by the
 * page's end continues alone. Read by the consumer and by a replay (replay.ts).
 */
export async function readWindowPage(
  db: ConsumerDeps["db"],
  workspaceId: string,
  w: Pick<WindowSpec, "afterSeq" | "maxSeq" | "fromSeq">,
) {
  const { afterSeq, maxSeq } = w;
  const chats = await windowChats(db, workspaceId, { afterSeq, maxSeq, fromSeq: w.fromSeq, limit: CHAT_PAGE });
  const byChat = new Map<number, DeliverableMessage[]>();
  const add = (rows: DeliverableMessage[]) => {
    for (const m of rows) {
      let list = byChat.get(m.chat_id);
      if (!list) byChat.set(m.chat_id, (list = []));
      list.push(m);
    }
  };
  let ids = chats.map((x) => x.chat_id).sort((a, b) => a - b);
  const parts = await readChatParts(db, ids);
  while (ids.length) {
    const keys = await windowMessageSeqs(db, { chatIds: ids, afterSeq, maxSeq, limit: MESSAGE_PAGE });
    add(
      await readMessagesBySeq(
        db,
        keys.map((k) => k.seq),
        parts,
      ),
    );
    if (keys.length < MESSAGE_PAGE) break;
    const last = keys[keys.length - 1]!;
    for (let after = last.seq; ;) {
      const more = await windowMessageSeqs(db, {
        chatIds: [last.chat_id],
        afterSeq: after,
        maxSeq,
        limit: MESSAGE_PAGE,
      });
      add(
        await readMessagesBySeq(
          db,
          more.map((k) => k.seq),
          parts,
        ),
      );
      if (more.length < MESSAGE_PAGE) break;
      after = more[more.length - 1]!.seq;
    }
    ids = ids.filter((id) => id > last.chat_id);
  }
  return { chats, byChat };
}

/**
 * The bundles of a page of a window (the one builder of bundles: the consumer's and a
 * replay's): per chat, the messages the filter lets through in timestamp order, split into
 * parts of at most `maxBytes`, each under its `webhook-id`. A chat left with none sends
 * nothing. Answers where the next page starts and whether this was the last.
 */
export function windowBundles(
  page: Awaited<ReturnType<typeof readWindowPage>>,
  w: WindowSpec,
  ctx: {
    webhook: Pick<WebhookRow, "id" | "epoch">;
    accepts: ((m: DeliverableMessage) => boolean) | undefined;
    publicUrl: string;
    maxBytes: number | undefined;
    order: number;
  },
): { bundles: Bundle[]; fromSeq: number; exhausted: boolean } {
  const bundles: Bundle[] = [];
  let order = ctx.order;
  for (const chat of page.chats) {
    // Only what the filter lets through; a chat left with none sends no bundle.
    const all = page.byChat.get(chat.chat_id);
    const messages = all && ctx.accepts ? all.filter(ctx.accepts) : all;
    if (!messages?.length) continue;
    messages.sort((a, b) => a.timestamp - b.timestamp || a.seq - b.seq);
    // New when the message that created the chat is in the part of the log this bundle covers.
    const isNewChat =
      chat.created_seq !== null
        ? chat.created_seq > w.afterSeq && chat.created_seq <= w.maxSeq
        : chat.created_at >= w.start && chat.created_at < w.cut;
    const opts = {
      publicUrl: ctx.publicUrl,
      timeZone: w.timeZone,
      aggregation: w.aggregation,
      windowStart: w.start,
      windowEnd: w.cut,
      isNewChat,
    };
    const base = { chatId: chat.chat_id, chat: deliveryChat(messages[0]!), attempts: 0 };
    let parts: ReturnType<typeof bundleParts>;
    try {
      parts = bundleParts(messages, opts, ctx.maxBytes ?? 1024 * 1024);
    } catch (failure) {
      bundles.push({
        ...base,
        id: bundleDeliveryId(ctx.webhook, chat.chat_id, w.cut),
        count: messages.length,
        failure,
        order: order++,
      });
      continue;
    }
    parts.forEach((part, i) =>
      bundles.push({
        ...base,
        id: bundleDeliveryId(ctx.webhook, chat.chat_id, w.cut, i + 1),
        count: part.messages.length,
        part,
        order: order++,
        snippet: previewOf(part.messages[0]!.text),
      }),
    );
  }
  return {
    bundles,
    fromSeq: page.chats.length ? page.chats[page.chats.length - 1]!.first_seq : w.fromSeq,
    exhausted: page.chats.length < CHAT_PAGE,
  };
}
