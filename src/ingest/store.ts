import { type Compilable, type Insertable } from "kysely";
import type pg from "pg";
import type SQLite from "better-sqlite3";
import { inOneWrite, isPostgres, pipelineOf, sqliteOf, type Database, type DB } from "../db/index.js";
import { ulid, uuidv7 } from "../db/ids.js";
import type { Clock } from "../clock/index.js";
import { parties, type Checked } from "./parties.js";
import { replacesName } from "./names.js";
import * as prepared from "./prepared.js";
import type { IngestResult } from "./types.js";

const CHUNK = 1000;
/** A group takes waiting requests up to this many messages (one request of 1,000 always fits). */
const MAX_GROUP_MESSAGES = 2000;

/** One ingest request, validated, waiting for its transaction. */
export interface GroupRequest {
  messages: Checked[];
  sentByTeammateId?: string;
  /** The id its one message takes (a message queued for sending keeps the id it was answered with). */
  messageId?: string;
}

interface Waiting extends GroupRequest {
  resolve(results: IngestResult[]): void;
  reject(err: unknown): void;
}

/** Per storage and workspace: requests waiting while a transaction of that workspace runs. */
const queues = new WeakMap<DB, Map<string, Waiting[]>>();

/**
 * Group commit. A request of a workspace with no transaction running starts one at once; the
 * requests that arrive while it runs wait and share the next one. Each is answered after its
 * transaction commits. Throughput grows with load instead of queueing on the workspace's
 * lock: one transaction's round trips are shared by every request in it.
 */
export function submitToGroup(
  db: DB,
  clock: Clock,
  workspaceId: string,
  request: GroupRequest,
): Promise<IngestResult[]> {
  let byWorkspace = queues.get(db);
  if (!byWorkspace) queues.set(db, (byWorkspace = new Map()));
  return new Promise((resolve, reject) => {
    const waiting = byWorkspace.get(workspaceId);
    if (waiting) {
      waiting.push({ ...request, resolve, reject });
      return;
    }
    const queue: Waiting[] = [{ ...request, resolve, reject }];
    byWorkspace.set(workspaceId, queue);
    void drain(db, clock, workspaceId, queue, byWorkspace);
  });
}

async function drain(
  db: DB,
  clock: Clock,
  workspaceId: string,
  queue: Waiting[],
  byWorkspace: Map<string, Waiting[]>,
): Promise<void> {
  // SQLite has no round trips to share and grouping measured slower than a transaction a
  // request (BENCHMARKS.md, "Behind choices in the code"), so there a group is one request.
  const grouping = isPostgres(db);
  while (queue.length) {
    let size = 0;
    let n = 0;
    while (n < queue.length && (n === 0 || (grouping && size + queue[n]!.messages.length <= MAX_GROUP_MESSAGES)))
      size += queue[n++]!.messages.length;
    const group = queue.splice(0, n);
    try {
      const results = await storeGroup(db, clock, workspaceId, group);
      group.forEach((r, i) => r.resolve(results[i]!));
    } catch (err) {
      if (group.length === 1) group[0]!.reject(err);
      // A database error (a text PostgreSQL refuses, say) fails only the request that caused it.
      else
        for (const r of group) await storeGroup(db, clock, workspaceId, [r]).then(([res]) => r.resolve(res!), r.reject);
    }
  }
  byWorkspace.delete(workspaceId);
}

/**
 * The group's transaction, run again when another process stored one of its chats or
 * messages between its reads and its inserts (a unique violation; that process had
 * committed, so the next reads see its rows).
 */
async function storeGroup(db: DB, clock: Clock, workspaceId: string, group: GroupRequest[]): Promise<IngestResult[][]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await storeOnce(db, clock, workspaceId, group);
    } catch (err) {
      if (attempt >= 3 || (err as { code?: unknown }).code !== "23505") throw err;
    }
  }
}

/**
 * Stores several validated requests of one workspace in one transaction: the statement
 * that reads the group's existing chats and messages also takes the workspace's log lock
 * (held to commit); then new chats, and one statement that inserts the messages, touches
 * their chats and announces the log's growth. On PostgreSQL that is two round trips for the
 * whole group (three with new chats): BEGIN + read, insert + COMMIT (`Pipelined`). The same external_id twice in the
 * group is stored once (the later one answers `duplicate`).
 */
async function storeOnce(db: DB, clock: Clock, workspaceId: string, group: GroupRequest[]): Promise<IngestResult[][]> {
  const file = sqliteOf(db);
  if (file) {
    let results: IngestResult[][] = [];
    // Kysely's transaction holds the one connection; the statements inside are better-sqlite3's own.
    await db.transaction().execute(async () => {
      results = await storeIn(sqliteStatementsOf(file), clock, workspaceId, group);
    });
    return results;
  }
  const pool = pipelineOf(db);
  if (!pool) throw new Error("storage is neither SQLite nor PostgreSQL with a pipeline pool");
  const client = await pool.connect();
  const statements = new Pipelined(client);
  try {
    const results = await storeIn(new PostgresGroupStorage(db, statements), clock, workspaceId, group);
    await statements.commit();
    client.release();
    return results;
  } catch (err) {
    // A failed statement ends the transaction (a pipelined COMMIT then rolls back); the
    // connection is not reused, whatever state it is in.
    client.release(true);
    throw err;
  }
}

type Statement<R> = Compilable<R> & { execute(): Promise<R[]> };

/** How a group's statements reach the database: `last` is the group's final statement. */
interface Statements {
  run<R>(q: Statement<R> | prepared.Prepared): Promise<R[]>;
  last<R>(q: Statement<R> | prepared.Prepared): Promise<R[]>;
}

const isPrepared = (q: object): q is prepared.Prepared => "text" in q;

/**
 * PostgreSQL, pipelined (pg's `pipeline` client): BEGIN travels with the first statement and
 * COMMIT with the last, so a group of existing chats is two round trips instead of four
 * (BENCHMARKS.md, "Behind choices in the code"). The two statements of a round trip also leave in one socket write (`inOneWrite`).
 */
class Pipelined implements Statements {
  private begun = false;
  private committed = false;
  constructor(private readonly client: pg.PoolClient) {}

  private send<R>(q: Compilable<R> | prepared.Prepared): Promise<pg.QueryResult> {
    if (isPrepared(q)) return this.client.query(q);
    const c = q.compile();
    return this.client.query(c.sql, [...c.parameters]);
  }

  async run<R>(q: Statement<R> | prepared.Prepared): Promise<R[]> {
    if (this.begun) return (await this.send(q)).rows as R[];
    this.begun = true;
    const [, result] = await settled(inOneWrite(this.client, () => [this.client.query("begin"), this.send(q)]));
    return result!.rows as R[];
  }

  async last<R>(q: Statement<R> | prepared.Prepared): Promise<R[]> {
    if (!this.begun) return this.run(q);
    this.committed = true;
    const [result] = await settled(inOneWrite(this.client, () => [this.send(q), this.client.query("commit")]));
    return result!.rows as R[];
  }

  async commit(): Promise<void> {
    if (this.begun && !this.committed) await this.client.query("commit");
  }
}

/** Waits for every one and throws the first failure (so none is left unheard). */
async function settled<T>(all: Promise<T>[]): Promise<T[]> {
  const outcomes = await Promise.allSettled(all);
  for (const o of outcomes) if (o.status === "rejected") throw o.reason;
  return outcomes.map((o) => (o as PromiseFulfilledResult<T>).value);
}

type ExistingRow = prepared.ExistingRow;

type NewChat = Insertable<Database["chats"]>;
/** The columns ingest writes per new chat (all but the generated id); a test holds them to the migrated table. */
export const CHAT_COLUMNS = [
  "workspace_id",
  "account_id",
  "external_id",
  "full_name",
  "name_source",
  "is_group",
  "phone",
  "responsible_teammate_id",
  "created_at",
  "created_by_message_id",
  "last_message_at",
] as const satisfies readonly (keyof NewChat)[];
type NewMessage = prepared.MessageRow & { workspace_id: string; stored_at: number };

/**
 * A send to a phone the account has no chat with yet (sending/queue.ts) opens the direct chat,
 * without messages until the send's own is stored. One made meanwhile under that id is kept.
 */
export async function openDirectChat(
  db: DB,
  now: number,
  chat: Pick<NewChat, "workspace_id" | "account_id" | "external_id" | "phone" | "created_by_message_id">,
): Promise<void> {
  await db
    .insertInto("chats")
    .values({
      workspace_id: chat.workspace_id,
      account_id: chat.account_id,
      external_id: chat.external_id,
      full_name: chat.phone,
      is_group: 0,
      phone: chat.phone,
      responsible_teammate_id: null,
      created_at: now,
      created_by_message_id: chat.created_by_message_id,
      last_message_at: now,
    })
    .onConflict((oc) => oc.columns(["account_id", "external_id"]).doNothing())
    .execute();
}

/**
 * What a group's transaction asks of the database; `storeIn` decides what to store and is
 * the same for both. PostgreSQL sends Kysely's statements pipelined (a few round trips per
 * group); SQLite runs prepared statements kept per file, row by row (no round trips to
 * save, and preparing a 1,000-row INSERT every time was most of ingest's CPU).
 */
interface GroupStorage {
  /** The chats and messages of one account among these external ids; `lockWorkspace` takes the log lock first. */
  readExisting(
    accountId: string,
    chatExt: string[],
    msgExt: string[],
    lockWorkspace: string | undefined,
  ): Promise<ExistingRow[]>;
  insertChats(rows: NewChat[]): Promise<{ id: number; account_id: string; external_id: string }[]>;
  renameChat(id: number, name: string, source: string): Promise<void>;
  /** Inserts messages, moves their chats' `last_message_at` forward and announces the log's growth; `last`: the group's final statement. */
  insertMessages(workspaceId: string, storedAt: number, rows: NewMessage[], last: boolean): Promise<void>;
}

/** The group's decisions, the same for both databases; `storage` says how they reach it. */
async function storeIn(
  storage: GroupStorage,
  clock: Clock,
  workspaceId: string,
  group: GroupRequest[],
): Promise<IngestResult[][]> {
  const results = group.map((r) => new Array<IngestResult>(r.messages.length));
  // Existing chats and messages of this group, one statement per account (and 1,000 of each).
  const byAccount = new Map<string, { chats: Set<string>; messages: Set<string> }>();
  for (const r of group) {
    for (const c of r.messages) {
      let a = byAccount.get(c.account.id);
      if (!a) byAccount.set(c.account.id, (a = { chats: new Set(), messages: new Set() }));
      a.chats.add(c.msg.chat.external_id);
      a.messages.add(c.msg.external_id);
    }
  }
  const chatIds = new Map<string, number>();
  /** A stored chat's name when it is more than its bare phone or id ("" otherwise). */
  const chatNames = new Map<string, string>();
  /** A stored chat's name and where it came from (names.ts). */
  const chatState = new Map<string, { name: string; source: string }>();
  const existingMsgs = new Map<string, string>();
  let locked = false;
  for (const [accountId, { chats, messages }] of byAccount) {
    const chatExt = [...chats];
    const msgExt = [...messages];
    for (let i = 0; i < Math.max(chatExt.length, msgExt.length); i += CHUNK) {
      const rows = await storage.readExisting(
        accountId,
        chatExt.slice(i, i + CHUNK),
        msgExt.slice(i, i + CHUNK),
        locked ? undefined : workspaceId,
      );
      locked = true;
      for (const r of rows) {
        const key = `${accountId}\u0000${r.external_id}`;
        if (r.kind === "m") existingMsgs.set(key, r.message_id!);
        else if (r.kind === "c") {
          chatIds.set(key, r.chat_id!);
          chatNames.set(key, r.full_name === r.phone || r.full_name === r.external_id ? "" : r.full_name);
          chatState.set(key, { name: r.full_name, source: r.name_source });
        }
      }
    }
  }

  // Read under the lock, so storage time never goes backwards along the log.
  const storedAt = clock.now();
  interface Fresh {
    c: Checked;
    id: string;
    sentBy: string | null;
    p: ReturnType<typeof parties>;
  }
  const fresh: Fresh[] = [];
  const newChats = new Map<string, Fresh>();
  group.forEach((r, ri) => {
    for (const c of r.messages) {
      const key = `${c.account.id}\u0000${c.msg.external_id}`;
      const dup = existingMsgs.get(key);
      if (dup) {
        results[ri]![c.index] = { status: "duplicate", message_id: dup };
        continue;
      }
      const id = (r.messages.length === 1 ? r.messageId : undefined) ?? ulid(storedAt);
      existingMsgs.set(key, id);
      results[ri]![c.index] = { status: c.deliverable ? "accepted" : "skipped", message_id: id };
      const f = { c, id, sentBy: r.sentByTeammateId ?? null, p: parties(c, chatNames.get(c.chatKey) || undefined) };
      fresh.push(f);
      if (!chatIds.has(c.chatKey) && !newChats.has(c.chatKey)) newChats.set(c.chatKey, f);
    }
  });
  const chatList = [...newChats.values()];
  for (let i = 0; i < chatList.length; i += CHUNK) {
    const rows = await storage.insertChats(
      chatList.slice(i, i + CHUNK).map(({ c, id, p }) => ({
        workspace_id: workspaceId,
        account_id: c.account.id,
        external_id: c.msg.chat.external_id,
        full_name: p.chatName,
        name_source: c.msg.chat.full_name?.trim() ? (c.msg.chat.name_source ?? "gateway") : "",
        is_group: c.isGroup ? 1 : 0,
        phone: c.chatPhone,
        responsible_teammate_id: null,
        created_at: storedAt,
        created_by_message_id: id,
        last_message_at: c.timestamp,
      })),
    );
    for (const r of rows) chatIds.set(`${r.account_id}\u0000${r.external_id}`, r.id);
  }
  for (const { c, p } of newChats.values())
    chatState.set(c.chatKey, {
      name: p.chatName,
      source: c.msg.chat.full_name?.trim() ? (c.msg.chat.name_source ?? "gateway") : "",
    });
  // A name replaces the chat's when it ranks higher (names.ts): a teammate's is never replaced,
  // a push name only an empty or push name.
  for (const { c } of fresh) {
    const name = c.msg.chat.full_name?.trim();
    if (!name) continue;
    const offered = { name, source: c.msg.chat.name_source ?? "gateway" };
    const current = chatState.get(c.chatKey);
    if (current && replacesName(current, offered)) {
      await storage.renameChat(chatIds.get(c.chatKey)!, name, offered.source);
      chatState.set(c.chatKey, offered);
      chatNames.set(c.chatKey, name);
    }
  }
  for (let i = 0; i < fresh.length; i += CHUNK) {
    const rows = fresh.slice(i, i + CHUNK).map(({ c, id, sentBy, p }) => ({
      id,
      workspace_id: workspaceId,
      account_id: c.account.id,
      chat_id: chatIds.get(c.chatKey)!,
      external_id: c.msg.external_id,
      direction: c.msg.direction,
      type: c.msg.type,
      status: c.deliverable ? "stored" : "skipped",
      text: c.msg.text ?? "",
      timestamp: c.timestamp,
      stored_at: storedAt,
      sender_name: p.sender.full_name,
      sender_phone: p.sender.phone,
      recipient_name: p.recipient.full_name,
      recipient_phone: p.recipient.phone,
      permalink: uuidv7(storedAt),
      sent_by_teammate_id: sentBy,
    }));
    await storage.insertMessages(workspaceId, storedAt, rows, i + CHUNK >= fresh.length);
  }
  return results;
}

/**
 * PostgreSQL: the two statements of every group are named prepared statements
 * (`prepared.ts`: stable text, arrays as parameters), sent through the group's pipelined
 * connection (`Pipelined`). The read takes the workspace's log lock (ARCHITECTURE, Storage):
 * it saves a round trip, and the lock is held only from there to commit. Its snapshot may
 * predate the lock, so a chat or message another process committed meanwhile can be missed:
 * the insert then fails on the unique key and `storeGroup` runs the transaction again.
 */
class PostgresGroupStorage implements GroupStorage {
  constructor(
    private readonly db: DB,
    private readonly statements: Statements,
  ) {}

  readExisting(
    accountId: string,
    chatExt: string[],
    msgExt: string[],
    lockWorkspace: string | undefined,
  ): Promise<ExistingRow[]> {
    return this.statements.run<ExistingRow>(prepared.readExisting(accountId, chatExt, msgExt, lockWorkspace));
  }

  insertChats(rows: NewChat[]) {
    return this.statements.run(this.db.insertInto("chats").values(rows).returning(["id", "account_id", "external_id"]));
  }

  async renameChat(id: number, name: string, source: string): Promise<void> {
    await this.statements.run(
      this.db.updateTable("chats").set({ full_name: name, name_source: source }).where("id", "=", id),
    );
  }

  async insertMessages(workspaceId: string, storedAt: number, rows: NewMessage[], last: boolean): Promise<void> {
    // One statement: the insert, its chats' last_message_at, and the log's announcement.
    const statement = prepared.insertMessages(workspaceId, storedAt, rows);
    await (last ? this.statements.last(statement) : this.statements.run(statement));
  }
}

/** SQLite's statements of a group, prepared once per file (better-sqlite3 keeps them compiled). */
class SqliteGroupStorage implements GroupStorage {
  private readonly chat;
  private readonly message;
  private readonly newChat;
  private readonly rename;
  private readonly newMessage;
  private readonly touch;

  constructor(file: SQLite.Database) {
    this.chat = file.prepare<
      [string, string],
      { chat_id: number; external_id: string; full_name: string; phone: string; name_source: string }
    >(
      "select id as chat_id, external_id, full_name, phone, name_source from chats where account_id = ? and external_id = ?",
    );
    this.message = file.prepare<[string, string], { id: string }>(
      "select id from messages where account_id = ? and external_id = ?",
    );
    this.newChat = file.prepare<unknown[], { id: number }>(
      `insert into chats (${CHAT_COLUMNS.join(", ")}) values (${CHAT_COLUMNS.map(() => "?").join(", ")}) returning id`,
    );
    this.rename = file.prepare("update chats set full_name = ?, name_source = ? where id = ?");
    this.newMessage = file.prepare(
      `insert into messages (workspace_id, stored_at, ${prepared.MESSAGE_COLUMNS.join(", ")}) values (?, ?, ${prepared.MESSAGE_COLUMNS.map(() => "?").join(", ")})`,
    );
    // A chat's last_message_at is its newest message's time (the Timeline's order; the column is not null): a late message with an older timestamp leaves the chat where it is.
    this.touch = file.prepare("update chats set last_message_at = max(last_message_at, ?) where id = ?");
  }

  async readExisting(accountId: string, chatExt: string[], msgExt: string[]): Promise<ExistingRow[]> {
    const rows: ExistingRow[] = [];
    for (const ext of chatExt) {
      const c = this.chat.get(accountId, ext);
      if (c)
        rows.push({
          kind: "c",
          chat_id: c.chat_id,
          message_id: null,
          external_id: c.external_id,
          full_name: c.full_name,
          phone: c.phone,
          name_source: c.name_source,
        });
    }
    for (const ext of msgExt) {
      const m = this.message.get(accountId, ext);
      if (m)
        rows.push({
          kind: "m",
          chat_id: null,
          message_id: m.id,
          external_id: ext,
          full_name: "",
          phone: "",
          name_source: "",
        });
    }
    return rows;
  }

  async insertChats(rows: NewChat[]) {
    return rows.map((r) => ({
      id: this.newChat.get(CHAT_COLUMNS.map((c) => (c === "name_source" ? (r.name_source ?? "") : (r[c] ?? null))))!.id,
      account_id: r.account_id,
      external_id: r.external_id,
    }));
  }

  async renameChat(id: number, name: string, source: string): Promise<void> {
    this.rename.run(name, source, id);
  }

  /** The log's growth is announced by the caller's commit listener (SQLite has one process). */
  async insertMessages(_workspaceId: string, _storedAt: number, rows: NewMessage[]): Promise<void> {
    const latest = new Map<number, number>();
    for (const r of rows) {
      this.newMessage.run(r.workspace_id, r.stored_at, ...prepared.MESSAGE_COLUMNS.map((c) => r[c] ?? null));
      const at = latest.get(r.chat_id);
      if (at === undefined || r.timestamp > at) latest.set(r.chat_id, r.timestamp);
    }
    for (const [id, at] of latest) this.touch.run(at, id);
  }
}

const sqliteStatements = new WeakMap<SQLite.Database, SqliteGroupStorage>();

function sqliteStatementsOf(file: SQLite.Database): SqliteGroupStorage {
  let s = sqliteStatements.get(file);
  if (!s) sqliteStatements.set(file, (s = new SqliteGroupStorage(file)));
  return s;
}
