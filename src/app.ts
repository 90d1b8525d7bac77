import { readFileSync } from "node:fs";
import path from "node:path";
import pino, { type Logger } from "pino";
import type { Config } from "./config/index.js";
import { useTestPasswordCost } from "./workspaces/passwords.js";
import { Clock } from "./clock/index.js";
import { Scheduler } from "./clock/scheduler.js";
import { listenLogGrowth, openStorage, migrate, type DB, type Storage } from "./db/index.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { Deliverer } from "./webhooks/deliver.js";
import { TargetGuard } from "./webhooks/targets.js";
import { DeliveryWriter } from "./webhooks/writer.js";
import { DeliveryManager } from "./webhooks/manager.js";
import { WebhookService } from "./webhooks/service.js";
import { ensureOperatorToken } from "./workspaces/service.js";
import { ingestWith, type Ingest } from "./ingest/ingest.js";
import { learnPairs } from "./ingest/identity.js";
import { Alerts } from "./alerts/index.js";
import { GatewayHttp } from "./sources/gateway-http.js";
import { Sender } from "./sending/sender.js";
import { ConnectionWatch } from "./accounts/connection.js";
import { RetentionPruner } from "./retention/index.js";
import { PACKAGE_ROOT } from "./package-root.js";

export const VERSION: string = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")).version;

/** Everything one Threadline process holds: built once, passed to the HTTP layer. */
export interface Threadline {
  config: Config;
  storage: Storage;
  db: DB;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  writer: DeliveryWriter;
  deliverer: Deliverer;
  manager: DeliveryManager;
  webhooks: WebhookService;
  alerts: Alerts;
  /** Outgoing calls to WhatsApp gateways, through the same target guard as webhooks. */
  gateways: GatewayHttp;
  /** Works through the queue of messages sent from Threadline (src/sending). */
  sender: Sender;
  /** Each account's gateway session: events, status checks, disconnection alerts (accounts/connection.ts). */
  connections: ConnectionWatch;
  publicUrl(): string;
  setPort(port: number): void;
  /** The one way into the message log: every commit is counted in the metrics and wakes the workspace's webhooks. */
  ingest: Ingest;
  /** Remembers a contact's (hidden id, phone) pair learned outside a message (a late lookup): its chat takes the phone or merges. */
  learnContact(workspaceId: string, pair: { accountId: string; hidden: string; phone: string }): Promise<void>;
  close(): Promise<void>;
}

export async function createThreadline(config: Config): Promise<Threadline & { operatorTokenGenerated?: string }> {
  const log = pino({ level: config.logLevel, base: undefined });
  if (config.testPasswords) useTestPasswordCost();
  // A database that cannot be opened stops start-up with one sentence naming the variable.
  const dbError = (e: unknown) => {
    const err = e as { message?: string; code?: string } | undefined;
    const why = (err?.message || err?.code || String(e)).replace(/\.$/, "");
    const what = config.databaseUrl
      ? "the PostgreSQL database of DATABASE_URL"
      : `the SQLite database in THREADLINE_DATA_DIR (${config.dataDir})`;
    return new Error(`Could not open ${what}: ${why}.`);
  };
  let storage: Storage;
  try {
    storage = openStorage(config, (err) =>
      log.warn({ err }, "a database connection was dropped; it is replaced on next use"),
    );
  } catch (e) {
    throw dbError(e);
  }
  await migrate(storage).catch(async (e: unknown) => {
    await storage.close().catch(() => undefined);
    throw dbError(e);
  });
  const db = storage.db;
  const clock = new Clock();
  const metrics = createMetrics();
  let port = config.port;
  const publicUrl = () => config.publicUrl ?? `http://localhost:${port}`;
  const writer = new DeliveryWriter(db, (err) =>
    log.error({ err }, "writing delivery state failed; the next flush writes it again"),
  );
  const guard = new TargetGuard(config.allowPrivateTargets);
  const deliverer = new Deliverer(guard, `Threadline/${VERSION}`, clock);
  const gateways = new GatewayHttp(guard);
  const alerts = new Alerts({ db, clock, log, config, publicUrl });
  const events = alerts.consumerEvents(writer, {
    attempted(_w, r) {
      metrics.attempted(r.ok ? "success" : (r.error?.code ?? "error").toLowerCase(), r.durationMs / 1000);
    },
    disabled: () => metrics.disabled.inc(),
  });
  // Every retry and window end of this process on one timer.
  const scheduler = new Scheduler(clock, (err) => log.error({ err }, "a scheduled webhook task failed"));
  const consumerDeps = {
    db,
    clock,
    scheduler,
    writer,
    deliverer,
    publicUrl,
    log,
    events,
    bundleMaxBytes: config.bundleMaxBytes,
  };
  const manager = new DeliveryManager(consumerDeps, config.webhookLeaseMs);
  metrics.shares(() => ({ held: manager.held, live: manager.liveProcesses }));
  const webhooks = new WebhookService({
    db,
    clock,
    writer,
    deliverer,
    manager,
    guard,
    alerts,
    publicUrl,
    bundleMaxBytes: config.bundleMaxBytes,
  });
  const { generated } = await ensureOperatorToken(db, config.adminToken);
  // Payloads carry the public URL: with PORT=0 and no THREADLINE_PUBLIC_URL it is known only
  // once listening (setPort), so the backlog is not delivered with "localhost:0" in chat_url.
  let delivering: Promise<void> | undefined;
  const startDelivering = () => (delivering ??= manager.start({ alone: storage.dialect === "sqlite" }));
  // Several processes on PostgreSQL: a flush made through another process reaches the webhook's owner.
  if (config.databaseUrl)
    manager.listen(config.databaseUrl, (err) =>
      log.warn({ err }, "webhook signals between processes failed; reconnecting"),
    );
  if (config.publicUrl !== undefined || config.port !== 0) await startDelivering();
  // Several processes on PostgreSQL: an ingest in another process wakes the consumers here.
  const listener = config.databaseUrl
    ? listenLogGrowth(
        config.databaseUrl,
        (workspaceId) => manager.notify(workspaceId),
        (err) => log.warn({ err }, "listening for new messages failed; reconnecting"),
        (listening) => storage.cache.invalidate(listening),
      )
    : undefined;
  const ingest = ingestWith(
    db,
    clock,
    (workspaceId, summary) => {
      metrics.ingested.inc({ status: "accepted" }, summary.accepted);
      metrics.ingested.inc({ status: "duplicate" }, summary.duplicates);
      metrics.ingested.inc({ status: "skipped" }, summary.skipped);
      if (summary.accepted > 0) manager.notify(workspaceId);
    },
    () => metrics.chatsMerged.inc(),
  );
  const sender = new Sender({
    db,
    clock,
    log,
    metrics,
    gateways,
    ingest,
    defaultPauseMs: config.sendPauseMs,
    alone: storage.dialect === "sqlite",
    processId: manager.processId,
  });
  await sender.start();
  const connections = new ConnectionWatch({
    db,
    clock,
    log,
    alerts,
    gateways,
    alertMinutes: config.disconnectAlertMinutes,
    metrics,
    publicUrl,
  });
  connections.start();
  const pruner = new RetentionPruner({ db, clock, log });
  pruner.start();
  return {
    config,
    storage,
    db,
    clock,
    log,
    metrics,
    writer,
    deliverer,
    manager,
    webhooks,
    alerts,
    gateways,
    publicUrl,
    setPort(p) {
      port = p;
      startDelivering().catch((e) => log.error({ err: e }, "starting webhook deliveries failed"));
    },
    ingest,
    learnContact: (workspaceId, pair) => learnPairs(db, clock, workspaceId, [pair], () => metrics.chatsMerged.inc()),
    sender,
    connections,
    async close() {
      await listener?.close();
      await connections.stop();
      await pruner.stop();
      await sender.stop();
      await manager.stop();
      // An alert e-mail being written or sent gets a moment (it is in the outbox already once written).
      await alerts.settle(2_000);
      await writer.close();
      await deliverer.close();
      await gateways.close();
      await storage.close();
    },
    operatorTokenGenerated: generated,
  };
}
