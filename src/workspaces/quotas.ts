import { sql } from "kysely";
import type { DB } from "../db/index.js";
import { ApiError } from "../errors.js";
import { QUOTA_ENV, type Quotas } from "../config/index.js";

const NOUNS: Record<keyof Quotas, string> = {
  webhooks: "webhooks",
  accounts: "WhatsApp accounts",
  teammates: "teammates",
  inboundInFlight: "inbound gateway requests handled at once",
};

/** `409 QUOTA_EXCEEDED`, naming the limit and the variable that sets it. */
export function quotaExceeded(what: keyof Quotas, quotas: Quotas): ApiError {
  return new ApiError(
    "QUOTA_EXCEEDED",
    `A workspace may have at most ${quotas[what]} ${NOUNS[what]} (${QUOTA_ENV[what]}); remove one first, or raise the limit.`,
  );
}

/** Refuses one more webhook, account or teammate in a workspace that holds its quota already. */
export async function checkQuota(
  db: DB,
  what: "webhooks" | "accounts" | "teammates",
  workspaceId: string,
  quotas: Quotas,
): Promise<void> {
  let q = db
    .selectFrom(what)
    .select((eb) => eb.fn.countAll().as("n"))
    .where("workspace_id", "=", workspaceId);
  // A deleted account whose chats were kept counts no more (src/deletion).
  if (what === "accounts") q = q.where(sql<boolean>`deleted_at is null`);
  const row = await q.executeTakeFirst();
  if (Number(row?.n ?? 0) >= quotas[what]) throw quotaExceeded(what, quotas);
}

/**
 * Counts a workspace's inbound requests in flight: `enter` answers false (refuse it) once
 * the quota is reached; every `true` is paired with one `leave`. Only workspaces with
 * requests in flight are held.
 */
export class InFlight {
  private counts = new Map<string, number>();
  constructor(private limit: number) {}

  enter(workspaceId: string): boolean {
    const n = this.counts.get(workspaceId) ?? 0;
    if (n >= this.limit) return false;
    this.counts.set(workspaceId, n + 1);
    return true;
  }

  leave(workspaceId: string): void {
    const n = (this.counts.get(workspaceId) ?? 1) - 1;
    if (n <= 0) this.counts.delete(workspaceId);
    else this.counts.set(workspaceId, n);
  }
}
