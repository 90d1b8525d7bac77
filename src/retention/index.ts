/**
 * Retention (`workspaces.retention_days`): messages stored longer ago than that are deleted,
 * then the chats left without messages and the old notifications, but never a message that
 * an enabled webhook has not delivered yet (past its cursor): that one waits, and the
 * workspace read says how many wait. One timer per process for every workspace; the work is
 * done in small batches with a pause between them, so ingest never waits on a long delete.
 */
import type { Logger } from "pino";
import type { Clock, ClockTimer } from "../clock/index.js";
import { sqliteOf, type DB } from "../db/index.js";
import { invalid } from "../errors.js";
import { BATCH, inBatches, pause } from "../db/batches.js";
import { finishDeletions } from "../deletion/index.js";

/** How often a process looks for what to delete. */
export const RETENTION_EVERY_MS = 3600_000;
/** Waiting messages are counted up to this many (like a webhook's pending_messages). */
const COUNT_LIMIT = 10_000;
const DAY_MS = 86_400_000;

export interface RetentionView {
  retention_days: number | null;
  /** Messages past the retention time kept because an enabled webhook has not delivered them yet (counted to 10,000). */
  retention_waiting: number;
}

/** `PATCH /api/v1/workspace {retention_days}`: a whole number of days from 1 to 36,500, or null (keep everything). */
export function checkRetentionDays(days: unknown): asserts days is number | null {
  if (days !== null && !(typeof days === "number" && Number.isInteger(days) && days >= 1 && days <= 36_500)) {
    throw invalid("retention_days", "must be a whole number of days from 1 to 36500, or null to keep every message.");
  }
}

/** The highest seq every enabled webhook of the workspace has delivered: nothing after it may go. */
async function deliveredThrough(db: DB, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom("webhooks")
    .select((eb) => eb.fn.min("cursor_seq").as("seq"))
    .where("workspace_id", "=", workspaceId)
    .where("enabled", "=", 1)
    .executeTakeFirst();
  return row?.seq === null || row?.seq === undefined ? Number.MAX_SAFE_INTEGER : Number(row.seq);
}

export async function retentionOf(db: DB, clock: Clock, workspaceId: string): Promise<RetentionView> {
  const ws = await db
    .selectFrom("workspaces")
    .select("retention_days")
    .where("id", "=", workspaceId)
    .executeTakeFirstOrThrow();
  if (ws.retention_days === null) return { retention_days: null, retention_waiting: 0 };
  const bound = await deliveredThrough(db, workspaceId);
  const waiting = await db
    .selectFrom((eb) =>
      eb
        .selectFrom("messages")
        .select("seq")
        .where("workspace_id", "=", workspaceId)
        .where("stored_at", "<", clock.now() - ws.retention_days! * DAY_MS)
        .where("seq", ">", bound)
        .limit(COUNT_LIMIT)
        .as("w"),
    )
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return { retention_days: ws.retention_days, retention_waiting: Number(waiting.n) };
}

/** One process's pruning: a pass at start and every hour after, on the Clock (the test clock moves it). */
export class RetentionPruner {
  private timer: ClockTimer | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private deps: { db: DB; clock: Clock; log: Logger }) {}

  start(): void {
    this.schedule(0);
  }

  private schedule(inMs: number): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.at(this.deps.clock.now() + inMs, () => {
      this.running = this.pass()
        .then(() => undefined)
        .catch((err) =>
          this.deps.log.error(
            { err },
            "deleting messages past their workspace's retention failed; trying again in an hour",
          ),
        )
        .finally(() => this.schedule(RETENTION_EVERY_MS));
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  /** Deletes what every workspace with a retention no longer keeps; answers how many messages went. */
  async pass(): Promise<number> {
    const { db, clock, log } = this.deps;
    // A deletion a crash or a shutdown left half done is finished first (src/deletion).
    await finishDeletions(db, clock, log, () => this.stopped);
    const workspaces = await db
      .selectFrom("workspaces")
      .select(["id", "retention_days"])
      .where("retention_days", "is not", null)
      .where("deleted_at", "is", null)
      .execute();
    let total = 0;
    for (const ws of workspaces) {
      if (this.stopped) break;
      const cutoff = clock.now() - ws.retention_days! * DAY_MS;
      const bound = await deliveredThrough(db, ws.id);
      const messages = await this.inBatches(() =>
        db
          .deleteFrom("messages")
          .where("seq", "in", (eb) =>
            eb
              .selectFrom("messages")
              .select("seq")
              .where("workspace_id", "=", ws.id)
              .where("stored_at", "<", cutoff)
              .where("seq", "<=", bound)
              .orderBy("seq")
              .limit(BATCH),
          )
          .executeTakeFirst(),
      );
      const chats = await this.inBatches(() =>
        db
          .deleteFrom("chats")
          .where("id", "in", (eb) =>
            eb
              .selectFrom("chats as c")
              .select("c.id")
              .where("c.workspace_id", "=", ws.id)
              .where("c.created_at", "<", cutoff)
              .where((w) =>
                w.not(w.exists(w.selectFrom("messages as m").select("m.seq").whereRef("m.chat_id", "=", "c.id"))),
              )
              .where((w) =>
                w.not(w.exists(w.selectFrom("send_queue as q").select("q.id").whereRef("q.chat_id", "=", "c.id"))),
              )
              .limit(BATCH),
          )
          .executeTakeFirst(),
      );
      await this.inBatches(() =>
        db
          .deleteFrom("notifications")
          .where("id", "in", (eb) =>
            eb
              .selectFrom("notifications")
              .select("id")
              .where("workspace_id", "=", ws.id)
              .where("at", "<", cutoff)
              .limit(BATCH),
          )
          .executeTakeFirst(),
      );
      // The aggregated windows whose messages are gone: nothing left for a replay to re-send.
      await db
        .deleteFrom("webhook_windows")
        .where("window_end", "<", cutoff)
        .where("webhook_id", "in", (eb) => eb.selectFrom("webhooks").select("id").where("workspace_id", "=", ws.id))
        .execute();
      await db
        .deleteFrom("webhook_replays")
        .where("created_at", "<", cutoff)
        .where("state", "!=", "running")
        .where("webhook_id", "in", (eb) => eb.selectFrom("webhooks").select("id").where("workspace_id", "=", ws.id))
        .execute();
      if (messages || chats)
        log.info(
          { workspace: ws.id, messages, chats, retention_days: ws.retention_days },
          "deleted messages past the workspace's retention",
        );
      total += messages;
    }
    if (total > 0) await this.shrinkSqlite();
    return total;
  }

  /**
   * SQLite: hands the freed pages back to the file system, 1,000 pages (4 MB) a step with a
   * pause between steps. Only a database created with incremental auto-vacuum (every database
   * Threadline created since retention exists) can; PostgreSQL reuses the space by itself.
   */
  private async shrinkSqlite(): Promise<void> {
    const file = sqliteOf(this.deps.db);
    if (!file || file.pragma("auto_vacuum", { simple: true }) !== 2) return;
    while (!this.stopped && Number(file.pragma("freelist_count", { simple: true })) > 0) {
      file.pragma("incremental_vacuum(1000)");
      await pause();
    }
  }

  /** Runs `remove` in batches until it deletes nothing; answers the rows deleted. */
  private inBatches(remove: () => Promise<{ numDeletedRows: bigint }>): Promise<number> {
    return inBatches(remove, () => this.stopped);
  }
}
