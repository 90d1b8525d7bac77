import nodemailer, { type Transporter } from "nodemailer";
import type { Logger } from "pino";
import type { DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import type { Config } from "../config/index.js";
import type { ConsumerEvents, WebhookRow } from "../webhooks/consumer.js";
import type { DeliveryError } from "../webhooks/outcome.js";
import { readRequestLog } from "../webhooks/deliveries.js";
import { MAX_CONSECUTIVE_FAILURES, type DisabledReason } from "../webhooks/policy.js";
import { recordChangedBy } from "../webhooks/service.js";
import { getWorkspace } from "../workspaces/service.js";
import { audit, BY_THREADLINE } from "../audit/index.js";

interface Deps {
  db: DB;
  clock: Clock;
  log: Logger;
  config: Pick<Config, "smtpUrl" | "mailFrom">;
  publicUrl(): string;
}

/** What a kept e-mail is about (`notifications.kind`, with `webhook_id` for a webhook's). */
export type NotificationKind = "webhook_warning" | "webhook_disabled" | "account_disconnected" | "account_recovered";
export type About = { kind: NotificationKind; webhookId?: string };

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
      this.transport = nodemailer.createTransport({
        url: deps.config.smtpUrl,
        connectionTimeout: 15_000,
        greetingTimeout: 15_000,
        socketTimeout: 30_000,
      });
    }
  }

  /**
   * The consumers' events with their warning and disable sent as e-mails (`serve`, and the
   * tests' in-process consumers); `also`: what else hears them (metrics). The e-mails quote
   * the latest errors from the request log: it is written out first.
   */
  consumerEvents(writer: { flush(): Promise<unknown> }, also: Partial<ConsumerEvents> = {}): ConsumerEvents {
    const logWritten = () => writer.flush().catch(() => undefined);
    return {
      attempted: (w, r) => also.attempted?.(w, r),
      warning: (w, failures, since) => {
        also.warning?.(w, failures, since);
        void logWritten().then(() => this.webhookWarning(w, failures, since));
      },
      disabled: (w, reason, since) => {
        also.disabled?.(w, reason, since);
        void logWritten().then(() => this.webhookDisabled(w, reason, since));
      },
    };
  }

  /**
   * Keeps the e-mail in the notifications outbox first (so a failing mail server or a
   * shutdown loses nothing), then sends it through SMTP when configured and marks it delivered.
   */
  send(workspaceId: string, about: About, subject: string, text: string, to?: string): Promise<void> {
    const p = this.sendNow(workspaceId, about, subject, text, to);
    this.sending.add(p);
    return p.finally(() => this.sending.delete(p));
  }

  /** To the workspace's owner, unless `to` names someone else (an account's owner). */
  private async sendNow(
    workspaceId: string,
    about: About,
    subject: string,
    text: string,
    toAddress?: string,
  ): Promise<void> {
    const { db, clock, log, config } = this.deps;
    const to = toAddress ?? (await getWorkspace(db, workspaceId)).owner.email;
    const kept = await db
      .insertInto("notifications")
      .values({
        workspace_id: workspaceId,
        at: clock.now(),
        to_address: to,
        subject,
        text,
        delivered: 0,
        kind: about.kind,
        webhook_id: about.webhookId ?? null,
      })
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

  /**
   * An e-mail to one person that carries a link to sign in, reset a password or accept an
   * invitation: sent in the background (so the answer's timing does not tell whether the
   * address exists), never kept in the notifications outbox (admins read it) nor logged with
   * its text. Without SMTP it cannot be sent: the log says so, without the link.
   */
  mailTo(to: string, subject: string, text: string): void {
    const { log, config } = this.deps;
    if (!this.transport) {
      log.warn({ subject }, "a sign-in e-mail could not be sent: THREADLINE_SMTP_URL is not set");
      return;
    }
    const p = this.transport
      .sendMail({ from: config.mailFrom, to, subject, text })
      .then(() => log.info({ subject }, "sign-in e-mail sent"))
      .catch((e: unknown) => log.error({ err: e, subject }, "sending a sign-in e-mail failed"));
    this.sending.add(p);
    void p.finally(() => this.sending.delete(p));
  }

  /** Waits (at most `ms`) for e-mails being sent; for shutdown. */
  async settle(ms: number): Promise<void> {
    if (!this.sending.size) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.sending]), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  /**
   * From the request log: the latest errors of the current run (newest first) and when
   * that run began. Attempts cut by a shutdown are not the receiver's errors.
   */
  private async errorRun(webhookId: string): Promise<{ since: number | undefined; lines: string[] }> {
    // The consumer's attempts: a test event or a resend by hand is not part of its run.
    const rows = (await readRequestLog(this.deps.db, webhookId)).filter((r) => !r.test && !r.resend);
    let since: number | undefined;
    const lines: string[] = [];
    for (const r of rows) {
      if (!r.error) break;
      const e = JSON.parse(r.error) as DeliveryError;
      // Not the receiver's errors: a shutdown, Threadline's own fault (parked, not counted).
      if (e.code === "SHUTDOWN" || e.code === "INTERNAL_ERROR") continue;
      since = r.at;
      if (lines.length < 5)
        lines.push(
          `- ${new Date(r.at).toISOString()} ${e.code}: ${e.message} (delivery ${r.delivery_id}, attempt ${r.attempt})`,
        );
    }
    return { since, lines };
  }

  private reEnableHelp(w: WebhookRow): string[] {
    const base = this.deps.publicUrl();
    return [
      "How to re-enable it:",
      `1. Fix the receiver at ${w.url} (it must answer 2xx within 10 s; redirects are not followed).`,
      `2. Switch the webhook on in Webhooks → Outgoing (${base}/webhooks), or call`,
      `   PATCH ${base}/api/v1/webhooks/${w.id} with {"enabled": true}.`,
      `   Pending messages, and those stored while it was disabled, are then delivered in order;`,
      `   add "replay": "none" to skip the ones stored while it was disabled.`,
      `The webhook's activity and request log are at ${base}/webhooks and GET ${base}/api/v1/webhooks/${w.id}/log.`,
    ];
  }

  async webhookWarning(w: WebhookRow, failures: number, failingSince?: number): Promise<void> {
    try {
      const run = await this.errorRun(w.id);
      const since = failingSince ?? run.since;
      await this.send(
        w.workspace_id,
        { kind: "webhook_warning", webhookId: w.id },
        `Threadline: webhook ${w.url} is failing (${failures} errors in a row)`,
        [
          `Your outgoing webhook ${w.url} (id ${w.id}) has failed ${failures} times in a row${since !== undefined ? `, failing since ${new Date(since).toISOString()}` : ""}.`,
          `It is retried with increasing delays; after ${MAX_CONSECUTIVE_FAILURES + 1} consecutive errors it is disabled.`,
          "Nothing is lost: pending messages wait and are delivered in order once it works again.",
          "",
          "Latest errors:",
          ...(run.lines.length ? run.lines : ["- (none recorded)"]),
          "",
          `Check the receiver; the webhook's activity and request log are at ${this.deps.publicUrl()}/webhooks.`,
        ].join("\n"),
      );
    } catch (e) {
      this.deps.log.error({ err: e }, "could not send the warning e-mail");
    }
  }

  async webhookDisabled(w: WebhookRow, reason: DisabledReason, failingSince?: number): Promise<void> {
    try {
      // The automatic disable is Threadline's own change: in the audit log under its name.
      await audit(this.deps.db, this.deps.clock, w.workspace_id, BY_THREADLINE, {
        action: "webhook.auto_disabled",
        object: { type: "webhook", id: w.id },
        after: { enabled: false, reason },
      });
      await recordChangedBy(this.deps.db, w.id, BY_THREADLINE.actor);
    } catch (e) {
      this.deps.log.error({ err: e }, "could not record the automatic disable in the audit log");
    }
    try {
      const at = w.disabled_at ?? this.deps.clock.now();
      const run = await this.errorRun(w.id);
      const since = failingSince ?? run.since;
      await this.send(
        w.workspace_id,
        { kind: "webhook_disabled", webhookId: w.id },
        `Threadline: webhook ${w.url} was disabled`,
        [
          `Your outgoing webhook ${w.url} (id ${w.id}) was disabled on ${new Date(at).toISOString()}${
            reason === "gone"
              ? " because the receiver answered 410 Gone"
              : ` after more than ${MAX_CONSECUTIVE_FAILURES} consecutive errors`
          }${since !== undefined ? `; it has been failing since ${new Date(since).toISOString()}` : ""}.`,
          "",
          "Latest errors:",
          ...(run.lines.length ? run.lines : ["- (none recorded)"]),
          "",
          "Nothing is lost: messages stored while it is disabled are kept.",
          "",
          ...this.reEnableHelp(w),
        ].join("\n"),
      );
    } catch (e) {
      this.deps.log.error({ err: e }, "could not send the disable e-mail");
    }
  }

  /**
   * The newest e-mail about a webhook (its warning or disable e-mail) kept since `since`, for
   * the UI's banner; undefined when there is none.
   */
  async latestAbout(workspaceId: string, webhookId: string, since: number) {
    const n = await this.deps.db
      .selectFrom("notifications")
      .select(["at", "to_address", "delivered"])
      .where("workspace_id", "=", workspaceId)
      .where("at", ">=", since)
      .where("webhook_id", "=", webhookId)
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    return n ? { at: new Date(n.at).toISOString(), to: n.to_address, delivered: n.delivered === 1 } : undefined;
  }

  async list(workspaceId: string, limit: number) {
    const rows = await this.deps.db
      .selectFrom("notifications")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return rows.map((n) => ({
      id: String(n.id),
      at: new Date(n.at).toISOString(),
      to: n.to_address,
      subject: n.subject,
      text: n.text,
      delivered: n.delivered === 1,
    }));
  }
}
