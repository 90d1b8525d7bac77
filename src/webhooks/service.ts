import { randomBytes } from "node:crypto";
import type { DB } from "../db/index.js";
import { newId, ulid } from "../db/ids.js";
import { ApiError, invalid, notFound } from "../errors.js";
import type { Clock } from "../clock/index.js";
import { headSeq, readDeliverableMessage, type DeliverableMessage } from "../log/index.js";
import { chatPhrase, deliveryChat, type WebhookRow } from "./consumer.js";
import { SECRET_GRACE_MS, signingSecrets, type Deliverer } from "./deliver.js";
import type { DeliveryManager } from "./manager.js";
import type { Change } from "./signals.js";
import { bundlePayload, messagePayload, messagePayloadJson } from "./payload.js";
import { findParked, internalReason, listParked, parkedView, unpark } from "./parked.js";
import { previewBundle } from "./preview.js";
import { checkWebhookUrl, type TargetGuard, type TargetProblem } from "./targets.js";
import { healthOf, PENDING_COUNT_LIMIT, type HealthDeps } from "./health.js";
import {
  deliveryItems,
  logEntryView,
  matches,
  readRequestLog,
  type DeliveryFilter,
  type DeliveryItem,
} from "./deliveries.js";
import { ACTIVITY_SIZE, requestRow, type Activity, type DeliveryWriter, type RequestMarks } from "./writer.js";
import { getWorkspace } from "../workspaces/service.js";
import { audit, BY_THREADLINE, type Actor, type Who } from "../audit/index.js";
import { AGGREGATIONS, aggregationLabel, isAggregation, type Aggregation } from "./windows.js";
import { countWaiting, describeFilter, parseFilter, resolveFilter, storedFilter, type FilterInput } from "./filter.js";
import type { Webhook } from "./schemas.js";
import { endRunningReplay, newReplayId, replayCount, replayEndSummary, replayView, type ReplayRow } from "./replay.js";
import { parseIsoTime } from "../clock/iso-time.js";

/** A second replay while one runs. */
function replayRunning(replayId: string): ApiError {
  return new ApiError(
    "CONFLICT",
    `A replay of this webhook is running (${replayId}): follow it at GET …/replay, or cancel it (DELETE …/replay) first.`,
    "replay",
  );
}

/**
 * Who made a webhook's last change, when it was not made through this service: Threadline
 * disabling a failing webhook (alerts/index.ts, once the consumer stopped it).
 */
export async function recordChangedBy(db: DB, webhookId: string, actor: Actor): Promise<void> {
  await db
    .updateTable("webhooks")
    .set({ updated_by: JSON.stringify(actor) })
    .where("id", "=", webhookId)
    .execute();
}

export interface WebhookDeps {
  db: DB;
  clock: Clock;
  writer: DeliveryWriter;
  deliverer: Deliverer;
  manager: DeliveryManager;
  /** The address rule of deliveries, asked ahead of time by `checkTarget`. */
  guard: TargetGuard;
  alerts: HealthDeps["alerts"];
  publicUrl(): string;
  /** The largest bundle body (THREADLINE_BUNDLE_MAX_BYTES), for previews. */
  bundleMaxBytes?: number;
}

function newSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

function validUrl(url: string): string {
  const reason = checkWebhookUrl(url.trim());
  if (reason) throw invalid("url", reason);
  return url.trim();
}

export class WebhookService {
  constructor(private deps: WebhookDeps) {}

  view(row: WebhookRow) {
    return {
      id: row.id,
      url: row.url,
      enabled: row.enabled === 1,
      // Stored only once checked (isAggregation; the reasons are Threadline's own).
      aggregation: row.aggregation as Aggregation,
      filter: parseFilter(row.filter),
      consecutive_failures: row.consecutive_failures,
      disabled_reason: (row.enabled === 1 ? null : row.disabled_reason) as Webhook["disabled_reason"],
      disabled_at: row.enabled === 1 || row.disabled_at === null ? null : new Date(row.disabled_at).toISOString(),
      created_at: new Date(row.created_at).toISOString(),
      updated_at: new Date(row.updated_at).toISOString(),
      /** Who made the last change: a person, an API key (by name) or Threadline (null before people signed in). */
      updated_by: row.updated_by === null ? null : (JSON.parse(row.updated_by) as Actor),
    };
  }

  /** Records a change in the workspace's audit log (the view's settings before and after; never the secret). */
  private audit(row: WebhookRow, who: Who, action: string, before?: WebhookRow, after?: WebhookRow): Promise<void> {
    const settings = (r: WebhookRow) => ({
      url: r.url,
      enabled: r.enabled === 1,
      aggregation: r.aggregation,
      filter: parseFilter(r.filter),
    });
    return audit(this.deps.db, this.deps.clock, row.workspace_id, who, {
      action,
      object: { type: "webhook", id: row.id },
      before: before && settings(before),
      after: after && settings(after),
    });
  }

  /**
   * The webhook as the API answers it: its settings, its health (state, last error, what
   * waits) and, for an aggregated webhook, when its next bundle goes out (the persisted end of
   * the window being filled) and how many chats have messages waiting for it (one bounded count
   * over the log after its cursor, shared with `pending_messages`).
   */
  async read(row: WebhookRow): Promise<Webhook> {
    const aggregated = row.aggregation !== "none";
    const enabled = row.enabled === 1;
    const waiting = await countWaiting(
      this.deps.db,
      row.workspace_id,
      row.cursor_seq,
      PENDING_COUNT_LIMIT,
      row.filter === null ? undefined : parseFilter(row.filter),
    );
    return {
      ...this.view(row),
      ...(await healthOf(this.deps, row, waiting.messages)),
      next_bundle_at: aggregated && enabled && row.window_end !== null ? new Date(row.window_end).toISOString() : null,
      open_chats: aggregated ? waiting.chats : null,
    };
  }

  /** What a delivery to `url` would meet, checked now (null: nothing known against it). */
  async checkTarget(url: string): Promise<{ ok: boolean; problem: TargetProblem | null }> {
    const problem = await this.deps.guard.check(url);
    return { ok: problem === undefined, problem: problem ?? null };
  }

  /** A webhook as stored, after what its consumer buffered (counters, a disable) is written. */
  async get(workspaceId: string, id: string): Promise<WebhookRow> {
    await this.deps.writer.flush();
    const row = await this.deps.db
      .selectFrom("webhooks")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw notFound("The webhook");
    return row;
  }

  /**
   * A page of the workspace's webhooks, newest first, after the sort key `after` (the previous
   * page's last `[created_at, id]`): paged in the database, so the figures of each row
   * (`read`) are computed for one page only.
   */
  async list(
    workspaceId: string,
    page: { limit: number; after?: [number, string] },
  ): Promise<{ rows: WebhookRow[]; more: boolean }> {
    await this.deps.writer.flush();
    let q = this.deps.db.selectFrom("webhooks").selectAll().where("workspace_id", "=", workspaceId);
    const after = page.after;
    if (after)
      q = q.where((eb) =>
        eb.or([eb("created_at", "<", after[0]), eb.and([eb("created_at", "=", after[0]), eb("id", "<", after[1])])]),
      );
    const rows = await q
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(page.limit + 1)
      .execute();
    return { rows: rows.slice(0, page.limit), more: rows.length > page.limit };
  }

  async create(
    workspaceId: string,
    input: { url: string; enabled?: boolean; aggregation?: string; filter?: FilterInput },
    who: Who = BY_THREADLINE,
  ): Promise<WebhookRow> {
    const url = validUrl(input.url);
    const aggregation = input.aggregation ?? "none";
    if (!isAggregation(aggregation)) throw invalid("aggregation", `must be one of ${AGGREGATIONS.join(", ")}.`);
    const filter = storedFilter(await resolveFilter(this.deps.db, workspaceId, parseFilter(null), input.filter));
    const now = this.deps.clock.now();
    const enabled = input.enabled ?? true;
    const row: WebhookRow = {
      id: newId("wh"),
      workspace_id: workspaceId,
      url,
      enabled: enabled ? 1 : 0,
      aggregation,
      secret: newSecret(),
      previous_secret: null,
      previous_secret_until: null,
      consecutive_failures: 0,
      disabled_reason: enabled ? null : "manual",
      disabled_at: enabled ? null : now,
      // A new webhook receives what is stored from now on.
      cursor_seq: await headSeq(this.deps.db, workspaceId),
      epoch: 0,
      window_end: null,
      created_at: now,
      updated_at: now,
      lease_owner: null,
      lease_until: null,
      filter,
      updated_by: JSON.stringify(who.actor),
    };
    await this.deps.db.insertInto("webhooks").values(row).execute();
    await this.audit(row, who, "webhook.created", undefined, row);
    await this.deps.manager.created(row.id);
    return row;
  }

  private activity(id: string, a: Omit<Activity, "at">, who?: Who): void {
    if (who) a = { ...a, actor: who.actor };
    this.deps.writer.activity(id, { at: this.deps.clock.now(), ...a });
  }

  async update(
    workspaceId: string,
    id: string,
    patch: {
      url?: string;
      enabled?: boolean;
      aggregation?: string;
      filter?: FilterInput;
      replay?: "since_disabled" | "none";
    },
    who: Who = BY_THREADLINE,
  ): Promise<WebhookRow> {
    const { db, clock } = this.deps;
    const row = await this.get(workspaceId, id);
    const wasEnabled = row.enabled === 1;
    const disabledReason = row.disabled_reason;
    const now = clock.now();
    const set: Partial<WebhookRow> = { updated_at: now, updated_by: JSON.stringify(who.actor) };
    const changes: string[] = [];
    if (patch.url !== undefined && patch.url.trim() !== row.url) {
      set.url = validUrl(patch.url);
      changes.push(`URL: ${row.url} → ${set.url}`);
    }
    if (patch.aggregation !== undefined && patch.aggregation !== row.aggregation) {
      if (!isAggregation(patch.aggregation)) throw invalid("aggregation", `must be one of ${AGGREGATIONS.join(", ")}.`);
      set.aggregation = patch.aggregation;
      changes.push(`Aggregation: ${aggregationLabel(row.aggregation)} → ${aggregationLabel(patch.aggregation)}`);
    }
    if (patch.filter !== undefined) {
      const filter = storedFilter(await resolveFilter(db, workspaceId, parseFilter(row.filter), patch.filter));
      if (filter !== row.filter) {
        set.filter = filter;
        changes.push(`filter set to ${describeFilter(parseFilter(filter))}`);
      }
    }
    // What the consumer goes through (manager.ts, the transitions); the weightiest change decides.
    const notes: Omit<Activity, "at">[] = [];
    let change: Change =
      set.aggregation !== undefined ? "reaggregate" : set.filter !== undefined ? "refilter" : "retarget";
    if (patch.enabled === true && !wasEnabled) {
      set.enabled = 1;
      set.consecutive_failures = 0;
      set.disabled_reason = null;
      set.disabled_at = null;
      // After an automatic disable (errors, or 410 Gone) nothing that was due is dropped by default.
      const replay =
        patch.replay ??
        (disabledReason === "consecutive_failures" || disabledReason === "gone" ? "since_disabled" : "none");
      if (replay === "none") set.cursor_seq = await headSeq(db, workspaceId);
      change = "enable";
      notes.push({
        kind: "enabled",
        summary:
          replay === "none"
            ? "Enabled; messages stored while disabled are skipped."
            : "Enabled; delivering what is pending.",
        actor: who.actor,
      });
    } else if (patch.enabled === false && wasEnabled) {
      set.enabled = 0;
      set.disabled_reason = "manual";
      set.disabled_at = now;
      change = "disable";
      notes.push({ kind: "disabled", summary: `Disabled by ${who.actor.name}.`, actor: who.actor });
    } else if (patch.enabled === true) {
      // Enabling an enabled webhook still resets its error count (a fresh consumer, no backoff).
      set.consecutive_failures = 0;
      if (row.consecutive_failures > 0 && change === "retarget") change = "enable";
    }
    if (changes.length) notes.push({ kind: "updated", summary: changes.join("; "), actor: who.actor });
    if (set.aggregation !== undefined) set.window_end = null;
    // The change reaches the consumer before the answer, wherever it runs.
    await this.deps.manager.change(row, change, {
      note: () => notes.forEach((a) => this.activity(id, a)),
      write: async () => void (await db.updateTable("webhooks").set(set).where("id", "=", id).execute()),
    });
    // Switched off: its replay ends too (nothing more goes to it).
    if (set.enabled === 0) await this.endReplay(id, "The webhook was switched off.", undefined, false);
    const after = await this.get(workspaceId, id);
    const action =
      set.enabled === 1
        ? "webhook.enabled"
        : set.enabled === 0
          ? "webhook.disabled"
          : set.filter !== undefined && !changes.some((c) => !c.startsWith("filter"))
            ? "webhook.filter_changed"
            : "webhook.updated";
    if (changes.length || set.enabled !== undefined) await this.audit(row, who, action, row, after);
    return after;
  }

  /**
   * A new signing secret; the one it replaces keeps signing deliveries (beside the new one)
   * for SECRET_GRACE_MS, so a receiver can switch without refusing a message. Rotating again
   * within the grace period ends the older secret's at once (two secrets at most).
   */
  async rotateSecret(workspaceId: string, id: string, who: Who = BY_THREADLINE): Promise<WebhookRow> {
    const row = await this.get(workspaceId, id);
    const now = this.deps.clock.now();
    await this.deps.manager.change(row, "retarget", {
      write: async () =>
        void (await this.deps.db
          .updateTable("webhooks")
          .set({
            secret: newSecret(),
            previous_secret: row.secret,
            previous_secret_until: now + SECRET_GRACE_MS,
            updated_at: now,
            updated_by: JSON.stringify(who.actor),
          })
          .where("id", "=", id)
          .execute()),
    });
    this.activity(
      id,
      { kind: "updated", summary: "Signing secret rotated; the previous one stays valid for 24 hours." },
      who,
    );
    await this.audit(row, who, "webhook.secret_rotated");
    return this.get(workspaceId, id);
  }

  /** The signing secret, revealed on purpose (`GET …/secret`), and the previous one while it still signs. */
  async secretOf(workspaceId: string, id: string) {
    const row = await this.get(workspaceId, id);
    const [secret, previous] = signingSecrets(row, this.deps.clock.now());
    return {
      secret: secret!,
      previous_secret: previous ?? null,
      previous_secret_expires_at: previous ? new Date(row.previous_secret_until!).toISOString() : null,
    };
  }

  async remove(workspaceId: string, id: string, who: Who = BY_THREADLINE): Promise<void> {
    const row = await this.get(workspaceId, id);
    const { db } = this.deps;
    await this.deps.manager.change(row, "delete", {
      write: () =>
        db.transaction().execute(async (tx) => {
          await tx.deleteFrom("webhooks").where("id", "=", id).execute();
          await tx.deleteFrom("webhook_requests").where("webhook_id", "=", id).execute();
          await tx.deleteFrom("webhook_activity").where("webhook_id", "=", id).execute();
          await tx.deleteFrom("webhook_hourly").where("webhook_id", "=", id).execute();
          await tx.deleteFrom("parked_deliveries").where("webhook_id", "=", id).execute();
          await tx.deleteFrom("webhook_replays").where("webhook_id", "=", id).execute();
          await tx.deleteFrom("webhook_windows").where("webhook_id", "=", id).execute();
        }),
    });
    await this.audit(row, who, "webhook.deleted", row);
  }

  /**
   * The range of a replay, checked: `since` and `until` (default now) as the API took them
   * (iso-time.ts), neither in the future, `until` not before `since`.
   */
  private replayTimes(q: { since?: string; until?: string }): { since: number; until: number } {
    const now = this.deps.clock.now();
    const since = parseIsoTime("since", q.since);
    if (since === undefined) throw invalid("since", "is required: an ISO 8601 time such as 2026-01-31T09:00:00Z.");
    if (since > now) throw invalid("since", "is in the future: nothing was stored after it yet.");
    const until = parseIsoTime("until", q.until) ?? now;
    if (until < since) throw invalid("until", "is before since.");
    if (until > now) throw invalid("until", "is in the future: leave it out to mean now.");
    return { since, until };
  }

  /** `GET …/replay/count`: how many messages a replay of the range would send now (the replay's own count). */
  async replayCountOf(workspaceId: string, id: string, q: { since?: string; until?: string }) {
    const row = await this.get(workspaceId, id);
    const { since, until } = this.replayTimes(q);
    const { messages } = await replayCount(this.deps.db, row, since, until);
    return { since: new Date(since).toISOString(), until: new Date(until).toISOString(), messages };
  }

  /**
   * `POST …/replay`: delivers the messages stored in [since, until] again (aggregated: the
   * windows overlapping it), under their first deliveries' webhook-ids, as a job the process
   * holding the webhook's lease runs (replay.ts). One running replay per webhook.
   */
  async startReplay(workspaceId: string, id: string, q: { since?: string; until?: string }, who: Who = BY_THREADLINE) {
    const row = await this.get(workspaceId, id);
    const { since, until } = this.replayTimes(q);
    if (row.enabled !== 1)
      throw new ApiError(
        "CONFLICT",
        "The webhook is switched off: switch it on (PATCH enabled: true) before replaying to it.",
        "enabled",
      );
    const running = await this.runningReplay(id);
    if (running) throw replayRunning(running.id);
    const { kind, afterSeq, maxSeq, messages } = await replayCount(this.deps.db, row, since, until);
    const now = this.deps.clock.now();
    const replay = {
      id: newReplayId(),
      webhook_id: id,
      state: "running",
      kind,
      since,
      until,
      after_seq: afterSeq,
      max_seq: maxSeq,
      total: messages,
      delivered: 0,
      failed: 0,
      position: kind === "messages" ? afterSeq : 0,
      resume_delivered: 0,
      resume_failed: 0,
      reason: null,
      created_at: now,
      ended_at: null,
      created_by: JSON.stringify(who.actor),
    };
    try {
      await this.deps.db.insertInto("webhook_replays").values(replay).execute();
    } catch (e) {
      // Two at once: the partial unique index lets one in.
      const other = await this.runningReplay(id);
      if (other) throw replayRunning(other.id);
      throw e;
    }
    // Only the newest replay is read (GET …/replay; the audit log keeps the history): one row a webhook stays.
    await this.deps.db
      .deleteFrom("webhook_replays")
      .where("webhook_id", "=", id)
      .where("state", "!=", "running")
      .execute();
    const range = `since ${new Date(since).toISOString()}${q.until ? ` until ${new Date(until).toISOString()}` : ""}`;
    this.activity(
      id,
      { kind: "replay", summary: `Replay of ${messages} message${messages === 1 ? "" : "s"} ${range} started.` },
      who,
    );
    await audit(this.deps.db, this.deps.clock, workspaceId, who, {
      action: "webhook.replay_started",
      object: { type: "webhook", id },
      after: {
        replay_id: replay.id,
        since: new Date(since).toISOString(),
        until: new Date(until).toISOString(),
        messages,
      },
    });
    await this.deps.manager.replayChanged(id);
    return { replay_id: replay.id, messages };
  }

  private runningReplay(webhookId: string) {
    return this.deps.db
      .selectFrom("webhook_replays")
      .selectAll()
      .where("webhook_id", "=", webhookId)
      .where("state", "=", "running")
      .executeTakeFirst();
  }

  /** `GET …/replay`: the webhook's latest replay and its progress. */
  async replayOf(workspaceId: string, id: string) {
    await this.get(workspaceId, id);
    const r = await this.deps.db
      .selectFrom("webhook_replays")
      .selectAll()
      .where("webhook_id", "=", id)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    if (!r) throw new ApiError("NOT_FOUND", "This webhook was never replayed.");
    return replayView(r);
  }

  /** `DELETE …/replay`: cancels the running replay (what is in flight ends; nothing more is sent). */
  async cancelReplay(workspaceId: string, id: string, who: Who = BY_THREADLINE) {
    await this.get(workspaceId, id);
    const r = await this.endReplay(id, "Cancelled.", who);
    if (!r) throw new ApiError("NOT_FOUND", "No replay of this webhook is running.");
    await audit(this.deps.db, this.deps.clock, workspaceId, who, {
      action: "webhook.replay_cancelled",
      object: { type: "webhook", id },
      before: { replay_id: r.id, state: "running" },
      after: { state: "cancelled" },
    });
    return replayView(r);
  }

  /** Ends the webhook's running replay, if any: its runner stops (here or where the lease is held) and the activity says so. Answers it as it ended. */
  private async endReplay(id: string, reason: string, who?: Who, remote = true): Promise<ReplayRow | undefined> {
    const r = await endRunningReplay(this.deps.db, id, reason, this.deps.clock.now());
    if (!r) return undefined;
    await this.deps.manager.replayChanged(id, { remote });
    // The counts its runner reached (it writes them as it stops).
    const ended = (await this.deps.db
      .selectFrom("webhook_replays")
      .selectAll()
      .where("id", "=", r.id)
      .executeTakeFirst()) ?? { ...r, state: "cancelled", reason };
    this.activity(
      id,
      { kind: "replay", summary: replayEndSummary(ended, "cancelled", reason === "Cancelled." ? null : reason, ended) },
      who,
    );
    return ended;
  }

  /**
   * `POST …/retry`: a failing webhook tries what waits now instead of at its next retry (its
   * consumer's probe, judged like any other). Answers whether a retry was brought forward.
   */
  async retryNow(workspaceId: string, id: string): Promise<{ retrying: boolean }> {
    const row = await this.get(workspaceId, id);
    if (row.enabled !== 1)
      throw new ApiError(
        "CONFLICT",
        "The webhook is switched off: switch it on (PATCH enabled: true) to deliver what waits.",
        "enabled",
      );
    return { retrying: row.consecutive_failures > 0 && (await this.deps.manager.retryNow(id)) > 0 };
  }

  async flushOpen(workspaceId: string, id: string): Promise<number> {
    const row = await this.get(workspaceId, id);
    if (row.aggregation === "none" || row.enabled !== 1) return 0;
    return this.deps.manager.flushOpen(id);
  }

  async activityOf(workspaceId: string, id: string) {
    await this.get(workspaceId, id); // also writes out what the consumer buffered
    const rows = await this.deps.db
      .selectFrom("webhook_activity")
      .selectAll()
      .where("webhook_id", "=", id)
      .orderBy("id", "desc")
      .limit(ACTIVITY_SIZE)
      .execute();
    return rows.map((a) => ({
      at: new Date(a.at).toISOString(),
      kind: a.kind,
      summary: a.summary,
      ...(a.status_code !== null ? { status_code: a.status_code } : {}),
      ...(a.delivery_id !== null ? { delivery_id: a.delivery_id } : {}),
      ...(a.request_id !== null ? { request_id: a.request_id } : {}),
      ...(a.chat_id !== null ? { chat: { chat_id: String(a.chat_id), full_name: a.chat_name ?? "" } } : {}),
      ...(a.snippet !== null ? { snippet: a.snippet } : {}),
      // Who made the change a row reports (settings changes); deliveries have none.
      ...(a.actor !== null ? { actor: JSON.parse(a.actor) as Actor } : {}),
    }));
  }

  async logOf(workspaceId: string, id: string) {
    await this.get(workspaceId, id); // also writes out what the consumer buffered
    return (await readRequestLog(this.deps.db, id)).map(logEntryView);
  }

  /** The kept attempts as deliveries one can open, newest first, filtered. */
  async deliveriesOf(workspaceId: string, id: string, filter: DeliveryFilter = {}): Promise<DeliveryItem[]> {
    const row = await this.get(workspaceId, id); // also writes out what the consumer buffered
    const rows = await readRequestLog(this.deps.db, id);
    // Built over every kept attempt (a retry time depends on the delivery's other attempts), then filtered.
    const items = deliveryItems(rows, row.enabled === 1);
    return items.filter((item, i) => matches(item, rows[i]!, filter));
  }

  /**
   * A new attempt of a kept delivery, by hand: the same `webhook-id` and body (a message's
   * payload, or an aggregated webhook's bundle), signed now with the current secret(s), to the
   * webhook's current URL through the same target guard. Logged (attempt = the highest kept
   * + 1) and in the activity and the chart, but outside the failure rule: the consumer's
   * count, backoff and cursor do not move (it still sends a pending delivery itself, under
   * the same id, which receivers drop as a repeat).
   */
  async resend(workspaceId: string, id: string, deliveryId: string, who: Who = BY_THREADLINE): Promise<DeliveryItem> {
    const row = await this.get(workspaceId, id);
    const attempts = (await readRequestLog(this.deps.db, id)).filter((r) => r.delivery_id === deliveryId);
    const last = attempts[0];
    if (!last) throw notFound("The delivery");
    const { body } = JSON.parse(last.request) as { body: string };
    const attempt = Math.max(...attempts.map((r) => r.attempt)) + 1;
    const { result, logged } = await this.attemptByHand(row, deliveryId, body, attempt, {
      chatId: last.chat_id,
      test: last.test === 1,
    });
    // Named by its chat, as deliveries are (a raw delivery id says nothing to a person and does not fit a phone).
    const chat =
      last.chat_id === null
        ? undefined
        : await this.deps.db
            .selectFrom("chats")
            .select(["id as chat_id", "full_name as chat_name", "phone as chat_phone", "is_group as chat_is_group"])
            .where("id", "=", Number(last.chat_id))
            .executeTakeFirst();
    const what =
      last.test === 1 ? "the test event" : chat ? `the delivery to ${chatPhrase(deliveryChat(chat))}` : "the delivery";
    this.activity(
      id,
      {
        kind: result.ok ? "delivered" : "failed",
        summary: result.ok
          ? `Resent ${what} by hand (HTTP ${result.response?.status}).`
          : `Resending ${what} by hand failed: ${result.error?.message}`,
        status_code: result.response?.status ?? null,
        delivery_id: deliveryId,
        request: logged,
        ...(chat ? { chat: deliveryChat(chat) } : {}),
      },
      who,
    );
    await audit(this.deps.db, this.deps.clock, workspaceId, who, {
      action: "webhook.delivery_resent",
      object: { type: "webhook", id },
      after: { delivery_id: deliveryId, ok: result.ok },
    });
    const item = (await this.deliveriesOf(workspaceId, id)).find((d) => d.request_id === logged.request_id);
    // The receiver answers again: what waits behind a failing webhook need not wait for its
    // backoff. Asked once this attempt is written, so the retry is numbered past it.
    if (result.ok && row.enabled === 1 && row.consecutive_failures > 0)
      void this.deps.manager.retryNow(id).catch(() => undefined);
    // Found unless 100 newer attempts were logged meanwhile.
    return item ?? deliveryItems([{ id: 0, ...requestRow(id, logged) }], false)[0]!;
  }

  /** `GET …/preview?chat_id=`: the digest an aggregated webhook would send for the chat now (preview.ts). */
  async preview(workspaceId: string, id: string, chatId: string) {
    const row = await this.get(workspaceId, id);
    return previewBundle(
      {
        db: this.deps.db,
        now: this.deps.clock.now(),
        publicUrl: this.deps.publicUrl(),
        maxBytes: this.deps.bundleMaxBytes ?? 1024 * 1024,
      },
      row,
      chatId,
    );
  }

  /** Deliveries set aside after failing by Threadline's internal error (webhooks/parked.ts), newest first. */
  async parkedOf(workspaceId: string, id: string) {
    await this.get(workspaceId, id);
    return (await listParked(this.deps.db, id)).map(parkedView);
  }

  /**
   * One attempt of a kept delivery by hand: signed now with the current secret(s), to the
   * current URL, logged as a resend (so outside the failure rule and the consumer's cursor).
   */
  private async attemptByHand(
    row: WebhookRow,
    deliveryId: string,
    body: string,
    attempt: number,
    marks: Omit<RequestMarks, "resend">,
  ) {
    const result = await this.deps.deliverer.attempt(
      row.url,
      signingSecrets(row, this.deps.clock.now()),
      deliveryId,
      body,
      row.workspace_id,
    );
    return {
      result,
      logged: this.deps.writer.logRequest(row.id, deliveryId, attempt, result, { ...marks, resend: true }),
    };
  }

  /**
   * Sends a parked delivery again, once, by hand: its kept body, or an unaggregated one's
   * message written again from the log (after the fault was fixed). Like `resend`: logged,
   * outside the failure rule. Once the receiver acknowledged it, it is no longer parked.
   */
  async resendParked(workspaceId: string, id: string, deliveryId: string): Promise<DeliveryItem> {
    const row = await this.get(workspaceId, id);
    const parked = await findParked(this.deps.db, id, deliveryId);
    if (!parked) throw notFound("The parked delivery");
    let body = parked.body;
    if (body === null && parked.message_id !== null) {
      const msg = await readDeliverableMessage(this.deps.db, workspaceId, parked.message_id);
      if (!msg) throw new ApiError("CONFLICT", "The parked delivery's message is no longer in the log.");
      try {
        body = messagePayloadJson(msg, this.deps.publicUrl());
      } catch (e) {
        throw new ApiError("CONFLICT", `The parked delivery still cannot be written: ${internalReason(e)}.`);
      }
    }
    if (body === null)
      throw new ApiError(
        "CONFLICT",
        `The parked delivery could not be written (${parked.reason}); replay the webhook from the window's start to send its messages again.`,
      );
    const attempt =
      Math.max(
        0,
        ...(await readRequestLog(this.deps.db, id)).filter((r) => r.delivery_id === deliveryId).map((r) => r.attempt),
      ) + 1;
    const { result, logged } = await this.attemptByHand(row, deliveryId, body, attempt, { chatId: parked.chat_id });
    this.activity(id, {
      kind: result.ok ? "delivered" : "failed",
      summary: result.ok
        ? `Resent the parked ${deliveryId} by hand (HTTP ${result.response?.status}).`
        : `Resending the parked ${deliveryId} by hand failed: ${result.error?.message}`,
      status_code: result.response?.status ?? null,
      delivery_id: deliveryId,
      request: logged,
    });
    if (result.ok) await unpark(this.deps.db, id, deliveryId);
    return deliveryItems([{ id: 0, ...requestRow(id, logged) }], false)[0]!;
  }

  async statsOf(workspaceId: string, id: string) {
    await this.get(workspaceId, id); // also writes out what the consumer buffered
    const hour = Math.floor(this.deps.clock.now() / 3600_000) * 3600_000;
    const from = hour - 23 * 3600_000;
    const rows = await this.deps.db
      .selectFrom("webhook_hourly")
      .selectAll()
      .where("webhook_id", "=", id)
      .where("hour_start", ">=", from)
      .execute();
    const by = new Map(rows.map((r) => [r.hour_start, r]));
    const buckets = [];
    for (let t = from; t <= hour; t += 3600_000) {
      const r = by.get(t);
      buckets.push({ start: new Date(t).toISOString(), delivered: r?.delivered ?? 0, failed: r?.failed ?? 0 });
    }
    return { buckets };
  }

  /**
   * The payload of the webhook's format for a made-up message (a one-chat bundle when
   * aggregated): what `POST …/test` sends and `GET …/sample` shows, so a receiver's fields
   * can be mapped before a real message arrives.
   */
  private async samplePayload(workspaceId: string, row: WebhookRow, now: number) {
    const publicUrl = this.deps.publicUrl();
    const sample: DeliverableMessage = {
      seq: 0,
      id: ulid(now),
      chat_id: 10000001,
      direction: "received",
      text: "This is a test event from Threadline 👋",
      timestamp: now,
      stored_at: now,
      sender_name: "Test Contact",
      sender_phone: "+15550000001",
      recipient_name: "Threadline",
      recipient_phone: "+15550000000",
      permalink: "00000000-0000-4000-8000-000000000000",
      account_id: "test",
      account_phone: "+15550000000",
      owner_name: "Threadline",
      owner_email: "no-reply@localhost",
      chat_name: "Test Contact",
      chat_phone: "+15550000001",
      chat_is_group: 0,
      chat_created_at: now,
      chat_created_by: null,
      responsible_name: null,
      responsible_email: null,
    };
    return row.aggregation === "none"
      ? messagePayload(sample, publicUrl)
      : bundlePayload([sample], {
          publicUrl,
          timeZone: (await getWorkspace(this.deps.db, workspaceId)).timezone,
          aggregation: row.aggregation,
          windowStart: now,
          windowEnd: now + 1,
        });
  }

  /** `GET …/sample`: the sample payload, not sent. */
  async sample(workspaceId: string, id: string) {
    const row = await this.get(workspaceId, id);
    return {
      aggregation: row.aggregation as Aggregation,
      payload: await this.samplePayload(workspaceId, row, this.deps.clock.now()),
    };
  }

  /** Sends a sample payload of the webhook's format now; counts toward nothing but the log. */
  async sendTest(workspaceId: string, id: string) {
    const row = await this.get(workspaceId, id);
    const now = this.deps.clock.now();
    const body = await this.samplePayload(workspaceId, row, now);
    const deliveryId = `msg_test_${ulid(now).toLowerCase()}`;
    const result = await this.deps.deliverer.attempt(
      row.url,
      signingSecrets(row, now),
      deliveryId,
      JSON.stringify(body),
      row.workspace_id,
    );
    const logged = this.deps.writer.logRequest(id, deliveryId, 1, result, { test: true });
    this.activity(id, {
      kind: result.ok ? "delivered" : "failed",
      summary: result.ok
        ? `Test event delivered (HTTP ${result.response?.status}).`
        : `Test event failed: ${result.error?.message}`,
      status_code: result.response?.status ?? null,
      delivery_id: deliveryId,
      request: logged,
    });
    await this.deps.writer.flush();
    return {
      request_id: logged.request_id,
      delivery_id: deliveryId,
      attempt: 1,
      at: new Date(result.at).toISOString(),
      duration_ms: result.durationMs,
      request: result.request,
      response: result.response,
      error: result.error,
    };
  }
}
