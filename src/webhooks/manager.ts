import type { ConsumerDeps, WebhookRow } from "./consumer.js";
import { Consumer, MessageConsumer } from "./consumer.js";
import { BundleConsumer } from "./bundles.js";

/** Builds the consumer for an aggregation setting; bundles plug in here. */
export type ConsumerFactory = (deps: ConsumerDeps, row: WebhookRow) => Consumer;

/** How long a shutdown waits for deliveries in flight before cutting them (the process must exit within 10 s). */
export const SHUTDOWN_GRACE_MS = 4_000;

const defaultFactory: ConsumerFactory = (deps, row) => (row.aggregation === "none" ? new MessageConsumer(deps, row) : new BundleConsumer(deps, row));

/**
 * Runs one consumer per enabled webhook in this process and routes wake-ups from
 * ingest to the consumers of that workspace.
 */
export class DeliveryManager {
  private consumers = new Map<string, Consumer>();
  private poll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private deps: ConsumerDeps,
    private factory: ConsumerFactory = defaultFactory,
  ) {}

  async start(): Promise<void> {
    const rows = await this.deps.db.selectFrom("webhooks").selectAll().where("enabled", "=", 1).execute();
    // A webhook created or reloaded meanwhile already has its consumer.
    for (const row of rows) if (!this.consumers.has(row.id)) this.run(row);
    // A safety net for wake-ups that cannot reach this process (other writers).
    this.poll = setInterval(() => {
      for (const c of this.consumers.values()) c.wake();
    }, 1000);
    this.poll.unref();
  }

  private run(row: WebhookRow): void {
    if (this.closed) return;
    const c = this.factory(this.deps, row);
    this.consumers.set(row.id, c);
    c.start();
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
   * stop it. `restart` forces a fresh consumer (enabling, replay, aggregation change).
   */
  async reload(id: string, opts: { restart?: boolean } = {}): Promise<void> {
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
    else this.run(row);
  }

  /**
   * Shutdown: consumers take no new work; deliveries in flight get `graceMs` to finish
   * (their outcomes and cursors are recorded), then the rest are cut and handed back:
   * their cursor stays behind them, so the next start sends them again (same webhook-id).
   */
  async stop(opts: { graceMs?: number } = {}): Promise<void> {
    this.closed = true;
    if (this.poll) clearInterval(this.poll);
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    const drained = Promise.all(consumers.map((c) => c.drain()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), opts.graceMs ?? SHUTDOWN_GRACE_MS)));
    if ((await Promise.race([drained, deadline])) === "late") await this.deps.deliverer.abort();
    clearTimeout(timer);
    await drained;
    await this.deps.writer.flush();
  }
}
