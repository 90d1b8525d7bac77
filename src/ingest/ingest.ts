import { announceLogGrowth, lockWorkspaceLog, type DB } from "../db/index.js";
import { ulid, uuidv7 } from "../db/ids.js";
import { ApiError } from "../http/errors.js";
import type { Clock } from "../clock/index.js";
import { accountsByPhone, E164, type AccountRow } from "../accounts/service.js";
import { phoneFromJid } from "./jid.js";
import { MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_TEXT_LENGTH } from "../db/text.js";
import type { IngestMessage, IngestParty, IngestResult, IngestSummary } from "./types.js";

export const MAX_BATCH = 1000;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
const INSERT_CHUNK = 1000;

/** Called after a commit with the workspace whose log grew (wakes its webhooks). */
export type IngestListener = (workspaceId: string, summary: { accepted: number; duplicates: number; skipped: number }) => void;

interface Prepared {
  index: number;
  account: AccountRow;
  msg: IngestMessage;
  timestamp: number;
  chatKey: string;
  isGroup: boolean;
  chatName: string;
  chatPhone: string;
  sender: IngestParty;
  recipient: IngestParty;
  deliverable: boolean;
}

const field = (i: number, f: string) => `messages[${i}].${f}`;
const bad = (i: number, f: string, message: string) => new ApiError("VALIDATION_ERROR", `${field(i, f)}: ${message}`, field(i, f));

export function parseTimestamp(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 && value < 1e11 ? Math.round(value * 1000) : undefined;
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
  }
}

/**
 * Validates one message and derives its parties. `knownName` is the name its chat already
 * has: messages often come without the contact's name (a gateway's echo of the account's
 * own message, an API client sending only the chat id), and then the contact side is
 * "Sheena Nelson", not a bare phone.
 */
function prepare(i: number, msg: IngestMessage, account: AccountRow, knownName: string | undefined): Prepared {
  const timestamp = parseTimestamp(msg.timestamp);
  if (timestamp === undefined) throw bad(i, "timestamp", "must be ISO 8601 with an offset (2021-02-24T16:25:29Z) or Unix seconds.");
  if (!msg.external_id.trim()) throw bad(i, "external_id", "must not be empty.");
  if (!msg.chat.external_id.trim()) throw bad(i, "chat.external_id", "must not be empty.");
  const isText = msg.type === "text";
  if (isText && (msg.text === undefined || msg.text === "")) throw bad(i, "text", "is required when type is text.");
  const isGroup = msg.chat.is_group ?? msg.chat.external_id.endsWith("@g.us");
  const chatPhone = isGroup ? "" : (msg.chat.phone?.trim() || phoneFromJid(msg.chat.external_id));
  if (!isGroup && chatPhone && !E164.test(chatPhone)) throw bad(i, "chat.phone", `"${chatPhone}" is not an E.164 phone number.`);
  const chatName = msg.chat.full_name?.trim() || knownName || chatPhone || msg.chat.external_id;
  let sender: IngestParty;
  let recipient: IngestParty;
  if (isGroup) {
    // API.md: in a group the sender is the one given (the participant) or else the chat title.
    sender = { full_name: msg.sender?.full_name?.trim() || chatName, phone: "" };
    recipient = { full_name: msg.recipient?.full_name?.trim() || chatName, phone: "" };
  } else {
    const contact = { full_name: chatName, phone: chatPhone };
    const own = { full_name: account.full_name, phone: account.phone };
    const [s, r] = msg.direction === "received" ? [contact, own] : [own, contact];
    sender = { full_name: msg.sender?.full_name?.trim() || s.full_name, phone: msg.sender?.phone?.trim() || s.phone };
    recipient = { full_name: msg.recipient?.full_name?.trim() || r.full_name, phone: msg.recipient?.phone?.trim() || r.phone };
  }
  return {
    index: i,
    account,
    msg,
    timestamp,
    chatKey: `${account.id}\u0000${msg.chat.external_id}`,
    isGroup,
    chatName,
    chatPhone,
    sender,
    recipient,
    deliverable: isText,
  };
}

/**
 * The only path from `IngestMessage[]` to stored messages: validates the whole batch
 * first (nothing is stored if one entry is wrong), then stores it in one transaction.
 */
export async function ingestMessages(
  db: DB,
  clock: Clock,
  workspaceId: string,
  messages: IngestMessage[],
  opts: { sentByTeammateId?: string; onCommitted?: IngestListener } = {},
): Promise<IngestSummary & { messageIds: string[] }> {
  // Before any query: PostgreSQL would answer a NUL or an over-long key with an error.
  messages.forEach((m, i) => checkStoredText(i, m));
  const accounts = await accountsByPhone(db, workspaceId, [...new Set(messages.map((m) => m.account_phone))]);
  const byAccount = new Map<string, { account: AccountRow; messages: IngestMessage[] }>();
  messages.forEach((m, i) => {
    const account = accounts.get(m.account_phone);
    if (!account) throw bad(i, "account_phone", `no WhatsApp account ${m.account_phone} is connected in this workspace.`);
    const group = byAccount.get(account.id) ?? { account, messages: [] };
    group.messages.push(m);
    byAccount.set(account.id, group);
  });

  const results: IngestResult[] = new Array(messages.length);
  let storedAt = 0;
  await db.transaction().execute(async (tx) => {
    await lockWorkspaceLog(tx, workspaceId);
    // Taken under the lock so storage time never goes backwards along the log.
    storedAt = clock.now();
    // Existing chats and messages of this batch, one query per account.
    const chatIds = new Map<string, number>();
    /** A stored chat's name when it is more than its bare phone or id ("" otherwise). */
    const chatNames = new Map<string, string>();
    const existingMsgs = new Map<string, string>();
    for (const [accountId, { messages: list }] of byAccount) {
      const chatExt = [...new Set(list.map((m) => m.chat.external_id))];
      for (let i = 0; i < chatExt.length; i += INSERT_CHUNK) {
        const rows = await tx
          .selectFrom("chats")
          .select(["id", "external_id", "full_name", "phone"])
          .where("account_id", "=", accountId)
          .where("external_id", "in", chatExt.slice(i, i + INSERT_CHUNK))
          .execute();
        for (const r of rows) {
          chatIds.set(`${accountId}\u0000${r.external_id}`, r.id);
          chatNames.set(`${accountId}\u0000${r.external_id}`, r.full_name === r.phone || r.full_name === r.external_id ? "" : r.full_name);
        }
      }
      const msgExt = [...new Set(list.map((m) => m.external_id))];
      for (let i = 0; i < msgExt.length; i += INSERT_CHUNK) {
        const rows = await tx
          .selectFrom("messages")
          .select(["id", "external_id"])
          .where("account_id", "=", accountId)
          .where("external_id", "in", msgExt.slice(i, i + INSERT_CHUNK))
          .execute();
        for (const r of rows) existingMsgs.set(`${accountId}\u0000${r.external_id}`, r.id);
      }
    }

    // The whole batch is valid or nothing is stored (a throw rolls the transaction back).
    const prepared = messages.map((m, i) => {
      const account = accounts.get(m.account_phone)!;
      return prepare(i, m, account, chatNames.get(`${account.id}\u0000${m.chat.external_id}`) || undefined);
    });

    // New chats, created by their first message of this batch.
    const fresh: Prepared[] = [];
    const newChats = new Map<string, { p: Prepared; messageId: string }>();
    const messageIds = new Map<Prepared, string>();
    for (const p of prepared) {
      const key = `${p.account.id}\u0000${p.msg.external_id}`;
      const dup = existingMsgs.get(key);
      if (dup) {
        results[p.index] = { status: "duplicate", message_id: dup };
        continue;
      }
      const id = ulid(storedAt);
      existingMsgs.set(key, id);
      messageIds.set(p, id);
      results[p.index] = { status: p.deliverable ? "accepted" : "skipped", message_id: id };
      fresh.push(p);
      if (!chatIds.has(p.chatKey) && !newChats.has(p.chatKey)) newChats.set(p.chatKey, { p, messageId: id });
    }
    const chatList = [...newChats.values()];
    for (let i = 0; i < chatList.length; i += INSERT_CHUNK) {
      const rows = await tx
        .insertInto("chats")
        .values(
          chatList.slice(i, i + INSERT_CHUNK).map(({ p, messageId }) => ({
            workspace_id: workspaceId,
            account_id: p.account.id,
            external_id: p.msg.chat.external_id,
            full_name: p.chatName,
            is_group: p.isGroup ? 1 : 0,
            phone: p.chatPhone,
            responsible_teammate_id: null,
            created_at: storedAt,
            created_by_message_id: messageId,
            last_message_at: storedAt,
          })),
        )
        .returning(["id", "account_id", "external_id"])
        .execute();
      for (const r of rows) chatIds.set(`${r.account_id}\u0000${r.external_id}`, r.id);
    }
    // A chat first seen without a name takes the first name that arrives.
    for (const p of fresh) {
      if (chatNames.get(p.chatKey) === "" && p.msg.chat.full_name?.trim()) {
        await tx.updateTable("chats").set({ full_name: p.msg.chat.full_name.trim() }).where("id", "=", chatIds.get(p.chatKey)!).execute();
        chatNames.set(p.chatKey, p.msg.chat.full_name.trim());
      }
    }
    for (let i = 0; i < fresh.length; i += INSERT_CHUNK) {
      await tx
        .insertInto("messages")
        .values(
          fresh.slice(i, i + INSERT_CHUNK).map((p) => ({
            id: messageIds.get(p)!,
            workspace_id: workspaceId,
            account_id: p.account.id,
            chat_id: chatIds.get(p.chatKey)!,
            external_id: p.msg.external_id,
            direction: p.msg.direction,
            type: p.msg.type,
            status: p.deliverable ? "stored" : "skipped",
            text: p.deliverable ? (p.msg.text ?? "") : (p.msg.text ?? ""),
            timestamp: p.timestamp,
            stored_at: storedAt,
            sender_name: p.sender.full_name,
            sender_phone: p.sender.phone,
            recipient_name: p.recipient.full_name,
            recipient_phone: p.recipient.phone,
            permalink: uuidv7(storedAt),
            sent_by_teammate_id: opts.sentByTeammateId ?? null,
          })),
        )
        .execute();
    }
    if (fresh.length) await announceLogGrowth(tx, workspaceId);
    const touched = [...new Set(fresh.map((p) => chatIds.get(p.chatKey)!))];
    for (let i = 0; i < touched.length; i += INSERT_CHUNK) {
      await tx.updateTable("chats").set({ last_message_at: storedAt }).where("id", "in", touched.slice(i, i + INSERT_CHUNK)).execute();
    }
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
