// Ingest's two statements of every group on PostgreSQL, as named prepared statements. Their
// text never changes (a group's ids and rows travel as array parameters), so each pooled
// connection parses them once instead of once per group (they are still planned per run with
// the group's values: db/index.ts), and no query builder runs per group. What they do is what
// store.ts's Kysely statements do on SQLite.
import { logGrowthAnnouncement, workspaceLogLock, type Database } from "../db/index.js";

/** A statement pg sends by name: parsed on a connection's first use, then only bound and run. */
export interface Prepared {
  name: string;
  text: string;
  values: unknown[];
}

/** One row of `readExisting`: an existing chat ('c'), an existing message ('m'), or the lock taken ('l'). */
export interface ExistingRow {
  kind: string;
  chat_id: number | null;
  message_id: string | null;
  external_id: string;
  full_name: string;
  phone: string;
  name_source: string;
}

const READ_EXISTING = `select 'c' as kind, id as chat_id, null::text as message_id, external_id, full_name, phone, name_source
  from chats where account_id = $1 and external_id = any($2::text[])
union all
select 'm', null, id, external_id, '', '', '' from messages where account_id = $1 and external_id = any($3::text[])`;

const READ_EXISTING_AND_LOCK = `${READ_EXISTING}
union all
select 'l', null, null, '', '', '', '' where ${workspaceLogLock("$4")}`;

/**
 * The chats and messages of one account among these external ids; with `lockWorkspace`, the
 * same statement takes the workspace's log lock (`workspaceLogLock`, held to commit).
 */
export function readExisting(
  accountId: string,
  chatExt: string[],
  msgExt: string[],
  lockWorkspace: string | undefined,
): Prepared {
  return lockWorkspace
    ? { name: "ingest_read_lock", text: READ_EXISTING_AND_LOCK, values: [accountId, chatExt, msgExt, lockWorkspace] }
    : { name: "ingest_read", text: READ_EXISTING, values: [accountId, chatExt, msgExt] };
}

/** A message row as ingest stores it (the columns of `messages` but seq, workspace and storage time). */
export type MessageRow = Omit<Database["messages"], "seq" | "workspace_id" | "stored_at">;

/** The per-row columns, in the order of the arrays (`unnest`'s arguments) and their types. */
const COLUMNS: [keyof MessageRow, string][] = [
  ["id", "text"],
  ["account_id", "text"],
  ["chat_id", "bigint"],
  ["external_id", "text"],
  ["direction", "text"],
  ["type", "text"],
  ["status", "text"],
  ["text", "text"],
  ["timestamp", "bigint"],
  ["sender_name", "text"],
  ["sender_phone", "text"],
  ["recipient_name", "text"],
  ["recipient_phone", "text"],
  ["permalink", "text"],
  ["sent_by_teammate_id", "text"],
];
/** The columns ingest writes per message, for SQLite's statement too (ingest/store.ts). */
export const MESSAGE_COLUMNS: readonly (keyof MessageRow)[] = COLUMNS.map(([c]) => c);
const quoted = (c: string) => `"${c}"`;

/*
 * Inserts the rows in array order (`with ordinality`: the order their seqs are taken in, which
 * is the log's order), moves each touched chat's `last_message_at` to its newest message's time
 * when that is later (a late message with an older time leaves it), and announces the log's
 * growth (sent at commit; PostgreSQL folds identical notifications into one).
 */
/**
 * The chat a row goes to: its own, or the chat it was merged into (ingest/identity.ts) by a
 * merge that committed after this group read its chats (this statement runs after the log
 * lock, in a snapshot that sees it). One primary-key probe per row.
 */
const CHAT_OF = `coalesce((select a.chat_id from chat_aliases a where a.old_chat_id = m."chat_id"), m."chat_id")`;

const INSERT_MESSAGES = `with inserted as (
  insert into messages ("workspace_id", "stored_at", ${COLUMNS.map(([c]) => quoted(c)).join(", ")})
  select $1::text, $2::bigint, ${COLUMNS.map(([c]) => (c === "chat_id" ? CHAT_OF : `m.${quoted(c)}`)).join(", ")}
  from unnest(${COLUMNS.map(([, type], i) => `$${i + 3}::${type}[]`).join(", ")}) with ordinality
    as m(${COLUMNS.map(([c]) => quoted(c)).join(", ")}, ord)
  order by m.ord
  returning chat_id, "timestamp"
)
update chats set last_message_at = case when l.at > chats.last_message_at then l.at else chats.last_message_at end
from (select chat_id, max("timestamp") as at from inserted group by chat_id) l
where chats.id = l.chat_id
returning ${logGrowthAnnouncement("$1::text")} as notified`;

export function insertMessages(workspaceId: string, storedAt: number, rows: MessageRow[]): Prepared {
  const values: unknown[] = [workspaceId, storedAt];
  for (const [column] of COLUMNS) values.push(rows.map((r) => r[column]));
  return { name: "ingest_insert_messages", text: INSERT_MESSAGES, values };
}
