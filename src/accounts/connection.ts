/**
 * Whether each account's WhatsApp session is receiving. The gateway says so in its session
 * events (WAHA `session.status`, Evolution `connection.update`, posted to the inbound URL)
 * and answers a status check (WAHA session, Evolution connection state) made every few
 * minutes. A disconnection that lasts THREADLINE_DISCONNECT_ALERT_MINUTES e-mails the
 * account's owner once per incident, and again when it is back.
 *
 * One clock timer per process for every account (`ConnectionWatch`): idle, it costs one
 * query a minute (the alerts due) plus a status check per gateway account every 5 minutes.
 */
import type { Logger } from "pino";
import type { DB } from "../db/index.js";
import type { Clock, ClockTimer } from "../clock/index.js";
import type { Alerts } from "../alerts/index.js";
import type { Metrics } from "../metrics.js";
import { adapterFor, type ConnectionReport, type GatewayHttp } from "../sources/index.js";
import { accountQuery, sourceAccount, type AccountRow, type ConnectionView } from "./service.js";

const TICK_MS = 60_000;
const STATUS_CHECK_MS = 5 * 60_000;

/** The connections of some accounts (one workspace's), for the API's account reads. */
export async function connectionsOf(
  db: DB,
  accounts: Pick<AccountRow, "id" | "source">[],
): Promise<Map<string, ConnectionView>> {
  const out = new Map<string, ConnectionView>();
  if (accounts.length === 0) return out;
  const ids = accounts.map((a) => a.id);
  const rows = await db.selectFrom("account_connections").selectAll().where("account_id", "in", ids).execute();
  const byId = new Map(rows.map((r) => [r.account_id, r]));
  for (const a of accounts) {
    // The newest message's time, through the chats' (account, last_message_at) index.
    const last = await db
      .selectFrom("chats")
      .select("last_message_at")
      .where("account_id", "=", a.id)
      .orderBy("last_message_at", "desc")
      .limit(1)
      .executeTakeFirst();
    const r = byId.get(a.id);
    const session = adapterFor(a.source)?.connectionStatus !== undefined;
    out.set(a.id, {
      state: session && r ? (r.state as ConnectionView["state"]) : "unknown",
      since: session && r ? new Date(Number(r.since)).toISOString() : null,
      reason: session && r ? r.reason : null,
      last_message_at: last ? new Date(Number(last.last_message_at)).toISOString() : null,
    });
  }
  return out;
}

interface Deps {
  db: DB;
  clock: Clock;
  log: Logger;
  alerts: Alerts;
  gateways: GatewayHttp;
  alertMinutes: number;
  metrics: Metrics;
  publicUrl(): string;
}

interface AccountRef {
  id: string;
  workspace_id: string;
  phone: string;
  email: string;
}

export class ConnectionWatch {
  private timer: ClockTimer | undefined;
  private lastCheck: number;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(private deps: Deps) {
    this.lastCheck = deps.clock.now();
    const db = deps.db;
    deps.metrics.disconnected(async () => {
      const row = await db
        .selectFrom("account_connections")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("state", "=", "disconnected")
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    });
  }

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.at(this.deps.clock.now() + TICK_MS, () => {
      this.running = this.tick()
        .catch((err) => this.deps.log.warn({ err }, "checking account connections failed; next minute again"))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    });
  }

  /** The alerts due now; every 5 minutes first the gateways' own answer. */
  async tick(): Promise<void> {
    const now = this.deps.clock.now();
    if (now - this.lastCheck >= STATUS_CHECK_MS) {
      this.lastCheck = now;
      await this.checkGateways();
    }
    await this.alertDue();
  }

  /** Every gateway account's session state, asked through the account's bound on gateway calls; no answer changes nothing. */
  private async checkGateways(): Promise<void> {
    const { db, gateways } = this.deps;
    const rows = await accountQuery(db).where("a.source", "in", ["waha", "evolution"]).execute();
    const startBy = Date.now() + 60_000;
    await Promise.all(
      rows.map(async (row) => {
        const adapter = adapterFor(row.source);
        if (!adapter?.connectionStatus) return;
        const report = await gateways.perAccount.run(
          row.id,
          () => adapter.connectionStatus!(sourceAccount(row), gateways),
          startBy,
        );
        if (report) await this.record(row, report);
      }),
    );
  }

  /**
   * What the gateway said (an event or a check). A change of state starts a new incident
   * (`since`); the same state keeps it and only refreshes the reason. Back to connected after
   * an alert: the recovery e-mail.
   */
  async record(account: AccountRef, report: ConnectionReport): Promise<void> {
    const { db, clock } = this.deps;
    const now = clock.now();
    const current = await db
      .selectFrom("account_connections")
      .selectAll()
      .where("account_id", "=", account.id)
      .executeTakeFirst();
    if (!current) {
      await db
        .insertInto("account_connections")
        .values({ account_id: account.id, state: report.state, since: now, reason: report.reason, alerted_at: null })
        .onConflict((oc) => oc.column("account_id").doNothing())
        .execute();
      if (report.state === "disconnected") this.alertAt(now);
      return;
    }
    if (current.state === report.state) {
      if (current.reason !== report.reason)
        await db
          .updateTable("account_connections")
          .set({ reason: report.reason })
          .where("account_id", "=", account.id)
          .where("state", "=", report.state)
          .execute();
      return;
    }
    // Conditional on the state read: of two processes hearing the same change, one writes it.
    const changed = await db
      .updateTable("account_connections")
      .set({ state: report.state, since: now, reason: report.reason, alerted_at: null })
      .where("account_id", "=", account.id)
      .where("state", "=", current.state)
      .where("since", "=", current.since)
      .executeTakeFirst();
    if (Number(changed.numUpdatedRows) !== 1) return;
    if (report.state === "disconnected") this.alertAt(now);
    if (report.state === "connected" && current.alerted_at !== null)
      await this.mailRecovered(account, Number(current.since), now);
  }

  /**
   * The alert of a disconnection heard here is sent the moment it is due (the minute's tick
   * covers the rest: other processes, restarts); a timer only while an incident is open.
   */
  private alertAt(since: number): void {
    this.deps.clock.at(since + this.deps.alertMinutes * 60_000, () => {
      if (!this.stopped)
        this.alertDue().catch((err) =>
          this.deps.log.warn({ err }, "sending a disconnection alert failed; the next tick tries again"),
        );
    });
  }

  /** Disconnections older than the alert delay that nobody was told about yet: one e-mail each. */
  private async alertDue(): Promise<void> {
    const { db, clock, alertMinutes } = this.deps;
    const now = clock.now();
    const due = await db
      .selectFrom("account_connections as c")
      .innerJoin("accounts as a", "a.id", "c.account_id")
      .innerJoin("teammates as t", "t.id", "a.owner_teammate_id")
      .select(["a.id", "a.workspace_id", "a.phone", "t.email", "c.since", "c.reason"])
      .where("c.state", "=", "disconnected")
      .where("c.alerted_at", "is", null)
      .where("c.since", "<=", now - alertMinutes * 60_000)
      .limit(1000)
      .execute();
    for (const d of due) {
      const claimed = await db
        .updateTable("account_connections")
        .set({ alerted_at: now })
        .where("account_id", "=", d.id)
        .where("state", "=", "disconnected")
        .where("alerted_at", "is", null)
        .where("since", "=", d.since)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 1) await this.mailDisconnected(d, Number(d.since), d.reason);
    }
  }

  private async mailDisconnected(a: AccountRef, since: number, reason: string | null): Promise<void> {
    const base = this.deps.publicUrl();
    await this.deps.alerts.send(
      a.workspace_id,
      { kind: "account_disconnected" },
      `Threadline: WhatsApp account ${a.phone} stopped receiving`,
      [
        `The WhatsApp session of account ${a.phone} (id ${a.id}) has been disconnected since ${new Date(since).toISOString()}${reason ? ` (the gateway says: ${reason})` : ""}.`,
        "No messages arrive from it until it is connected again: open the gateway (WAHA or Evolution API),",
        "check the phone is online, and scan the QR code again if the session was logged out.",
        "",
        `You get one more e-mail when it is back. The account: ${base}/accounts`,
      ].join("\n"),
      a.email,
    );
  }

  private async mailRecovered(a: AccountRef, since: number, at: number): Promise<void> {
    await this.deps.alerts.send(
      a.workspace_id,
      { kind: "account_recovered" },
      `Threadline: WhatsApp account ${a.phone} is receiving again`,
      `The WhatsApp session of account ${a.phone} (id ${a.id}) is connected again since ${new Date(at).toISOString()}; it was disconnected from ${new Date(since).toISOString()}.`,
      a.email,
    );
  }
}
