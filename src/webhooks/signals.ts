import { randomUUID } from "node:crypto";
import pg from "pg";

/** The PostgreSQL channel on which processes ask a webhook's owner to act, and answer. */
export const WEBHOOK_CHANNEL = "threadline_webhooks";

/** How long a process waits for the owner of a webhook to take a flush on (none: nobody holds the lease now). */
export const REMOTE_ACCEPT_TIMEOUT_MS = 3_000;
/** How long it then waits for the owner to have sent the window. */
export const REMOTE_FLUSH_TIMEOUT_MS = 60_000;

/** A change of a webhook's settings, as the consumer's life sees it (manager.ts, the transitions). */
export type Change = "enable" | "disable" | "retarget" | "refilter" | "reaggregate" | "delete";

/** What a process may ask of a webhook's owner: send the open window, try what waits now, or apply a change made elsewhere. */
type Request = "flush" | "retry" | "replay" | "change";
/** The requests that run on the owner's consumer and answer a count (`retry`: 1 when it was failing and tries now). */
export type Ask = "flush" | "retry" | "replay";

type Message =
  | { op: Request; id: string; req: string; change?: Change }
  | { op: "accepted"; req: string }
  | { op: "flushed"; req: string; flushed: number; error?: string }
  | { op: "sync"; from: string };

/**
 * Requests between processes sharing one PostgreSQL database, over LISTEN/NOTIFY: a
 * process that does not hold a webhook's lease asks the one that does to send its open
 * window now (a flush, or before an aggregation change or a disable), or to apply a change
 * of its settings made through the asking process (the same transition a local change
 * takes), and waits for the answer. Every process listens; only the lease holder has a
 * consumer to act with, the others ignore the request. `sync` tells the others that the
 * shares changed (a process joined, or released leases): they look at once.
 */
export class WebhookSignals {
  private client: pg.Client | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private waiting = new Map<string, (m: Exclude<Message, { op: Request }>) => void>();
  private ready: Promise<void>;

  constructor(
    private databaseUrl: string,
    /** Flushes the webhook, or tries what waits now, if its consumer runs here; undefined when it does not. */
    private onAsk: (op: Ask, id: string) => Promise<number> | undefined,
    /** Applies a change made elsewhere if the webhook's consumer runs here; undefined when it does not. */
    private onChange: (id: string, change: Change) => Promise<void> | undefined,
    private onError: (err: unknown) => void,
    /** Another process (`from`) says the shares changed. */
    private onSync: (from: string) => void = () => {},
  ) {
    this.ready = this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const c = new pg.Client({ connectionString: this.databaseUrl });
    c.on("notification", (n) => {
      if (n.channel !== WEBHOOK_CHANNEL || !n.payload) return;
      try {
        this.handle(JSON.parse(n.payload) as Message);
      } catch (e) {
        this.onError(e);
      }
    });
    c.on("error", (e) => {
      this.onError(e);
      this.retry(c);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${WEBHOOK_CHANNEL}`);
      if (this.closed) await c.end();
      else this.client = c;
    } catch (e) {
      this.onError(e);
      this.retry(c);
    }
  }

  private retry(c: pg.Client): void {
    if (this.client === c) this.client = undefined;
    c.end().catch(() => undefined);
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.ready = this.connect();
    }, 1000);
    this.timer.unref();
  }

  private handle(m: Message): void {
    if (m.op === "accepted" || m.op === "flushed") {
      this.waiting.get(m.req)?.(m);
      return;
    }
    if (m.op === "sync") return this.onSync(m.from);
    const run = m.op === "change" ? this.onChange(m.id, m.change ?? "retarget")?.then(() => 0) : this.onAsk(m.op, m.id);
    if (!run) return;
    this.send({ op: "accepted", req: m.req });
    run.then(
      (flushed) => this.send({ op: "flushed", req: m.req, flushed }),
      (e: unknown) => this.send({ op: "flushed", req: m.req, flushed: 0, error: String(e) }),
    );
  }

  private send(m: Message): void {
    const c = this.client;
    if (!c) return this.onError(new Error("not connected: a webhook signal was not sent"));
    c.query("SELECT pg_notify($1, $2)", [WEBHOOK_CHANNEL, JSON.stringify(m)]).catch(this.onError);
  }

  /**
   * Asks the process that holds the webhook's lease to send its open window now; answers
   * how many deliveries it made, or undefined when no process answered in time.
   */
  async flush(id: string): Promise<number | undefined> {
    return this.request("flush", id);
  }

  /** Asks the process that holds the webhook's lease to try what waits now (a failing webhook's next retry). */
  async retryNow(id: string): Promise<number | undefined> {
    return this.request("retry", id);
  }

  /** Asks the process that holds the webhook's lease to start or stop the webhook's replay, as stored. */
  async replay(id: string): Promise<number | undefined> {
    return this.request("replay", id);
  }

  /**
   * Asks the process that holds the webhook's lease to apply a change made here; resolves
   * once it did, or undefined when none answered (nobody holds it: the next to claim it
   * reads the new settings).
   */
  async change(id: string, change: Change): Promise<number | undefined> {
    return this.request("change", id, change);
  }

  /** Tells the other processes the shares changed (best effort: their own sync comes within a second). */
  async announce(from: string): Promise<void> {
    await this.ready;
    const m: Message = { op: "sync", from };
    await this.client?.query("SELECT pg_notify($1, $2)", [WEBHOOK_CHANNEL, JSON.stringify(m)]).catch(this.onError);
  }

  private async request(op: Request, id: string, change?: Change): Promise<number | undefined> {
    await this.ready;
    const req = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<number | undefined>((resolve) => {
      this.waiting.set(req, (m) => {
        if (m.op === "flushed") return resolve(m.flushed);
        // Taken on by the owner: now wait for the window to go out.
        clearTimeout(timer);
        timer = setTimeout(() => resolve(undefined), REMOTE_FLUSH_TIMEOUT_MS);
      });
      timer = setTimeout(() => resolve(undefined), REMOTE_ACCEPT_TIMEOUT_MS);
    });
    this.send({ op, id, req, ...(change ? { change } : {}) });
    try {
      return await answer;
    } finally {
      clearTimeout(timer);
      this.waiting.delete(req);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.client?.end().catch(() => undefined);
  }
}
