import type { DB } from "../db/index.js";
import { ApiError } from "../errors.js";
import type { Clock } from "../clock/index.js";
import { accountsByPhone, E164, type AccountRow } from "../accounts/service.js";
import { phoneFromJid } from "./jid.js";
import {
  hasLoneSurrogate,
  LONE_SURROGATE_PROBLEM,
  MAX_ID_LENGTH,
  MAX_NAME_LENGTH,
  MAX_TEXT_LENGTH,
} from "../db/text.js";
import { submitToGroup } from "./store.js";
import { resolveIdentities, type MergeListener } from "./identity.js";
import type { IngestMessage, IngestSummary } from "./types.js";
import type { Checked } from "./parties.js";

export const MAX_BATCH = 1000;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** Called after a commit with the workspace whose log grew (wakes its webhooks). */
export type IngestListener = (
  workspaceId: string,
  summary: { accepted: number; duplicates: number; skipped: number },
) => void;

const field = (i: number, f: string) => `messages[${i}].${f}`;
const bad = (i: number, f: string, message: string) =>
  new ApiError("VALIDATION_ERROR", `${field(i, f)}: ${message}`, field(i, f));

export function parseTimestamp(value: string | number): number | undefined {
  if (typeof value === "number")
    return Number.isFinite(value) && value >= 0 && value < 1e11 ? Math.round(value * 1000) : undefined;
  if (!ISO_WITH_OFFSET.test(value)) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2021-02-30 over to March 2nd: a date that does not exist is an error.
  const [y, mo, d] = value.slice(0, 10).split("-").map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, mo - 1, d));
  return day.getUTCMonth() === mo - 1 && day.getUTCDate() === d ? ms : undefined;
}

/**
 * The stored-text rule of `db/text.ts` (no NUL, ids 256, names 1,024, text 64 KiB), for
 * messages that did not come through the API's schema (gateways' inbound routes).
 */
function checkStoredText(i: number, msg: IngestMessage): void {
  const fields: [string, string | undefined, number][] = [
    ["account_phone", msg.account_phone, MAX_ID_LENGTH],
    ["external_id", msg.external_id, MAX_ID_LENGTH],
    ["type", msg.type, MAX_ID_LENGTH],
    ["chat.external_id", msg.chat.external_id, MAX_ID_LENGTH],
    ["chat.phone", msg.chat.phone, MAX_ID_LENGTH],
    ["chat.alias_id", msg.chat.alias_id, MAX_ID_LENGTH],
    ["chat.full_name", msg.chat.full_name, MAX_NAME_LENGTH],
    ["sender.full_name", msg.sender?.full_name, MAX_NAME_LENGTH],
    ["sender.phone", msg.sender?.phone, MAX_ID_LENGTH],
    ["recipient.full_name", msg.recipient?.full_name, MAX_NAME_LENGTH],
    ["recipient.phone", msg.recipient?.phone, MAX_ID_LENGTH],
    ["text", msg.text, MAX_TEXT_LENGTH],
  ];
  for (const [name, value, max] of fields) {
    if (typeof value !== "string") continue;
    if (value.includes("\u0000")) throw bad(i, name, "must not contain a NUL character (\\u0000).");
    if (value.length > max) throw bad(i, name, `must be at most ${max} characters.`);
    if (hasLoneSurrogate(value)) throw bad(i, name, LONE_SURROGATE_PROBLEM);
  }
}

/** Validates one message; nothing here depends on what is stored, so it runs before the transaction. */
function check(i: number, msg: IngestMessage, account: AccountRow): Checked {
  const timestamp = parseTimestamp(msg.timestamp);
  if (timestamp === undefined)
    throw bad(i, "timestamp", "must be ISO 8601 with an offset (2021-02-24T16:25:29Z) or Unix seconds.");
  if (!msg.external_id.trim()) throw bad(i, "external_id", "must not be empty.");
  if (!msg.chat.external_id.trim()) throw bad(i, "chat.external_id", "must not be empty.");
  const isText = msg.type === "text";
  if (isText && (msg.text === undefined || msg.text === "")) throw bad(i, "text", "is required when type is text.");
  const isGroup = msg.chat.is_group ?? msg.chat.external_id.endsWith("@g.us");
  const chatPhone = isGroup ? "" : msg.chat.phone?.trim() || phoneFromJid(msg.chat.external_id);
  if (!isGroup && chatPhone && !E164.test(chatPhone))
    throw bad(i, "chat.phone", `"${chatPhone}" is not an E.164 phone number.`);
  return {
    index: i,
    account,
    msg,
    timestamp,
    chatKey: `${account.id}\u0000${msg.chat.external_id}`,
    isGroup,
    chatPhone,
    deliverable: isText,
  };
}

/**
 * The only path from `IngestMessage[]` to stored messages: validates the whole batch
 * first (nothing is stored if one entry is wrong), then stores it, possibly in one
 * transaction with other requests of the workspace (store.ts), and answers once committed.
 */
export async function ingestMessages(
  db: DB,
  clock: Clock,
  workspaceId: string,
  messages: IngestMessage[],
  opts: { sentByTeammateId?: string; messageId?: string; onCommitted?: IngestListener; onMerged?: MergeListener } = {},
): Promise<IngestSummary & { messageIds: string[] }> {
  // Before any query: PostgreSQL would answer a NUL or an over-long key with an error.
  messages.forEach((m, i) => checkStoredText(i, m));
  const accounts = await accountsByPhone(db, workspaceId, [...new Set(messages.map((m) => m.account_phone))]);
  const checked = messages.map((m, i) => {
    const account = accounts.get(m.account_phone);
    if (!account)
      throw bad(i, "account_phone", `no WhatsApp account ${m.account_phone} is connected in this workspace.`);
    return check(i, m, account);
  });
  // Hidden ids (`…@lid`) to phones, and chats merged, before the batch's transaction.
  await resolveIdentities(db, clock, workspaceId, checked, opts.onMerged);
  const results = await submitToGroup(db, clock, workspaceId, {
    messages: checked,
    sentByTeammateId: opts.sentByTeammateId,
    messageId: opts.messageId,
  });
  const summary = { accepted: 0, duplicates: 0, skipped: 0 };
  for (const r of results) {
    if (r.status === "accepted") summary.accepted++;
    else if (r.status === "duplicate") summary.duplicates++;
    else summary.skipped++;
  }
  opts.onCommitted?.(workspaceId, summary);
  return { ...summary, results, messageIds: results.map((r) => r.message_id) };
}

/** Ingest as the rest of the app calls it: built once with its database, clock and commit listener. */
export type Ingest = (
  workspaceId: string,
  messages: IngestMessage[],
  opts?: { sentByTeammateId?: string; messageId?: string },
) => ReturnType<typeof ingestMessages>;

export function ingestWith(db: DB, clock: Clock, onCommitted: IngestListener, onMerged?: MergeListener): Ingest {
  return (workspaceId, messages, opts = {}) =>
    ingestMessages(db, clock, workspaceId, messages, { ...opts, onCommitted, onMerged });
}
