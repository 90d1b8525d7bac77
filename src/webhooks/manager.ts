import type { ConsumerDeps, WebhookRow } from "./consumer.js";
import { Consumer, MessageConsumer } from "./consumer.js";
import { BundleConsumer } from "./bundles.js";
import { Leases, leasesHeldUntil } from "./leases.js";
import { DEFAULT_LEASE_MS } from "../config/index.js";
import { WebhookSignals, type Change } from "./signals.js";
import { ReplayRunner, runningReplays } from "./replay.js";

/** How long a shutdown waits for deliveries in flight before cutting them (the process must exit within 10 s). */
export const SHUTDOWN_GRACE_MS = 4_000;

/** The consumer for a webhook's aggregation setting. */
function consumerFor(deps: ConsumerDeps, row: WebhookRow): Consumer {
  return row.aggregation === "none" ? new MessageConsumer(deps, row) : new BundleConsumer(deps, row);
}

/**
 * The heartbeat and the look at the shares: one process row and two counts, whatever the
 * number of webhooks. Alone on SQLite nobody else reads the heartbeat, so it comes less often.
 */
const SYNC_EVERY_MS = 1000;
const SYNC_ALONE_EVERY_MS = 5000;
/**
 * The safety net for wake-ups that did not arrive (a NOTIFY lost while reconnecting) and
 * changes made elsewhere: one query for every webhook held, this often. In one process on
 * SQLite a wake-up cannot be lost (ingest calls `notify` after its commit).
 */
const SAFETY_NET_MS = 10_000;
const SAFETY_NET_ALONE_MS = 60_000;

/**
 * Runs one consumer per enabled webhook this process holds the lease of, and routes
 * wake-ups from ingest to the consumers of that workspace. A consumer runs only when there
 * is work: new messages (a wake), a retry or a window end (the scheduler), a change. With
 * several processes on one PostgreSQL database, each webhook is consumed by exactly one of
 * them, and each holds its fair share: ceil(enabled webhooks / live processes).
 *
 * Every change of a consumer's life is a named transition below (`enable` … `leaseGained`);
 * a change made through another process, a handover and a takeover take the same ones.
 */
export class DeliveryManager {
  private consumers = new Map<string, Consumer>();
  /** Replays (replay.ts) of webhooks held here, one per webhook: they run beside the consumer, never through it. */
  private replays = new Map<string, ReplayRunner>();
  private byWorkspace = new Map<string, Set<Consumer>>();
  /** Released to another process once their deliveries in flight end (`handOver`). */
  private handingOver = new Set<string>();
  /** In a transition (`change`, `apply`): the safety net leaves them alone until it ends. */
  private changing = new Map<string, number>();
  private poll: NodeJS.Timeout | undefined;
  private closed = false;
  private syncing = false;
  private syncAgain = false;
  private alone = false;
  private leasesValidUntil = 0;
  private lastSafetyNet = 0;
  private live = 1;
  private readonly leases: Leases;
  private signals: WebhookSignals | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private deps: ConsumerDeps,
    private leaseMs = DEFAULT_LEASE_MS,
  ) {
    this.leases = new Leases(deps.db, leaseMs);
  }

  /** This process's id among the processes sharing the database (its `processes` row); the sender claims messages under it too. */
  get processId(): string {
    return this.leases.owner;
  }

  /** Webhooks this process holds now (`threadline_webhook_leases_held`). */
  get held(): number {
    return this.consumers.size;
  }

  /** Processes delivering from this database, as last seen (`threadline_processes_live`). */
  get liveProcesses(): number {
    return this.live;
  }

  /** `alone`: no other process shares the database (SQLite), so leases a crash left behind are taken at once. */
  async start(opts: { alone?: boolean } = {}): Promise<void> {
    this.alone = opts.alone ?? false;
    if (this.alone) await this.leases.takeOverAll();
    await this.sync();
    // A process that joins: the others hand over their surplus now rather than at their next look.
    void this.signals?.announce(this.leases.owner);
    this.poll = setInterval(() => this.tick(), this.alone ? SYNC_ALONE_EVERY_MS : SYNC_EVERY_MS);
    this.poll.unref();
  }

  private tick(): void {
    // Before the sync, which may hang or fail while the database is unreachable.
    this.dropExpiredLeases();
    this.sync().catch((e) => this.deps.log.error({ err: e }, "the webhook leases' heartbeat failed; retrying"));
  }

  /**
   * The heartbeat, then the shares: webhooks this process lost or gained behind its back
   * are reconciled, it claims up to its fair share of the free ones or hands its surplus
   * over, and every so often the safety net looks at every webhook held at once.
   */
  private async sync(): Promise<void> {
    if (this.closed) return;
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    try {
      do {
        this.syncAgain = false;
        const beatAt = Date.now();
        this.live = await this.leases.heartbeat();
        this.leasesValidUntil = leasesHeldUntil(beatAt, this.leaseMs);
        let net = Date.now() - this.lastSafetyNet >= (this.alone ? SAFETY_NET_ALONE_MS : SAFETY_NET_MS);
        // Alone, every webhook is this process's and every change is made here: no shares to count.
        if (this.alone) {
          if (net) await this.safetyNet();
          continue;
        }
        const { enabled, held } = await this.leases.counts();
        if (this.closed) return;
        if (held !== this.consumers.size + this.handingOver.size) net = true;
        const share = Math.ceil(enabled / this.live);
        const mine = this.consumers.size + this.handingOver.size;
        if (mine < share && held < enabled) {
          const gained = await this.leases.claim(Math.min(share - mine, enabled - held));
          for (const row of gained) this.leaseGained(row);
          if (gained.length) net = true;
        } else if (this.consumers.size > share) {
          void this.handOver(this.consumers.size - share);
        }
        if (net) await this.safetyNet();
      } while (this.syncAgain && !this.closed);
    } finally {
      this.syncing = false;
    }
  }

  /**
   * One query for every webhook held: consumers for webhooks held but not running here are
   * started (a lease kept over a database blip), those no longer held stop, those changed
   * through another process restart, and those whose log holds messages past the cursor wake.
   */
  private async safetyNet(): Promise<void> {
    this.lastSafetyNet = Date.now();
    const rows = await this.leases.held();
    if (this.closed) return;
    const held = new Map(rows.map((r) => [r.id, r]));
    const gone = [...this.consumers.keys()].filter((id) => !held.has(id) && !this.changing.has(id));
    for (const id of gone) this.leaseLost(id);
    // Disabled here (a consumer that disabled itself): held by nobody, so whoever enables it takes it.
    if (gone.length) await this.leases.release(gone);
    const missing = rows
      .filter((r) => !this.consumers.has(r.id) && !this.handingOver.has(r.id) && !this.changing.has(r.id))
      .map((r) => r.id);
    for (const row of await this.leases.rows(missing))
      if (row.enabled === 1 && row.lease_owner === this.leases.owner && !this.changing.has(row.id))
        this.leaseGained(row);
    await this.syncReplays(rows.map((r) => r.id));
    for (const r of rows) {
      const c = this.consumers.get(r.id);
      if (!c || this.changing.has(r.id)) continue;
      // Changed through another process whose signal did not arrive (newer than what the consumer runs under).
      if (r.updated_at > c.row.updated_at) await this.apply(r.id, "refilter");
      else if (r.behind && c.active) c.wake();
    }
  }

  /**
   * The heartbeat could not be written (the database is unreachable) for long enough that
   * the others may take the webhooks over, so this one stops delivering them. The next
   * successful sync starts what it still holds again.
   */
  private dropExpiredLeases(): void {
    // Alone on its database (SQLite) nobody else could take them.
    if (this.alone || Date.now() < this.leasesValidUntil || this.consumers.size === 0) return;
    this.deps.log.warn(
      { webhooks: this.consumers.size },
      "webhook leases expired without renewal; stopping their deliveries here",
    );
    for (const id of [...this.consumers.keys()]) this.leaseLost(id);
    // The next look starts again what this process still holds.
    this.lastSafetyNet = 0;
  }

  // ---------------------------------------------------------------------------------------
  // The consumer's life: one consumer object per webhook held, in `phase` running, draining
  // or abandoned (consumer.ts). Each transition below is the only place that moves it.

  private add(row: WebhookRow, hasWork: boolean): void {
    // One consumer per webhook: a sync and a change may both get here after their awaits.
    if (this.closed || this.consumers.get(row.id)?.active) return;
    this.remove(row.id);
    const c = consumerFor(this.deps, row);
    this.consumers.set(row.id, c);
    let ws = this.byWorkspace.get(row.workspace_id);
    if (!ws) this.byWorkspace.set(row.workspace_id, (ws = new Set()));
    ws.add(c);
    c.start(hasWork);
  }

  private remove(id: string): Consumer | undefined {
    const c = this.consumers.get(id);
    if (!c) return undefined;
    this.consumers.delete(id);
    const ws = this.byWorkspace.get(c.row.workspace_id);
    ws?.delete(c);
    if (ws?.size === 0) this.byWorkspace.delete(c.row.workspace_id);
    return c;
  }

  /** A lease taken (a start, a fair share, a dead process's webhooks): a consumer from the stored row, idle until the safety net or a wake says otherwise. */
  private leaseGained(row: WebhookRow): void {
    this.add(row, false);
  }

  /** The lease is gone (expired, or another process holds it): outcomes in flight are not ours any more. */
  private leaseLost(id: string): void {
    this.replays.get(id)?.stop();
    const c = this.remove(id);
    // A consumer that disabled itself keeps recording its late outcomes.
    if (c?.active) c.abandon();
  }

  /**
   * More than the fair share: the surplus (idle consumers first) is handed over. What is in
   * flight ends and is recorded, the cursor is written, then the lease is released and the
   * other processes are told to look.
   */
  private async handOver(n: number): Promise<void> {
    const ids = [...this.consumers]
      .filter(([id]) => !this.changing.has(id))
      .sort(([, a], [, b]) => Number(b.idle) - Number(a.idle))
      .slice(0, n)
      .map(([id]) => id);
    const draining: Promise<void>[] = [];
    for (const id of ids) {
      const c = this.remove(id);
      if (!c) continue;
      this.handingOver.add(id);
      draining.push(c.drain());
      const r = this.replays.get(id);
      if (r) {
        r.stop();
        draining.push(r.done);
      }
    }
    try {
      await Promise.all(draining);
      await this.deps.writer.flush();
      await this.leases.release(ids);
    } catch (e) {
      this.deps.log.error({ err: e }, "handing webhooks over failed; their leases go with the next look");
    } finally {
      for (const id of ids) this.handingOver.delete(id);
    }
    void this.signals?.announce(this.leases.owner);
  }

  /**
   * What the consumer here does before a change is stored, one named step per kind (the
   * same whether the change was made here or, asked over NOTIFY, in another process).
   */
  private readonly stopFor: Record<Change, (c: Consumer) => Promise<void>> = {
    // Same consumer, new URL or secret (`after` hands it the row).
    retarget: async () => {},
    // What is in flight ends under the old settings and is recorded; its late failures count against nothing.
    disable: (c) => {
      c.row = { ...c.row, enabled: 0, disabled_reason: "manual", disabled_at: this.deps.clock.now() };
      return this.drainOut(c);
    },
    // What the receiver acknowledged is not sent again; what was read but not sent is read again under the new settings.
    refilter: (c) => this.drainOut(c),
    reaggregate: (c) => this.drainOut(c),
    // A fresh consumer from the stored cursor (and epoch); outcomes in flight are dropped.
    enable: async (c) => this.abandonOut(c),
    delete: async (c) => {
      this.abandonOut(c);
      this.deps.writer.forget(c.row.id);
    },
  };

  private drainOut(c: Consumer): Promise<void> {
    this.remove(c.row.id);
    return c.drain();
  }

  private abandonOut(c: Consumer): void {
    this.remove(c.row.id);
    c.abandon();
  }

  private before(c: Consumer, change: Change): Promise<void> {
    return this.stopFor[change](c);
  }

  /** After a change is stored: the consumer the settings now call for, here or where the lease is held. */
  private async after(id: string, change: Change, wasHere: boolean): Promise<void> {
    if (this.closed) return;
    await this.deps.writer.flush();
    const row = await this.deps.db.selectFrom("webhooks").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row || row.enabled !== 1) {
      if (!row) this.deps.writer.forget(id);
      // A disabled webhook is held by nobody: whoever enables it takes it.
      if (wasHere) await this.leases.release([id]);
      else await this.signals?.change(id, change);
      return;
    }
    const current = this.consumers.get(id);
    // The same consumer serves a new URL or secret; a new aggregation needs the other kind.
    if (current?.active && current.row.aggregation === row.aggregation) current.update(row);
    else if (await this.leases.claimOne(id)) this.add(row, true);
    else if (!wasHere) await this.signals?.change(id, change);
  }

  /** A change made elsewhere (another process, or the safety net) applied to the consumer here. */
  private async apply(id: string, change: Change): Promise<void> {
    await this.transition(id, async () => {
      const c = this.consumers.get(id);
      if (c) await this.before(c, change);
      await this.after(id, change, true);
    });
  }

  /** Runs the steps of one webhook's transition, marked as such for the safety net. */
  private async transition(id: string, steps: () => Promise<void>): Promise<void> {
    this.changing.set(id, (this.changing.get(id) ?? 0) + 1);
    try {
      await steps();
    } finally {
      const n = this.changing.get(id)! - 1;
      if (n) this.changing.set(id, n);
      else this.changing.delete(id);
    }
  }

  /**
   * A webhook's settings change through the API: the consumer here takes the transition
   * for `change` (enable, disable, retarget, refilter, reaggregate, replay, delete), the
   * change is stored (`steps.write`), then the consumer the new settings call for runs, here or
   * in the process holding the lease (asked over NOTIFY, which runs the same transition).
   * An aggregated webhook's open window goes out under the old settings before it is
   * disabled or re-aggregated, wherever its consumer runs. `row`: the webhook as stored now.
   */
  async change(
    row: WebhookRow,
    change: Change,
    steps: { write: () => Promise<unknown>; note?: () => void },
  ): Promise<void> {
    if (row.enabled === 1 && row.aggregation !== "none" && (change === "disable" || change === "reaggregate"))
      await this.flushOpen(row.id);
    // The activity says what changed after the window that went out under the old settings.
    steps.note?.();
    await this.transition(row.id, async () => {
      const c = this.consumers.get(row.id);
      if (c) await this.before(c, change);
      if (change === "delete") this.deps.writer.forget(row.id);
      await this.deps.writer.flush();
      await steps.write();
      await this.after(row.id, change, c !== undefined);
    });
  }

  /** A webhook just created here: its consumer starts here. */
  async created(id: string): Promise<void> {
    await this.after(id, "enable", true);
  }

  /**
   * Several processes on PostgreSQL: listen for requests from processes that do not hold a
   * webhook's lease (a flush, or a change made there) and for changes of the shares.
   */
  listen(databaseUrl: string, onError: (err: unknown) => void): void {
    this.signals ??= new WebhookSignals(
      databaseUrl,
      (op, id) =>
        !this.consumers.get(id)?.active
          ? undefined
          : op === "flush"
            ? this.flushHere(id)
            : op === "replay"
              ? this.replayHere(id)
              : Promise.resolve(this.retryHere(id)),
      (id, change) => (this.consumers.has(id) ? this.apply(id, change) : undefined),
      onError,
      (from) => {
        if (from !== this.leases.owner && this.poll)
          this.sync().catch((e) => this.deps.log.error({ err: e }, "looking at the webhook shares failed"));
      },
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

  /**
   * A failing webhook tries what waits now instead of at its next retry ("Retry now", or a
   * resend that succeeded), wherever its consumer runs. Answers 1 when a retry was brought
   * forward, 0 when nothing was failing (or nobody holds the webhook).
   */
  async retryNow(id: string): Promise<number> {
    if (this.consumers.get(id)?.active) return this.retryHere(id);
    if (this.signals && !this.closed) return (await this.signals.retryNow(id)) ?? 0;
    return 0;
  }

  /**
   * A replay of the webhook started or was cancelled (`webhook_replays`): the process holding
   * its lease starts or stops its runner, here or asked over NOTIFY (not when `remote` is
   * false: a runner elsewhere notices a cancellation within a second by itself). Nobody
   * answering is fine: whoever holds the lease next finds the running replay at its first look.
   */
  async replayChanged(id: string, opts: { remote?: boolean } = {}): Promise<void> {
    if (this.consumers.get(id)?.active || this.replays.has(id)) await this.replayHere(id);
    else if (opts.remote !== false && this.signals && !this.closed) await this.signals.replay(id);
  }

  private async replayHere(id: string): Promise<number> {
    const [row] = await runningReplays(this.deps.db, id);
    const current = this.replays.get(id);
    if (!row) current?.stop();
    else if (this.consumers.has(id)) this.startReplay(id, row.id);
    return 1;
  }

  /** The running replays of the webhooks held here run here; others' stop. */
  private async syncReplays(held: string[]): Promise<void> {
    const running = await runningReplays(this.deps.db);
    if (this.closed) return;
    const heldSet = new Set(held);
    for (const [id, r] of this.replays) if (!heldSet.has(id) && !this.changing.has(id)) r.stop();
    for (const row of running) if (this.consumers.has(row.webhook_id)) this.startReplay(row.webhook_id, row.id);
  }

  private startReplay(webhookId: string, replayId: string): void {
    const current = this.replays.get(webhookId);
    if (this.closed || (current && !current.stopping && current.replayId === replayId)) return;
    current?.stop();
    // After the one it replaces ended (a resumed replay never runs twice here).
    const start = () => {
      if (this.closed || (this.replays.get(webhookId) && this.replays.get(webhookId) !== current)) return;
      const r = new ReplayRunner(this.deps, replayId, webhookId);
      this.replays.set(webhookId, r);
      void r.done.then(() => {
        if (this.replays.get(webhookId) === r) this.replays.delete(webhookId);
      });
    };
    if (current) void current.done.then(start);
    else start();
  }

  /** The replay running here for a webhook, if any (tests and metrics). */
  replayRunning(id: string): boolean {
    return this.replays.get(id)?.stopping === false;
  }

  private retryHere(id: string): number {
    return this.consumers.get(id)?.retryNow() ? 1 : 0;
  }

  private async flushHere(id: string): Promise<number> {
    const c = this.consumers.get(id);
    if (!c) return 0;
    const n = await c.flushOpen();
    await this.deps.writer.flush();
    return n;
  }

  /** The log of `workspaceId` grew: its webhooks' consumers here wake (the others cost nothing). */
  notify(workspaceId: string): void {
    const ws = this.byWorkspace.get(workspaceId);
    if (ws) for (const c of ws) if (c.active) c.wake();
  }

  /** The consumer of a webhook, if one runs here. */
  consumer(id: string): Consumer | undefined {
    return this.consumers.get(id);
  }

  /**
   * Shutdown: consumers take no new work; deliveries in flight get `graceMs` to finish
   * (their outcomes and cursors are recorded), then the rest are cut and handed back:
   * their cursor stays behind them, so the next start sends them again (same webhook-id).
   */
  stop(opts: { graceMs?: number } = {}): Promise<void> {
    // The CLI stops deliveries first (with its grace), then closes the app, which asks again: one stop.
    return (this.stopping ??= this.shutDown(opts));
  }

  private async shutDown(opts: { graceMs?: number }): Promise<void> {
    this.closed = true;
    if (this.poll) clearInterval(this.poll);
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    this.byWorkspace.clear();
    const replays = [...this.replays.values()];
    for (const r of replays) r.stop();
    const drained = Promise.all([...consumers.map((c) => c.drain()), ...replays.map((r) => r.done)]);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"late">(
      (r) => (timer = setTimeout(() => r("late"), opts.graceMs ?? SHUTDOWN_GRACE_MS)),
    );
    if ((await Promise.race([drained, deadline])) === "late") await this.deps.deliverer.abort();
    clearTimeout(timer);
    await drained;
    this.deps.scheduler.close();
    await this.deps.writer.flush();
    // Hand the webhooks to the other processes at once instead of after the lease time.
    await this.leases
      .leave()
      .catch((e) => this.deps.log.error({ err: e }, "releasing webhook leases failed; they expire on their own"));
    await this.signals?.announce(this.leases.owner);
    await this.signals?.close();
  }
}
