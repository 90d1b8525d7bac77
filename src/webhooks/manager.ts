import type { ConsumerDeps, WebhookRow } from "./consumer.js";
import { Consumer, MessageConsumer } from "./consumer.js";
import { BundleConsumer } from "./bundles.js";
import { DEFAULT_LEASE_MS, Leases, leasesHeldUntil } from "./leases.js";
import { WebhookSignals } from "./signals.js";

/** How long a shutdown waits for deliveries in flight before cutting them (the process must exit within 10 s). */
export const SHUTDOWN_GRACE_MS = 4_000;

/** The consumer for a webhook's aggregation setting. */
function consumerFor(deps: ConsumerDeps, row: WebhookRow): Consumer {
  return row.aggregation === "none" ? new MessageConsumer(deps, row) : new BundleConsumer(deps, row);
}

/** How often leases are renewed and other processes' changes are picked up. */
const SYNC_EVERY_MS = 1000;

/**
 * Runs one consumer per enabled webhook this process holds the lease of, and routes
 * wake-ups from ingest to the consumers of that workspace. With several processes on
 * one PostgreSQL database, each webhook is consumed by exactly one of them.
 */
export class DeliveryManager {
  private consumers = new Map<string, Consumer>();
  private poll: NodeJS.Timeout | undefined;
  private closed = false;
  private syncing = false;
  private leasesValidUntil = 0;
  private readonly leases: Leases;
  private signals: WebhookSignals | undefined;

  constructor(
    private deps: ConsumerDeps,
    private leaseMs = DEFAULT_LEASE_MS,
  ) {
    this.leases = new Leases(deps.db, leaseMs);
  }

  /** `alone`: no other process shares the database (SQLite), so leases a crash left behind are taken at once. */
  async start(opts: { alone?: boolean } = {}): Promise<void> {
    if (opts.alone) await this.leases.takeOverAll();
    await this.sync();
    this.poll = setInterval(() => {
      // Before the sync, which may hang or fail while the database is unreachable.
      this.dropExpiredLeases();
      this.sync().catch((e) => this.deps.log.error({ err: e }, "renewing webhook leases failed; retrying"));
    }, SYNC_EVERY_MS);
    this.poll.unref();
  }

  /**
   * Renews and claims leases, starts consumers for webhooks this process now holds, stops
   * those it lost, restarts those another process changed (their `updated_at` moved), and
   * wakes the rest: a safety net for wake-ups that cannot reach this process.
   */
  private async sync(): Promise<void> {
    if (this.syncing || this.closed) return;
    this.syncing = true;
    try {
      const claimedAt = Date.now();
      const owned = new Map((await this.leases.claim()).map((o) => [o.id, o.updated_at]));
      this.leasesValidUntil = leasesHeldUntil(claimedAt, this.leaseMs);
      if (this.closed) return;
      for (const [id, c] of this.consumers) {
        // A consumer that disabled itself stays while the database still lists the webhook
        // as enabled and ours (its disable is not written yet); after that the database says
        // the rest, and keeping it would hide a re-enable made through another process.
        if (!owned.has(id)) {
          // Not stopped again: a consumer that disabled itself still records its late outcomes.
          if (c.active) c.stop();
          this.consumers.delete(id);
        }
      }
      for (const [id, updatedAt] of owned) {
        const c = this.consumers.get(id);
        if (!c) {
          const row = await this.deps.db.selectFrom("webhooks").selectAll().where("id", "=", id).executeTakeFirst();
          if (row && row.enabled === 1 && !this.consumers.has(id)) this.run(row);
        } else if (c.row.updated_at !== updatedAt) {
          // Changed through another process (a consumer that disabled itself included: it
          // may have been enabled again there).
          await this.reload(id, { restart: true });
        } else if (c.active) {
          c.wake();
        }
      }
    } finally {
      this.syncing = false;
    }
  }

  /**
   * Leases could not be renewed (the database is unreachable) and have run out: another
   * process may take the webhooks over, so this one stops delivering them. The next
   * successful sync starts what it holds again.
   */
  private dropExpiredLeases(): void {
    if (Date.now() < this.leasesValidUntil || this.consumers.size === 0) return;
    this.deps.log.warn({ webhooks: this.consumers.size }, "webhook leases expired without renewal; stopping their deliveries here");
    for (const c of this.consumers.values()) if (c.active) c.stop();
    this.consumers.clear();
  }

  private run(row: WebhookRow): void {
    // One consumer per webhook: a sync and a reload may both get here after their awaits.
    if (this.closed || this.consumers.get(row.id)?.active) return;
    const c = consumerFor(this.deps, row);
    this.consumers.set(row.id, c);
    c.start();
  }

  /**
   * Several processes on PostgreSQL: listen for requests from processes that do not hold a
   * webhook's lease (a flush, or the open window before an aggregation change or a disable).
   */
  listen(databaseUrl: string, onError: (err: unknown) => void): void {
    this.signals ??= new WebhookSignals(
      databaseUrl,
      (id) => (this.consumers.get(id)?.active ? this.flushHere(id) : undefined),
      (id) => (this.consumers.has(id) ? this.restartHere(id) : undefined),
      onError,
    );
  }

  /**
   * Sends a webhook's open window now, wherever its consumer runs: here, or in the process
   * holding its lease (asked over NOTIFY, which answers once the bundles went out and the
   * cursor is written). Answers how many deliveries it made.
   */
  async flushOpen(id: string): Promise<number> {
    if (this.consumers.get(id)?.active) return this.flushHere(id);
    if (this.signals && !this.closed) return (await this.signals.flush(id)) ?? 0;
    return 0;
  }

  /** A filter change made through another process: what is in flight ends and is recorded, then a fresh consumer. */
  private async restartHere(id: string): Promise<void> {
    await this.quiesce(id, "drain");
    await this.reload(id, { restart: true });
  }

  private async flushHere(id: string): Promise<number> {
    const c = this.consumers.get(id);
    if (!c) return 0;
    const n = await c.flushOpen();
    await this.deps.writer.flush();
    return n;
  }

  /**
   * Before a webhook's row changes through the API, its consumer here stops taking work:
   * - `drain` (an aggregation change): the deliveries in flight end under the old settings
   *   and are recorded (log, cursor), so what the receiver acknowledged is not sent again;
   * - `drain-disabled` (a disable by a user): the same, and their late failures count
   *   against nothing (no automatic disable lands over the user's decision);
   * - `stop` (a replay, an enable, a restart, a delete): their outcomes are dropped; the
   *   next consumer starts afresh from the cursor.
   * A consumer in another process sees the change by its `updated_at` on its next sync.
   */
  async quiesce(id: string, how: "drain" | "drain-disabled" | "stop"): Promise<void> {
    const c = this.consumers.get(id);
    if (!c) return;
    if (how === "stop") return c.stop();
    if (how === "drain-disabled") c.row = { ...c.row, enabled: 0, disabled_reason: "manual", disabled_at: this.deps.clock.now() };
    await c.drain();
  }

  /** The log of `workspaceId` grew. */
  notify(workspaceId: string): void {
    for (const c of this.consumers.values()) if (c.row.workspace_id === workspaceId && c.active) c.wake();
  }

  /** The consumer of a webhook, if one runs here. */
  consumer(id: string): Consumer | undefined {
    return this.consumers.get(id);
  }

  /**
   * A webhook's settings changed in the database: keep its consumer, replace it, or
   * stop it. `restart` forces a fresh consumer (enabling, replay, aggregation or filter change).
   */
  async reload(id: string, opts: { restart?: boolean; remote?: boolean } = {}): Promise<void> {
    // Shutting down: settings are in the database; the next start picks them up.
    if (this.closed) return;
    const existing = this.consumers.get(id);
    if (existing && opts.restart) {
      existing.stop();
      this.consumers.delete(id);
    }
    await this.deps.writer.flush();
    const row = await this.deps.db.selectFrom("webhooks").selectAll().where("id", "=", id).executeTakeFirst();
    const current = this.consumers.get(id);
    if (!row || row.enabled !== 1) {
      current?.stop();
      this.consumers.delete(id);
      if (!row) this.deps.writer.forget(id);
      return;
    }
    if (current?.active) current.update(row);
    // Another process may hold this webhook: then it runs there, and sees the change by its
    // updated_at within a second; `remote` (a filter change) asks it to restart at once.
    else if (await this.leases.claimOne(id)) this.run(row);
    else if (opts.remote && this.signals) await this.signals.restart(id);
  }

  /**
   * Shutdown: consumers take no new work; deliveries in flight get `graceMs` to finish
   * (their outcomes and cursors are recorded), then the rest are cut and handed back:
   * their cursor stays behind them, so the next start sends them again (same webhook-id).
   */
  async stop(opts: { graceMs?: number } = {}): Promise<void> {
    this.closed = true;
    if (this.poll) clearInterval(this.poll);
    await this.signals?.close();
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    const drained = Promise.all(consumers.map((c) => c.drain()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), opts.graceMs ?? SHUTDOWN_GRACE_MS)));
    if ((await Promise.race([drained, deadline])) === "late") await this.deps.deliverer.abort();
    clearTimeout(timer);
    await drained;
    await this.deps.writer.flush();
    // Hand the webhooks to the other processes at once instead of after the lease expires.
    await this.leases.releaseAll().catch((e) => this.deps.log.error({ err: e }, "releasing webhook leases failed; they expire on their own"));
  }
}
