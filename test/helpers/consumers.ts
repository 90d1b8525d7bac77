// The delivery side of a process, in the test's own process (as graphile-worker's helpers run
// its workers): the real DeliveryManager, consumers, DeliveryWriter, Clock (moved by `advance`)
// and Scheduler, on a real storage (SQLite or PostgreSQL), with workspaces, accounts, webhooks
// and messages made through the real services and ingest. Only the HTTP request is scripted
// (`ScriptedDeliverer`). Tests of HTTP, crashes and several processes keep a spawned server.
import pino from "pino";
import { Alerts } from "../../src/alerts/index.js";
import { createAccount } from "../../src/accounts/service.js";
import { Clock } from "../../src/clock/index.js";
import { Scheduler } from "../../src/clock/scheduler.js";
import { migrate, type DB, type Storage } from "../../src/db/index.js";
import { ingestMessages } from "../../src/ingest/ingest.js";
import type { IngestMessage } from "../../src/ingest/types.js";
import { getMessage, messageView } from "../../src/timeline/service.js";
import type { ConsumerDeps, WebhookRow } from "../../src/webhooks/consumer.js";
import { Deliverer } from "../../src/webhooks/deliver.js";
import { DeliveryManager } from "../../src/webhooks/manager.js";
import type { AttemptResult, DeliveryErrorCode } from "../../src/webhooks/outcome.js";
import type { DisabledReason } from "../../src/webhooks/policy.js";
import { WebhookService } from "../../src/webhooks/service.js";
import { TargetGuard } from "../../src/webhooks/targets.js";
import { DeliveryWriter } from "../../src/webhooks/writer.js";
import { createWorkspace } from "../../src/workspaces/service.js";
import { openTestStorage, type Database } from "./server.js";
import { contactNo, entry, type Entry } from "./workspace.js";

/** One attempt as the receiver would have seen it. */
export interface ScriptedCall {
  /** The `webhook-id` (the delivery's id, the same on every attempt of it). */
  id: string;
  /** The how-many-th attempt of this delivery the receiver sees (1 for the first). */
  attempt: number;
  url: string;
  /** The workspace delivering (the deliverer's tenant). */
  workspaceId: string;
  /** The secrets that sign it (the current one, and the previous one during its grace). */
  secrets: readonly string[];
  /** Attempts in flight when it arrived, itself included. */
  concurrency: number;
  /** The payload, parsed. */
  json: any;
  /** An unaggregated payload's message: its id, text and chat id (a bundle's: its first message's text, its chat's id). */
  messageId: string;
  text: string;
  chat: string;
}

/**
 * How an attempt ends: the receiver's answer (`status`, optional headers such as Retry-After),
 * or a network error (`error`: TIMEOUT, CONNECTION_REFUSED, CONNECTION_RESET, …). `delayMs`:
 * real time before it ends (an attempt in flight while others end).
 */
export type ScriptedAnswer =
  | { status: number; headers?: Record<string, string>; delayMs?: number }
  | { error: Exclude<DeliveryErrorCode, "SHUTDOWN" | "INTERNAL_ERROR">; delayMs?: number };

/**
 * The `Deliverer` with its HTTP request replaced by `answer`, a function the test sets (200 by
 * default). Records every attempt in `calls`. The rest (what the result means) is the consumer's.
 */
export class ScriptedDeliverer extends Deliverer {
  answer: (call: ScriptedCall) => ScriptedAnswer | Promise<ScriptedAnswer> = () => ({ status: 200 });
  readonly calls: ScriptedCall[] = [];
  /** Attempts started and not ended. */
  running = 0;
  private stopped = false;
  private waiting = new Set<() => void>();

  constructor(private readonly testClock: Clock) {
    super(new TargetGuard(true), "threadline-test", testClock);
  }

  /** The attempts one workspace's webhooks made, in order. */
  callsOf(workspaceId: string): ScriptedCall[] {
    return this.calls.filter((c) => c.workspaceId === workspaceId);
  }

  /** The deliveries of one workspace a receiver accepted, once each, in arrival order. */
  acceptedOf(workspaceId: string): ScriptedCall[] {
    return [...this.accepted.values()].filter((c) => c.workspaceId === workspaceId);
  }

  /** The first call of each delivery answered with a 2xx, by webhook-id, in arrival order (a receiver's dedupe). */
  readonly accepted = new Map<string, ScriptedCall>();

  override async attempt(
    url: string,
    secrets: readonly string[],
    webhookId: string,
    body: string,
    tenant = "",
  ): Promise<AttemptResult> {
    const at = this.testClock.now();
    const started = performance.now();
    const request = { method: "POST" as const, url, headers: { "webhook-id": webhookId }, body };
    const ended = (over: Partial<AttemptResult>): AttemptResult => ({
      ok: false,
      at,
      durationMs: Math.round(performance.now() - started),
      request,
      response: null,
      error: null,
      ...over,
    });
    if (this.stopped) return ended({ error: { code: "SHUTDOWN", message: "Threadline shut down (scripted)." } });
    const json = JSON.parse(body);
    const call: ScriptedCall = {
      id: webhookId,
      attempt: this.calls.filter((c) => c.id === webhookId).length + 1,
      url,
      workspaceId: tenant,
      secrets,
      concurrency: ++this.running,
      json,
      messageId: String(json?.message?.message_id ?? ""),
      text: String(json?.message?.text ?? json?.messages?.[0]?.text ?? ""),
      chat: String(json?.chat?.chat_id ?? ""),
    };
    this.calls.push(call);
    try {
      return await this.answered(call, ended);
    } finally {
      this.running--;
    }
  }

  private async answered(call: ScriptedCall, ended: (over: Partial<AttemptResult>) => AttemptResult) {
    const a = await this.answer(call);
    if (a.delayMs) {
      await new Promise<void>((resolve) => {
        const done = () => (this.waiting.delete(done), clearTimeout(timer), resolve());
        const timer = setTimeout(done, a.delayMs);
        this.waiting.add(done);
      });
    }
    if (this.stopped) return ended({ error: { code: "SHUTDOWN", message: "Threadline shut down (scripted)." } });
    if ("error" in a) return ended({ error: { code: a.error, message: `Scripted ${a.error}.` } });
    const ok = a.status >= 200 && a.status < 300;
    if (ok && !this.accepted.has(call.id)) this.accepted.set(call.id, call);
    const headers = a.headers ?? {};
    // Retry-After in seconds only (the HTTP-date form is the real Deliverer's to parse).
    const retryAfter = headers["retry-after"];
    return ended({
      ok,
      response: { status: a.status, headers, body: "" },
      error: ok ? null : { code: "HTTP_ERROR", message: `The receiver answered ${a.status}.` },
      ...((a.status === 429 || a.status === 503) && retryAfter ? { retryAfterMs: Number(retryAfter) * 1000 } : {}),
    });
  }

  override async abort(): Promise<void> {
    this.stopped = true;
    for (const done of [...this.waiting]) done();
    await super.abort();
  }
}

/** What the consumers told the rest of the process (metrics and alerts in `serve`). */
export interface RecordedEvents {
  attempted: AttemptResult[];
  warnings: { webhookId: string; failures: number }[];
  disabled: { webhookId: string; reason: DisabledReason }[];
}

/**
 * A storage (fresh, migrated) and the delivery side of a process on it, built as src/app.ts
 * builds it. `wrap`: the database the consumers use, e.g. with a query-counting plugin.
 * The manager is not started (`start`); `close` stops it and removes the storage.
 */
export class InProcessConsumers {
  readonly clock = new Clock();
  /** Errors thrown by scheduled tasks (retries, window ends): a test expects none. */
  readonly errors: unknown[] = [];
  /** Flushes of delivery writes that failed (the writer keeps their content for the next). */
  readonly writeErrors: unknown[] = [];
  /** The process's log lines at info and above, parsed (`msg` and the fields), as `serve` writes them. */
  readonly logs: Record<string, unknown>[] = [];
  readonly scheduler = new Scheduler(this.clock, (err) => void this.errors.push(err));
  readonly deliverer = new ScriptedDeliverer(this.clock);
  readonly events: RecordedEvents = { attempted: [], warnings: [], disabled: [] };
  readonly db: DB;
  readonly writer: DeliveryWriter;
  readonly alerts: Alerts;
  readonly deps: ConsumerDeps;
  readonly manager: DeliveryManager;
  readonly webhooks: WebhookService;
  private started = false;
  private phones = 0;

  private constructor(
    readonly database: Database,
    readonly storage: Storage,
    private cleanup: () => Promise<void>,
    wrap: (db: DB) => DB,
  ) {
    const keep = { write: (line: string) => void this.logs.push(JSON.parse(line)) };
    // TEST_LOG_LEVEL (debug, trace, …) also prints them.
    const echo = process.env.TEST_LOG_LEVEL as pino.Level | undefined;
    const logged = echo
      ? pino(
          { level: pino.levels.values[echo]! < pino.levels.values.info! ? echo : "info" },
          pino.multistream([
            { stream: keep, level: "info" },
            { stream: process.stderr, level: echo },
          ]),
        )
      : pino({ level: "info" }, keep);
    this.db = wrap(storage.db);
    this.writer = new DeliveryWriter(this.db, (err) => {
      this.writeErrors.push(err);
      logged.error({ err }, "writing delivery state failed; the next flush writes it again");
    });
    const publicUrl = () => "http://threadline.test";
    this.alerts = new Alerts({
      db: this.db,
      clock: this.clock,
      log: logged,
      config: { smtpUrl: undefined, mailFrom: "threadline@test" },
      publicUrl,
    });
    const { events } = this;
    const consumerEvents = this.alerts.consumerEvents(this.writer, {
      attempted: (_w, r) => void events.attempted.push(r),
      warning: (w, failures) => void events.warnings.push({ webhookId: w.id, failures }),
      disabled: (w, reason) => void events.disabled.push({ webhookId: w.id, reason }),
    });
    this.deps = {
      db: this.db,
      clock: this.clock,
      scheduler: this.scheduler,
      writer: this.writer,
      deliverer: this.deliverer,
      publicUrl,
      log: logged,
      events: consumerEvents,
    };
    this.manager = new DeliveryManager(this.deps);
    this.webhooks = new WebhookService({
      db: this.db,
      clock: this.clock,
      writer: this.writer,
      deliverer: this.deliverer,
      manager: this.manager,
      guard: new TargetGuard(true),
      alerts: this.alerts,
      publicUrl,
    });
  }

  static async open(database: Database, opts: { wrap?: (db: DB) => DB } = {}): Promise<InProcessConsumers> {
    const { storage, close } = await openTestStorage(database);
    try {
      await migrate(storage);
    } catch (e) {
      await close();
      throw e;
    }
    return new InProcessConsumers(database, storage, close, opts.wrap ?? ((db) => db));
  }

  /** Starts delivering, as `serve` does (alone on SQLite). */
  async start(): Promise<void> {
    this.started = true;
    await this.manager.start({ alone: this.database === "sqlite" });
  }

  /** A workspace (through the workspace service) with one `api` account (the account service). */
  async workspace(
    name = "Acme",
    opts: { timezone?: string } = {},
  ): Promise<{ id: string; phone: string; owner: { full_name: string; email: string } }> {
    const ws = await createWorkspace(this.db, this.clock, {
      name,
      owner: { full_name: "Amnon Haha", email: "amnon@acme.com" },
      ...opts,
    });
    const phone = `+9725000${String(++this.phones).padStart(5, "0")}`;
    await createAccount(this.db, this.clock, ws.id, { phone, owner_email: "amnon@acme.com", source: "api" });
    return { id: ws.id, phone, owner: { full_name: "Amnon Haha", email: "amnon@acme.com" } };
  }

  /** A webhook created through the webhook service (its consumer starts here). */
  webhook(workspaceId: string, settings: { url?: string; aggregation?: string } = {}): Promise<WebhookRow> {
    return this.webhooks.create(workspaceId, { url: "https://receiver.example/hook", ...settings });
  }

  /** One text message per `[chat number, text]` through ingest (which wakes the consumers); answers their ids. */
  async ingest(ws: { id: string; phone: string }, items: [chat: number, text: string][]): Promise<string[]> {
    const messages = items.map(([chat, text]) =>
      entry(ws, { contact: contactNo(chat), text, timestamp: Math.floor(this.clock.now() / 1000) }),
    );
    const r = await ingestMessages(this.db, this.clock, ws.id, messages, {
      onCommitted: (id, summary) => summary.accepted > 0 && this.manager.notify(id),
    });
    return r.messageIds;
  }

  /** Messages as a gateway posts them (test/helpers/workspace.ts's `entry`) through ingest; answers each one's result. */
  async ingestEntries(ws: { id: string }, entries: Entry[]): Promise<{ status: string; message_id: string }[]> {
    const r = await ingestMessages(this.db, this.clock, ws.id, entries as IngestMessage[], {
      onCommitted: (id, summary) => summary.accepted > 0 && this.manager.notify(id),
    });
    return r.results;
  }

  /** A message's permalink, as the API shows it. */
  async permalinkOf(workspaceId: string, messageId: string): Promise<string> {
    return messageView(await getMessage(this.db, workspaceId, messageId), "http://threadline.test").permalink;
  }

  /** The workspace's e-mails (the notifications outbox: no SMTP here), newest first. */
  notifications(workspaceId: string): Promise<{ subject: string }[]> {
    return this.alerts.list(workspaceId, 100);
  }

  /** Moves the clock forward to `at`: retries and window ends that became due run. */
  advanceTo(at: number): number {
    const now = this.clock.now();
    if (at < now)
      throw new Error(`cannot move the clock back (${new Date(at).toISOString()} < ${new Date(now).toISOString()})`);
    return this.advance(at - now);
  }

  /** Moves the clock forward: retries and window ends that became due run. */
  advance(ms: number): number {
    // Whole milliseconds, as the API's advance_ms: times are stored as integers.
    return this.clock.advance(Math.ceil(ms));
  }

  /** The webhook as stored, after what the consumer buffered is written (as the API reads it). */
  stored(workspaceId: string, id: string): Promise<WebhookRow> {
    return this.webhooks.get(workspaceId, id);
  }

  /** Stops what runs (each step even if one before it failed), then removes the storage. */
  async close(): Promise<void> {
    const failed: unknown[] = [];
    const step = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        failed.push(e);
      }
    };
    if (this.started) await step(() => this.manager.stop());
    this.scheduler.close();
    await step(() => this.writer.close());
    await step(() => this.deliverer.close());
    await step(() => this.cleanup());
    if (failed.length) throw failed[0];
  }
}
