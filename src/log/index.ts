import type { Selectable } from "kysely";
import type { DB, Database } from "../db/index.js";

/**
 * The message log as the delivery consumers read it: positions (seq), what is deliverable
 * after a cursor, and the chats of an aggregation window. Read-only; ingest appends.
 */

/** One message of the log as delivery reads it (what a payload needs), joined with its chat and account. */
export interface DeliverableMessage extends Pick<
  Selectable<Database["messages"]>,
  ColumnName<(typeof MESSAGE_COLUMNS)[number]>
> {
  account_phone: string;
  owner_name: string;
  owner_email: string;
  chat_name: string;
  chat_phone: string;
  chat_is_group: number;
  chat_created_at: number;
  chat_created_by: string | null;
  responsible_name: string | null;
  responsible_email: string | null;
}

/**
 * The log as consumers read it: text messages after `afterSeq`, in seq order, joined with what a payload needs of their chat and account.
 */
export async function readDeliverable(
  db: DB,
  workspaceId: string,
  opts: { afterSeq: number; limit: number; maxSeq?: number },
): Promise<DeliverableMessage[]> {
  let q = deliverableQuery(db)
    .where("m.workspace_id", "=", workspaceId)
    .where("m.seq", ">", opts.afterSeq)
    .where("m.status", "=", "stored");
  if (opts.maxSeq !== undefined) q = q.where("m.seq", "<=", opts.maxSeq);
  return q.orderBy("m.seq", "asc").limit(opts.limit).execute();
}

/** One message of the log as a payload needs it (a parked delivery written again), if it is there and deliverable. */
export function readDeliverableMessage(
  db: DB,
  workspaceId: string,
  messageId: string,
): Promise<DeliverableMessage | undefined> {
  return deliverableQuery(db)
    .where("m.workspace_id", "=", workspaceId)
    .where("m.id", "=", messageId)
    .where("m.status", "=", "stored")
    .executeTakeFirst();
}

/**
 * The positions of the messages of some chats (ids from `windowChats`, so of one workspace)
 * in (`afterSeq`, `maxSeq`], whatever their status, ordered by chat then seq: the chat index
 * alone serves it (seq is the row id), however long the window. At most `limit`; the last
 * chat of a full page may continue.
 */
export async function windowMessageSeqs(
  db: DB,
  opts: { chatIds: number[]; afterSeq: number; maxSeq: number; limit: number },
): Promise<{ chat_id: number; seq: number }[]> {
  if (!opts.chatIds.length) return [];
  return db
    .selectFrom("messages")
    .select(["chat_id", "seq"])
    .where("chat_id", "in", opts.chatIds)
    .where("seq", ">", opts.afterSeq)
    .where("seq", "<=", opts.maxSeq)
    .orderBy("chat_id", "asc")
    .orderBy("seq", "asc")
    .limit(opts.limit)
    .execute();
}

/** What a payload needs of a message's chat: the chat, its account and their teammates. */
export type ChatParts = Omit<DeliverableMessage, Unprefixed<(typeof MESSAGE_COLUMNS)[number]>>;
type Unprefixed<T> = T extends `m.${infer C}` ? C : never;

/** A message's own columns (alias m) that every read of the log shows: deliveries and the Timeline. */
export const MESSAGE_VIEW_COLUMNS = [
  "m.seq",
  "m.id",
  "m.chat_id",
  "m.direction",
  "m.text",
  "m.timestamp",
  "m.stored_at",
  "m.sender_name",
  "m.sender_phone",
  "m.recipient_name",
  "m.recipient_phone",
  "m.permalink",
] as const;

const MESSAGE_COLUMNS = [...MESSAGE_VIEW_COLUMNS, "m.account_id"] as const;

/** A column of a select list without its table's alias (`m.seq` → `seq`): row types follow their select lists. */
export type ColumnName<T extends string> = T extends `${string}.${infer C}` ? C : never;

/** The chat parts of a row, read through the aliases c (chats), a (accounts), o (owner) and r (responsible). */
const CHAT_PART_COLUMNS = [
  "a.phone as account_phone",
  "o.full_name as owner_name",
  "o.email as owner_email",
  "c.full_name as chat_name",
  "c.phone as chat_phone",
  "c.is_group as chat_is_group",
  "c.created_at as chat_created_at",
  "c.created_by_message_id as chat_created_by",
  "r.full_name as responsible_name",
  "r.email as responsible_email",
] as const;

/** The parts of some chats (a chat belongs to one account), by chat id. */
export async function readChatParts(db: DB, chatIds: number[]): Promise<Map<number, ChatParts>> {
  if (!chatIds.length) return new Map();
  const rows = await db
    .selectFrom("chats as c")
    .innerJoin("accounts as a", "a.id", "c.account_id")
    .innerJoin("teammates as o", "o.id", "a.owner_teammate_id")
    .leftJoin("teammates as r", "r.id", "c.responsible_teammate_id")
    .select(["c.id", ...CHAT_PART_COLUMNS])
    .where("c.id", "in", chatIds)
    .execute();
  return new Map(rows.map(({ id, ...parts }) => [id, parts]));
}

/**
 * The deliverable messages among `seqs` (from `windowMessageSeqs`), in seq order, each with its
 * chat's parts (from `readChatParts`). Read in log order rather than chat by chat: a chat's
 * messages are spread over the whole log, and in seq order neighbouring messages share their
 * table pages. The chat's parts are read once per chat: joined to every row, they cost twice
 * what the rows themselves did.
 */
export async function readMessagesBySeq(
  db: DB,
  seqs: number[],
  chats: Map<number, ChatParts>,
): Promise<DeliverableMessage[]> {
  if (!seqs.length) return [];
  const rows = await db
    .selectFrom("messages as m")
    .select(MESSAGE_COLUMNS)
    .where("m.seq", "in", seqs)
    .where("m.status", "=", "stored")
    .orderBy("m.seq", "asc")
    .execute();
  // One literal of one shape (adding the chat's properties to each row cost more than reading it).
  return rows.map((m) => {
    const c = chats.get(m.chat_id);
    if (!c) throw new Error(`chat ${m.chat_id} was not read`);
    return {
      seq: m.seq,
      id: m.id,
      chat_id: m.chat_id,
      direction: m.direction,
      text: m.text,
      timestamp: m.timestamp,
      stored_at: m.stored_at,
      sender_name: m.sender_name,
      sender_phone: m.sender_phone,
      recipient_name: m.recipient_name,
      recipient_phone: m.recipient_phone,
      permalink: m.permalink,
      account_id: m.account_id,
      account_phone: c.account_phone,
      owner_name: c.owner_name,
      owner_email: c.owner_email,
      chat_name: c.chat_name,
      chat_phone: c.chat_phone,
      chat_is_group: c.chat_is_group,
      chat_created_at: c.chat_created_at,
      chat_created_by: c.chat_created_by,
      responsible_name: c.responsible_name,
      responsible_email: c.responsible_email,
    };
  });
}

function deliverableQuery(db: DB) {
  return db
    .selectFrom("messages as m")
    .innerJoin("chats as c", "c.id", "m.chat_id")
    .innerJoin("accounts as a", "a.id", "m.account_id")
    .innerJoin("teammates as o", "o.id", "a.owner_teammate_id")
    .leftJoin("teammates as r", "r.id", "c.responsible_teammate_id")
    .select([...MESSAGE_COLUMNS, ...CHAT_PART_COLUMNS]);
}

/**
 * The newest seq of a workspace's log after `afterSeq` (default 0) among rows stored before
 * `storedBefore` (default: all), or `afterSeq` when there is none: the log's head, the
 * position of a point in time (replay), or the end of an aggregation window.
 */
export async function headSeq(
  db: DB,
  workspaceId: string,
  opts: { afterSeq?: number; storedBefore?: number } = {},
): Promise<number> {
  const afterSeq = opts.afterSeq ?? 0;
  let q = db
    .selectFrom("messages")
    .select((eb) => eb.fn.max("seq").as("seq"))
    .where("workspace_id", "=", workspaceId)
    .where("seq", ">", afterSeq);
  if (opts.storedBefore !== undefined) q = q.where("stored_at", "<", opts.storedBefore);
  const row = await q.executeTakeFirst();
  return row?.seq === null || row?.seq === undefined ? afterSeq : Number(row.seq);
}

/** When the first deliverable message after `afterSeq` was stored, if there is one. */
export async function nextStoredAt(db: DB, workspaceId: string, afterSeq: number): Promise<number | undefined> {
  const row = await db
    .selectFrom("messages")
    .select("stored_at")
    .where("workspace_id", "=", workspaceId)
    .where("seq", ">", afterSeq)
    .where("status", "=", "stored")
    .orderBy("seq", "asc")
    .limit(1)
    .executeTakeFirst();
  return row ? Number(row.stored_at) : undefined;
}

export interface WindowChat {
  chat_id: number;
  /** The seq of the chat's first deliverable message in the window (the paging key). */
  first_seq: number;
  created_at: number;
  /** The seq of the message that created the chat (null if unknown). */
  created_seq: number | null;
}

/**
 * The chats with deliverable messages in (`afterSeq`, `maxSeq`], each once, in the order of
 * their first such message; the next page starts after the last `first_seq` (`fromSeq`).
 * Streams: nothing but the page is held, whatever the number of chats.
 */
export async function windowChats(
  db: DB,
  workspaceId: string,
  opts: { afterSeq: number; maxSeq: number; fromSeq: number; limit: number },
): Promise<WindowChat[]> {
  return db
    .selectFrom("messages as m")
    .innerJoin("chats as c", "c.id", "m.chat_id")
    .leftJoin("messages as cm", "cm.id", "c.created_by_message_id")
    .select(["m.chat_id", "m.seq as first_seq", "c.created_at", "cm.seq as created_seq"])
    .where("m.workspace_id", "=", workspaceId)
    .where("m.seq", ">", Math.max(opts.afterSeq, opts.fromSeq))
    .where("m.seq", "<=", opts.maxSeq)
    .where("m.status", "=", "stored")
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom("messages as p")
            .select("p.seq")
            .whereRef("p.chat_id", "=", "m.chat_id")
            .where("p.seq", ">", opts.afterSeq)
            .whereRef("p.seq", "<", "m.seq")
            .where("p.status", "=", "stored"),
        ),
      ),
    )
    .orderBy("m.seq", "asc")
    .limit(opts.limit)
    .execute();
}

/**
 * The deliverable messages of a workspace after `afterSeq`, in log order, whose own time is in
 * [`since`, `until`), of one chat when `chatId` is given: a page of an export. Pages are keyed
 * by seq, so each is one indexed read however long the log.
 */
export async function readDeliverableRange(
  db: DB,
  workspaceId: string,
  opts: { afterSeq: number; limit: number; since?: number; until?: number; chatId?: number },
): Promise<DeliverableMessage[]> {
  let q = deliverableQuery(db)
    .where("m.workspace_id", "=", workspaceId)
    .where("m.seq", ">", opts.afterSeq)
    .where("m.status", "=", "stored");
  if (opts.chatId !== undefined) q = q.where("m.chat_id", "=", opts.chatId);
  if (opts.since !== undefined) q = q.where("m.timestamp", ">=", opts.since);
  if (opts.until !== undefined) q = q.where("m.timestamp", "<", opts.until);
  return q.orderBy("m.seq", "asc").limit(opts.limit).execute();
}
