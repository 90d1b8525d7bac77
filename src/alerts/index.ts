import nodemailer, { type Transporter } from "nodemailer";
import type { Logger } from "pino";
import type { DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import type { Config } from "../config/index.js";
import type { WebhookRow } from "../webhooks/consumer.js";
import { getWorkspace } from "../workspaces/service.js";

interface Deps {
  db: DB;
  clock: Clock;
  log: Logger;
  config: Pick<Config, "smtpUrl" | "mailFrom">;
  publicUrl(): string;
}

/**
 * E-mails to a workspace's owner. Every e-mail is kept in the notifications outbox;
 * with SMTP configured it is also sent (and marked delivered once the server took it).
 */
export class Alerts {
  private transport: Transporter | undefined;
  private sending = new Set<Promise<void>>();

  constructor(private deps: Deps) {
    if (deps.config.smtpUrl) {
      // Bounded waits: a dead mail server must not hold an alert (or a shutdown) for minutes.
      this.transport = nodemailer.createTransport({ url: deps.config.smtpUrl, connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 30_000 });
    }
  }

  /**
   * Keeps the e-mail in the notifications outbox first (so a failing mail server or a
   * shutdown loses nothing), then sends it through SMTP when configured and marks it delivered.
   */
  send(workspaceId: string, subject: string, text: string): Promise<void> {
    const p = this.sendNow(workspaceId, subject, text);
    this.sending.add(p);
    return p.finally(() => this.sending.delete(p));
  }

  private async sendNow(workspaceId: string, subject: string, text: string): Promise<void> {
    const { db, clock, log, config } = this.deps;
    const ws = await getWorkspace(db, workspaceId);
    const to = ws.owner.email;
    const kept = await db
      .insertInto("notifications")
      .values({ workspace_id: workspaceId, at: clock.now(), to_address: to, subject, text, delivered: 0 })
      .returning("id")
      .executeTakeFirstOrThrow();
    if (!this.transport) {
      log.warn({ to, subject, text }, "alert e-mail kept in the notifications outbox (THREADLINE_SMTP_URL is not set)");
      return;
    }
    try {
      await this.transport.sendMail({ from: config.mailFrom, to, subject, text });
    } catch (e) {
      log.error({ err: e, to, subject }, "sending an alert e-mail failed; it is kept in the notifications outbox");
      return;
    }
    log.info({ to, subject }, "alert e-mail sent");
    await db.updateTable("notifications").set({ delivered: 1 }).where("id", "=", kept.id).execute();
  }

  /** Waits (at most `ms`) for e-mails being sent; for shutdown. */
  async settle(ms: number): Promise<void> {
    if (!this.sending.size) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.sending]), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  private async recentErrors(webhookId: string): Promise<string> {
    const rows = await this.deps.db
      .selectFrom("webhook_requests")
      .select(["at", "error"])
      .where("webhook_id", "=", webhookId)
      .where("error", "is not", null)
      .orderBy("id", "desc")
      .limit(5)
      .execute();
    return rows.map((r) => `- ${new Date(r.at).toISOString()}: ${(JSON.parse(r.error!) as { message: string }).message}`).join("\n");
  }

  async webhookWarning(w: WebhookRow, failures: number): Promise<void> {
    try {
      const errors = await this.recentErrors(w.id);
      await this.send(
        w.workspace_id,
        `Threadline: your webhook is failing (${failures} errors in a row)`,
        [
          `Your outgoing webhook ${w.url} (${w.id}) has failed ${failures} times in a row.`,
          `If it keeps failing it is disabled after ${10 + 1} consecutive errors. Nothing is lost: pending messages wait and are delivered once it works again.`,
          "",
          "Latest errors:",
          errors || "- (none recorded)",
          "",
          `Check the receiver, then see the webhook's activity at ${this.deps.publicUrl()}/webhooks`,
        ].join("\n"),
      );
    } catch (e) {
      this.deps.log.error({ err: e }, "could not send the warning e-mail");
    }
  }

  async webhookDisabled(w: WebhookRow, reason: string): Promise<void> {
    try {
      const since = w.disabled_at ?? this.deps.clock.now();
      const errors = await this.recentErrors(w.id);
      await this.send(
        w.workspace_id,
        "Threadline: your webhook was disabled",
        [
          `Your outgoing webhook ${w.url} (${w.id}) was disabled on ${new Date(since).toISOString()} ${reason === "gone" ? "because the receiver answered 410 Gone" : "after more than 10 consecutive errors"}.`,
          "",
          "Latest errors:",
          errors || "- (none recorded)",
          "",
          "Nothing is lost: messages stored while it is disabled are kept.",
          `To re-enable it, fix the receiver and switch it on in Webhooks → Outgoing (${this.deps.publicUrl()}/webhooks),`,
          `or call PATCH /api/v1/webhooks/${w.id} with {"enabled": true}; pending messages are then delivered in order.`,
        ].join("\n"),
      );
    } catch (e) {
      this.deps.log.error({ err: e }, "could not send the disable e-mail");
    }
  }

  async list(workspaceId: string, limit: number) {
    const rows = await this.deps.db.selectFrom("notifications").selectAll().where("workspace_id", "=", workspaceId).orderBy("id", "desc").limit(limit).execute();
    return rows.map((n) => ({ id: String(n.id), at: new Date(n.at).toISOString(), to: n.to_address, subject: n.subject, text: n.text, delivered: n.delivered === 1 }));
  }
}
