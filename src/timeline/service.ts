import { sql, type Selectable } from "kysely";
import type { DB, Database } from "../db/index.js";
import { invalid, notFound } from "../errors.js";
import { findTeammateByEmail } from "../workspaces/teammates.js";
import { MESSAGE_VIEW_COLUMNS, type ColumnName } from "../log/index.js";
import { chatUrl, permalinkUrl } from "./links.js";
import type { Chat, Direction, Message } from "./schemas.js";

/** A chat as the Timeline reads it: its columns (db/schema.ts) joined with its account, person and newest message. */
export interface ChatRow extends Pick<
  Selectable<Database["chats"]>,
  | "id"
  | "workspace_id"
  | "account_id"
  | "external_id"
  | "full_name"
  | "is_group"
  | "phone"
  | "created_at"
  | "last_message_at"
> {
  account_phone: string;
  responsible_name: string | null;
  responsible_email: string | null;
  first_message_at: number | null;
  /** The newest message (by its time), for the Timeline's preview. */
  last_text: string | null;
  last_type: string | null;
  last_direction: string | null;
  last_sender_name: string | null;
}

/** The longest preview of a chat's last message the API answers (the text is cut, not the message). */
export const PREVIEW_LENGTH = 140;

/** A message as the Timeline reads it (`messageColumns`). */
export type MessageRow = Pick<Selectable<Database["messages"]>, ColumnName<(typeof messageColumns)[number]>>;

export function chatView(c: ChatRow, publicUrl: string): Chat {
  return {
    chat_id: String(c.id),
    full_name: c.full_name,
    is_group: c.is_group === 1,
    phone: c.phone,
    account_phone: c.account_phone,
    responsible: c.responsible_email ? { full_name: c.responsible_name ?? "", email: c.responsible_email } : null,
    created_at: new Date(c.created_at).toISOString(),
    last_message_at: new Date(c.last_message_at).toISOString(),
    first_message_at: c.first_message_at === null ? null : new Date(Number(c.first_message_at)).toISOString(),
    last_message:
      c.last_direction === null
        ? null
        : {
            direction: c.last_direction as Direction,
            type: c.last_type ?? "",
            sender_name: c.last_sender_name ?? "",
            preview: previewOf(c.last_text ?? ""),
          },
    chat_url: chatUrl(publicUrl, c.id),
  };
}

export function messageView(m: MessageRow, publicUrl: string): Message {
  return {
    message_id: m.id,
    // Stored only as received or sent (ingest checks it).
    direction: m.direction as Direction,
    timestamp: new Date(m.timestamp).toISOString(),
    type: m.type,
    text: m.text,
    sender: { full_name: m.sender_name, phone: m.sender_phone },
    recipient: { full_name: m.recipient_name, phone: m.recipient_phone },
    permalink: permalinkUrl(publicUrl, m.permalink),
    status: m.status,
  };
}

/** A message's text on one line, cut at 140 characters: the Timeline's preview, the activity's snippet. */
export function previewOf(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > PREVIEW_LENGTH ? `${flat.slice(0, PREVIEW_LENGTH - 1)}…` : flat;
}

function chatQuery(db: DB) {
  return (
    db
      .selectFrom("chats as c")
      .innerJoin("accounts as a", "a.id", "c.account_id")
      .leftJoin("teammates as r", "r.id", "c.responsible_teammate_id")
      // The chat's newest message by time (ties: the later stored), through the chat-and-time index.
      .leftJoin("messages as lm", (join) =>
        join.on("lm.id", "=", (eb) =>
          eb
            .selectFrom("messages as x")
            .select("x.id")
            .whereRef("x.chat_id", "=", "c.id")
            .orderBy("x.timestamp", "desc")
            .orderBy("x.seq", "desc")
            .limit(1),
        ),
      )
      .select((eb) => [
        eb
          .selectFrom("messages as f")
          .select((f) => f.fn.min("f.timestamp").as("t"))
          .whereRef("f.chat_id", "=", "c.id")
          .as("first_message_at"),
        "lm.text as last_text",
        "lm.type as last_type",
        "lm.direction as last_direction",
        "lm.sender_name as last_sender_name",
      ])
      .select([
        "c.id",
        "c.workspace_id",
        "c.account_id",
        "c.external_id",
        "c.full_name",
        "c.is_group",
        "c.phone",
        "c.created_at",
        "c.last_message_at",
        "a.phone as account_phone",
        "r.full_name as responsible_name",
        "r.email as responsible_email",
      ])
  );
}

/** Chat ids in URLs are digits; anything else is simply not found. */
export function parseChatId(raw: string): number | undefined {
  return /^\d{1,15}$/.test(raw) ? Number(raw) : undefined;
}

/**
 * A chat by id. The id of a chat merged into another (ingest/identity.ts) answers the chat it
 * became part of, so `chat_url`s and ids a CRM kept keep working.
 */
export async function getChat(db: DB, workspaceId: string, chatId: string): Promise<ChatRow> {
  const id = parseChatId(chatId);
  if (id === undefined) throw notFound("The chat");
  let row = await chatQuery(db).where("c.workspace_id", "=", workspaceId).where("c.id", "=", id).executeTakeFirst();
  if (!row) {
    const alias = await db
      .selectFrom("chat_aliases")
      .select("chat_id")
      .where("workspace_id", "=", workspaceId)
      .where("old_chat_id", "=", id)
      .executeTakeFirst();
    if (alias)
      row = await chatQuery(db)
        .where("c.workspace_id", "=", workspaceId)
        .where("c.id", "=", Number(alias.chat_id))
        .executeTakeFirst();
  }
  if (!row) throw notFound("The chat");
  return row;
}

/** A chat's history: the chats merged into it, oldest first. */
export async function chatHistory(db: DB, chatId: number) {
  const rows = await db
    .selectFrom("chat_aliases")
    .select(["old_chat_id", "external_id", "merged_at"])
    .where("chat_id", "=", chatId)
    .orderBy("merged_at")
    .orderBy("old_chat_id")
    .limit(100)
    .execute();
  return rows.map((r) => ({
    event: "merged" as const,
    at: new Date(Number(r.merged_at)).toISOString(),
    chat_id: String(r.old_chat_id),
    external_id: r.external_id,
  }));
}

/** A teammate names a chat: no gateway name replaces it afterwards (ingest/names.ts). */
export async function renameChat(db: DB, workspaceId: string, chatId: string, fullName: string): Promise<ChatRow> {
  const chat = await getChat(db, workspaceId, chatId);
  const name = fullName.trim();
  if (!name) throw invalid("full_name", "must not be empty.");
  await db.updateTable("chats").set({ full_name: name, name_source: "teammate" }).where("id", "=", chat.id).execute();
  return getChat(db, workspaceId, String(chat.id));
}

function decodeCursor(cursor: string | undefined, parts: number): number[] | undefined {
  if (!cursor) return undefined;
  const nums = Buffer.from(cursor, "base64url").toString().split(":").map(Number);
  if (nums.length !== parts || nums.some((n) => !Number.isFinite(n)))
    throw invalid("cursor", "is not a cursor this list returned.");
  return nums;
}
const encodeCursor = (...nums: number[]) => Buffer.from(nums.join(":")).toString("base64url");

export async function listChats(db: DB, workspaceId: string, opts: { limit: number; cursor?: string; q?: string }) {
  let q = chatQuery(db).where("c.workspace_id", "=", workspaceId);
  const after = decodeCursor(opts.cursor, 2);
  if (after) {
    const [at, id] = after as [number, number];
    q = q.where((eb) =>
      eb.or([eb("c.last_message_at", "<", at), eb.and([eb("c.last_message_at", "=", at), eb("c.id", "<", id)])]),
    );
  }
  if (opts.q?.trim()) {
    // `%`, `_` and `\` in q are literal on both databases: SQLite's LIKE has no escape
    // character unless ESCAPE names one (PostgreSQL's default is `\`), so it is named.
    const like = `%${opts.q
      .trim()
      .toLowerCase()
      .replace(/[%_\\]/g, "\\$&")}%`;
    q = q.where((eb) =>
      eb.or([
        sql<boolean>`lower(${eb.ref("c.full_name")}) like ${like} escape '\\'`,
        sql<boolean>`${eb.ref("c.phone")} like ${like} escape '\\'`,
      ]),
    );
  }
  const rows = await q
    .orderBy("c.last_message_at", "desc")
    .orderBy("c.id", "desc")
    .limit(opts.limit + 1)
    .execute();
  const more = rows.length > opts.limit;
  const items = rows.slice(0, opts.limit);
  const last = items.at(-1);
  return { items, next_cursor: more && last ? encodeCursor(last.last_message_at, last.id) : null };
}

/** The log's columns and, for the Timeline, each message's type and status. */
const messageColumns = [...MESSAGE_VIEW_COLUMNS, "m.type", "m.status"] as const;

/** A chat's messages, oldest first (timestamp order, ties by storage order). */
export async function listMessages(
  db: DB,
  workspaceId: string,
  chatId: string,
  opts: { limit: number; cursor?: string },
) {
  const chat = await getChat(db, workspaceId, chatId);
  let q = db.selectFrom("messages as m").select(messageColumns).where("m.chat_id", "=", chat.id);
  const after = decodeCursor(opts.cursor, 2);
  if (after) {
    const [ts, seq] = after as [number, number];
    q = q.where((eb) =>
      eb.or([eb("m.timestamp", ">", ts), eb.and([eb("m.timestamp", "=", ts), eb("m.seq", ">", seq)])]),
    );
  }
  const rows = await q
    .orderBy("m.timestamp", "asc")
    .orderBy("m.seq", "asc")
    .limit(opts.limit + 1)
    .execute();
  const more = rows.length > opts.limit;
  const items = rows.slice(0, opts.limit);
  const last = items.at(-1);
  return { chat, items, next_cursor: more && last ? encodeCursor(last.timestamp, last.seq) : null };
}

export async function setResponsible(
  db: DB,
  workspaceId: string,
  chatId: string,
  email: string | null,
): Promise<ChatRow> {
  const chat = await getChat(db, workspaceId, chatId);
  let teammateId: string | null = null;
  if (email !== null) {
    const t = await findTeammateByEmail(db, workspaceId, email);
    if (!t) throw invalid("responsible_email", `no teammate with e-mail ${email} in this workspace.`);
    teammateId = t.id;
  }
  await db.updateTable("chats").set({ responsible_teammate_id: teammateId }).where("id", "=", chat.id).execute();
  return getChat(db, workspaceId, String(chat.id));
}

/** A person leaves (workspaces/service.ts, inside its transaction): the chats they were responsible for have no one. */
export async function unassignChats(tx: DB, workspaceId: string, teammateId: string): Promise<void> {
  await tx
    .updateTable("chats")
    .set({ responsible_teammate_id: null })
    .where("workspace_id", "=", workspaceId)
    .where("responsible_teammate_id", "=", teammateId)
    .execute();
}

/** Which of `externalIds` the account already has a chat for. */
export async function knownChats(db: DB, accountId: string, externalIds: string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (let i = 0; i < externalIds.length; i += 1000) {
    const rows = await db
      .selectFrom("chats")
      .select("external_id")
      .where("account_id", "=", accountId)
      .where("external_id", "in", externalIds.slice(i, i + 1000))
      .execute();
    for (const r of rows) known.add(r.external_id);
  }
  return known;
}

/** The names of the account's direct chats with these phones, where they have a real name (a stored contact), by phone. */
export async function directChatNames(db: DB, accountId: string, phones: string[]): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom("chats")
    .select(["phone", "full_name"])
    .where("account_id", "=", accountId)
    .where("is_group", "=", 0)
    .where("phone", "in", phones)
    .execute();
  return new Map(rows.filter((r) => r.full_name && r.full_name !== r.phone).map((r) => [r.phone, r.full_name]));
}

export async function findPermalink(db: DB, workspaceId: string, uuid: string) {
  const row = await db
    .selectFrom("messages")
    .select(["id", "chat_id"])
    .where("workspace_id", "=", workspaceId)
    .where("permalink", "=", uuid)
    .executeTakeFirst();
  if (!row) throw notFound("The message");
  return { chat_id: String(row.chat_id), message_id: row.id };
}

export async function getMessage(db: DB, workspaceId: string, messageId: string): Promise<MessageRow> {
  const row = await db
    .selectFrom("messages as m")
    .select(messageColumns)
    .where("m.workspace_id", "=", workspaceId)
    .where("m.id", "=", messageId)
    .executeTakeFirst();
  if (!row) throw notFound("The message");
  return row;
}
