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

  constructor(private deps: Deps) {
    if (deps.config.smtpUrl) this.transport = nodemailer.createTransport(deps.config.smtpUrl);
  }

  async send(workspaceId: string, subject: string, text: string): Promise<void> {
    const { db, clock, log, config } = this.deps;
    const ws = await getWorkspace(db, workspaceId);
    const to = ws.owner.email;
    let delivered = false;
    if (this.transport) {
      try {
        await this.transport.sendMail({ from: config.mailFrom, to, subject, text });
        delivered = true;
      } catch (e) {
        log.error({ err: e, to, subject }, "sending an alert e-mail failed; it is kept in the notifications outbox");
      }
    } else {
      log.warn({ to, subject, text }, "alert e-mail kept in the notifications outbox (THREADLINE_SMTP_URL is not set)");
    }
    await db.insertInto("notifications").values({ workspace_id: workspaceId, at: clock.now(), to_address: to, subject, text, delivered: delivered ? 1 : 0 }).execute();
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
