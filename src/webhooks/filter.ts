import type { DB } from "../db/index.js";
import { invalid } from "../errors.js";
import { normalizeEmail } from "../workspaces/teammates.js";
import type { DeliverableMessage } from "../log/index.js";
import { CHAT_KINDS, DIRECTIONS } from "./schemas.js";

/**
 * A webhook's filter: which messages of the workspace's log it delivers. Stored as JSON text
 * in `webhooks.filter` (null: the default, everything). Applied by the consumers when they
 * read a message for delivery (`matcher`), so the chat's responsible teammate is the one
 * assigned at that time.
 */
export interface WebhookFilter {
  direction: "both" | "received" | "sent";
  /** Account phones; null: every account. */
  accounts: string[] | null;
  chats: "both" | "direct" | "group";
  /** Teammate e-mails (of the chat's current responsible); null: any, unassigned chats included. */
  responsible: string[] | null;
}

export { CHAT_KINDS, DIRECTIONS };

export const DEFAULT_FILTER: WebhookFilter = { direction: "both", accounts: null, chats: "both", responsible: null };

/** The filter of a stored row (null or the JSON text). */
export function parseFilter(text: string | null): WebhookFilter {
  return text === null ? { ...DEFAULT_FILTER } : { ...DEFAULT_FILTER, ...(JSON.parse(text) as Partial<WebhookFilter>) };
}

/** The stored form: null when the filter lets everything through (the consumers' fast path). */
export function storedFilter(f: WebhookFilter): string | null {
  const passAll = f.direction === "both" && f.accounts === null && f.chats === "both" && f.responsible === null;
  return passAll ? null : JSON.stringify(f);
}

export type FilterInput = { direction?: unknown; accounts?: unknown; chats?: unknown; responsible?: unknown };

/**
 * Applies `input` (each field optional) to `base` and validates the result against the
 * workspace: unknown account phones or teammate e-mails are a 400 naming them.
 */
export async function resolveFilter(
  db: DB,
  workspaceId: string,
  base: WebhookFilter,
  input: FilterInput | undefined,
): Promise<WebhookFilter> {
  if (input === undefined) return base;
  const f = { ...base };
  if (input.direction !== undefined) f.direction = oneOf("filter.direction", input.direction, DIRECTIONS);
  if (input.chats !== undefined) f.chats = oneOf("filter.chats", input.chats, CHAT_KINDS);
  if (input.accounts !== undefined) {
    const phones = listOrNull("filter.accounts", input.accounts, "account phones");
    if (phones) {
      const wanted = [...new Set(phones.map((p) => p.trim()))];
      const known = new Set(
        (
          await db
            .selectFrom("accounts")
            .select("phone")
            .where("workspace_id", "=", workspaceId)
            .where("deleted_at", "is", null)
            .execute()
        ).map((a) => a.phone),
      );
      const unknown = wanted.filter((p) => !known.has(p));
      if (unknown.length)
        throw invalid(
          "filter.accounts",
          `no account of this workspace has the phone ${unknown.map((p) => JSON.stringify(p)).join(", ")}.`,
        );
      f.accounts = wanted;
    } else f.accounts = null;
  }
  if (input.responsible !== undefined) {
    const emails = listOrNull("filter.responsible", input.responsible, "teammate e-mails");
    if (emails) {
      const wanted = [...new Set(emails.map(normalizeEmail))];
      const known = new Set(
        (await db.selectFrom("teammates").select("email").where("workspace_id", "=", workspaceId).execute()).map((t) =>
          normalizeEmail(t.email),
        ),
      );
      const unknown = wanted.filter((e) => !known.has(e));
      if (unknown.length)
        throw invalid(
          "filter.responsible",
          `no teammate of this workspace has the e-mail ${unknown.map((e) => JSON.stringify(e)).join(", ")}.`,
        );
      f.responsible = wanted;
    } else f.responsible = null;
  }
  return f;
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw invalid(field, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}.`);
}

function listOrNull(field: string, value: unknown, what: string): string[] | null {
  if (value === null) return null;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
    throw invalid(field, `must be null (all) or a list of ${what}.`);
  if (value.length === 0) throw invalid(field, `must list at least one of the ${what}, or be null for all.`);
  if (value.length > 100) throw invalid(field, `may list at most 100 ${what}.`);
  return value as string[];
}

/**
 * Whether a message read from the log passes; undefined when everything passes (no per-message
 * work). `countWaiting` below asks the same in SQL for `pending_messages`; a test of each
 * dimension holds the two to the same answer (test/webhooks/filter.test.ts).
 */
export type Matcher = (m: DeliverableMessage) => boolean;

export function matcher(text: string | null): Matcher | undefined {
  if (text === null) return undefined;
  const f = parseFilter(text);
  const accounts = f.accounts && new Set(f.accounts);
  const responsible = f.responsible && new Set(f.responsible);
  const isGroup = f.chats === "both" ? undefined : f.chats === "group" ? 1 : 0;
  return (m) =>
    (f.direction === "both" || m.direction === f.direction) &&
    (isGroup === undefined || (m.chat_is_group ? 1 : 0) === isGroup) &&
    (!accounts || accounts.has(m.account_phone)) &&
    (!responsible || (m.responsible_email !== null && responsible.has(normalizeEmail(m.responsible_email))));
}

/**
 * What waits after `afterSeq`: deliverable messages and the chats they are in, counted over at
 * most `limit` messages, so a webhook read stays cheap however long the backlog (the UI reads
 * every 5 s); `limit` messages means at least that many. With a webhook's `filter`, only the
 * messages it would deliver.
 */
export async function countWaiting(
  db: DB,
  workspaceId: string,
  afterSeq: number,
  limit: number,
  filter?: WebhookFilter,
): Promise<{ messages: number; chats: number }> {
  const passing = await filteredChatIds(db, workspaceId, { afterSeq }, filter);
  if (!passing) return { messages: 0, chats: 0 };
  const row = await db
    .selectFrom(() => passing.limit(limit).as("w"))
    .select((eb) => [eb.fn.countAll<number>().as("messages"), eb.fn.count<number>("chat_id").distinct().as("chats")])
    .executeTakeFirst();
  return { messages: Number(row?.messages ?? 0), chats: Number(row?.chats ?? 0) };
}

/**
 * The deliverable messages with seq in (`afterSeq`, `maxSeq`] that a webhook's `filter` lets
 * through, counted exactly: what a replay of that range sends (webhooks/replay.ts).
 */
export async function countDeliverable(
  db: DB,
  workspaceId: string,
  range: { afterSeq: number; maxSeq: number },
  filter?: WebhookFilter,
): Promise<number> {
  if (range.maxSeq <= range.afterSeq) return 0;
  const passing = await filteredChatIds(db, workspaceId, range, filter);
  if (!passing) return 0;
  const row = await db
    .selectFrom(() => passing.as("w"))
    .select((eb) => eb.fn.countAll<number>().as("messages"))
    .executeTakeFirst();
  return Number(row?.messages ?? 0);
}

/**
 * `matcher` in SQL: the chat ids of the deliverable messages in the range that `filter` lets
 * through, one row a message (the chats' responsible teammate as assigned now); undefined when
 * none can pass. Teammates are matched by `normalizeEmail` as in `matcher`, not by SQL's
 * `lower()` (ASCII-only on SQLite), so `Ünal@x.de` is `ünal@x.de` in both.
 */
async function filteredChatIds(
  db: DB,
  workspaceId: string,
  range: { afterSeq: number; maxSeq?: number },
  filter?: WebhookFilter,
) {
  let responsibleIds: string[] | undefined;
  if (filter?.responsible) {
    const wanted = new Set(filter.responsible);
    const teammates = await db
      .selectFrom("teammates")
      .select(["id", "email"])
      .where("workspace_id", "=", workspaceId)
      .execute();
    responsibleIds = teammates.filter((t) => wanted.has(normalizeEmail(t.email))).map((t) => t.id);
    if (responsibleIds.length === 0) return undefined;
  }
  let q = db
    .selectFrom("messages as m")
    .select("m.chat_id")
    .where("m.workspace_id", "=", workspaceId)
    .where("m.seq", ">", range.afterSeq)
    .where("m.status", "=", "stored");
  if (range.maxSeq !== undefined) q = q.where("m.seq", "<=", range.maxSeq);
  if (filter && filter.direction !== "both") q = q.where("m.direction", "=", filter.direction);
  if (filter?.accounts) {
    const phones = filter.accounts;
    q = q.where(
      "m.account_id",
      "in",
      db.selectFrom("accounts").select("id").where("workspace_id", "=", workspaceId).where("phone", "in", phones),
    );
  }
  if (filter && (filter.chats !== "both" || responsibleIds)) {
    let c = db.selectFrom("chats").select("id").where("workspace_id", "=", workspaceId);
    if (filter.chats !== "both") c = c.where("is_group", "=", filter.chats === "group" ? 1 : 0);
    if (responsibleIds) c = c.where("responsible_teammate_id", "in", responsibleIds);
    q = q.where("m.chat_id", "in", c);
  }
  return q;
}

/** A short description for the activity feed: "received messages, group chats, of 2 accounts". */
export function describeFilter(f: WebhookFilter): string {
  const parts = [
    f.direction === "both" ? "all messages" : `${f.direction} messages`,
    f.chats === "both" ? "" : `${f.chats} chats`,
    f.accounts ? `of ${f.accounts.join(", ")}` : "",
    f.responsible ? `chats assigned to ${f.responsible.join(", ")}` : "",
  ];
  return parts.filter(Boolean).join(", ");
}
