import type { DB } from "../db/index.js";
import type { WebhookRow } from "./consumer.js";
import type { DeliveryManager } from "./manager.js";
import type { DeliveryError } from "./outcome.js";
import { scheduledDelay } from "./policy.js";

/** `pending_messages` is counted up to this many (a count, not a scan of a long backlog). */
export const PENDING_COUNT_LIMIT = 10_000;

export type WebhookState = "ok" | "failing" | "disabled";

/** What the webhook read adds for a person who must notice and act on a failure (the UI's banner). */
export interface WebhookHealth {
  state: WebhookState;
  last_error: (DeliveryError & { at: string }) | null;
  pending_messages: number;
  next_retry_at: string | null;
  owner_notified: { at: string; to: string; delivered: boolean } | null;
}

export interface HealthDeps {
  db: DB;
  manager: DeliveryManager;
  /** The owner's latest e-mail about a webhook since `since` (alerts/index.ts; not imported: alerts calls into webhooks/service.ts). */
  alerts: {
    latestAbout(
      workspaceId: string,
      webhookId: string,
      since: number,
    ): Promise<WebhookHealth["owner_notified"] | undefined>;
  };
}

export function stateOf(row: Pick<WebhookRow, "enabled" | "consecutive_failures">): WebhookState {
  return row.enabled !== 1 ? "disabled" : row.consecutive_failures > 0 ? "failing" : "ok";
}

/**
 * Computed on each read, cheaply: a healthy webhook costs one bounded count; a failing or
 * disabled one also reads its newest log rows (the index on (webhook_id, id)) and the newest
 * e-mail about it. `row` is read after the writer's flush (`WebhookService.get`).
 */
export async function healthOf(deps: HealthDeps, row: WebhookRow, pending: number): Promise<WebhookHealth> {
  const state = stateOf(row);
  if (state === "ok")
    return { state, last_error: null, pending_messages: pending, next_retry_at: null, owner_notified: null };

  const latest = (failed: boolean) =>
    deps.db
      .selectFrom("webhook_requests")
      .select(["at", "error"])
      .where("webhook_id", "=", row.id)
      // Test events (`POST …/test`) are in the request log but say nothing about the receiver's health.
      .where("test", "=", 0)
      .where("error", failed ? "is not" : "is", null)
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
  const [lastFailure, lastSuccess] = await Promise.all([latest(true), latest(false)]);
  const lastError =
    lastFailure && (!lastSuccess || lastSuccess.at <= lastFailure.at)
      ? { ...(JSON.parse(lastFailure.error!) as DeliveryError), at: new Date(lastFailure.at).toISOString() }
      : null;

  let nextRetry: number | undefined;
  if (state === "failing") {
    // Exact where the consumer runs here; else (another process holds it) the schedule's
    // delay after the last failure, without its ±10 % jitter or a receiver's Retry-After.
    nextRetry = deps.manager.consumer(row.id)?.nextRetryAt;
    if (nextRetry === undefined && lastFailure) nextRetry = lastFailure.at + scheduledDelay(row.consecutive_failures);
  }

  // The warning (5th error) or disable e-mail of the current trouble; a manual disable sends none.
  let notified: WebhookHealth["owner_notified"] = null;
  if (row.disabled_reason !== "manual" || state === "failing") {
    const since = state === "disabled" ? (row.disabled_at ?? 0) : Math.max(lastSuccess?.at ?? 0, row.updated_at);
    notified = (await deps.alerts.latestAbout(row.workspace_id, row.id, since)) ?? null;
  }
  return {
    state,
    last_error: lastError,
    pending_messages: pending,
    next_retry_at: nextRetry === undefined ? null : new Date(nextRetry).toISOString(),
    owner_notified: notified,
  };
}
