import { sql } from "kysely";
import { isPostgres, logGrowthAnnouncement, workspaceLogLock, type DB } from "../db/index.js";
import { ulid, uuidv7 } from "../db/ids.js";
import type { Clock } from "../clock/index.js";
import { parties, type Checked } from "./ingest.js";
import type { IngestResult } from "./types.js";

const CHUNK = 1000;
/** A group takes waiting requests up to this many messages (one request of 1,000 always fits). */
const MAX_GROUP_MESSAGES = 2000;

/** One ingest request, validated, waiting for its transaction. */
export interface GroupRequest {
  messages: Checked[];
  sentByTeammateId?: string;
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
export function submitToGroup(db: DB, clock: Clock, workspaceId: string, request: GroupRequest): Promise<IngestResult[]> {
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

async function drain(db: DB, clock: Clock, workspaceId: string, queue: Waiting[], byWorkspace: Map<string, Waiting[]>): Promise<void> {
  // SQLite has no round trips to share: grouping measured 318 and 243 req/s against 372 and
  // 294 for a transaction a request (8 in flight, back to back), so there a group is one request.
  const grouping = isPostgres(db);
  while (queue.length) {
    let size = 0;
    let n = 0;
    while (n < queue.length && (n === 0 || (grouping && size + queue[n]!.messages.length <= MAX_GROUP_MESSAGES))) size += queue[n++]!.messages.length;
    const group = queue.splice(0, n);
    try {
      const results = await storeGroup(db, clock, workspaceId, group);
      group.forEach((r, i) => r.resolve(results[i]!));
    } catch (err) {
      if (group.length === 1) group[0]!.reject(err);
      // A database error (a text PostgreSQL refuses, say) fails only the request that caused it.
      else for (const r of group) await storeGroup(db, clock, workspaceId, [r]).then(([res]) => r.resolve(res!), r.reject);
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
 * their chats and announces the log's growth. On PostgreSQL that is BEGIN, 3 statements
 * (4 with new chats) and COMMIT for the whole group. The same external_id twice in the
 * group is stored once (the later one answers `duplicate`).
 */
async function storeOnce(db: DB, clock: Clock, workspaceId: string, group: GroupRequest[]): Promise<IngestResult[][]> {
  const results = group.map((r) => new Array<IngestResult>(r.messages.length));
  await db.transaction().execute(async (tx) => {
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
    const existingMsgs = new Map<string, string>();
    let locked = false;
    for (const [accountId, { chats, messages }] of byAccount) {
      const chatExt = [...chats];
      const msgExt = [...messages];
      for (let i = 0; i < Math.max(chatExt.length, msgExt.length); i += CHUNK) {
        const rows = await readExisting(tx, accountId, chatExt.slice(i, i + CHUNK), msgExt.slice(i, i + CHUNK), locked ? undefined : workspaceId);
        locked = true;
        for (const r of rows) {
          const key = `${accountId}\u0000${r.external_id}`;
          if (r.kind === "m") existingMsgs.set(key, r.message_id!);
          else if (r.kind === "c") {
            chatIds.set(key, r.chat_id!);
            chatNames.set(key, r.full_name === r.phone || r.full_name === r.external_id ? "" : r.full_name);
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
        const id = ulid(storedAt);
        existingMsgs.set(key, id);
        results[ri]![c.index] = { status: c.deliverable ? "accepted" : "skipped", message_id: id };
        const f = { c, id, sentBy: r.sentByTeammateId ?? null, p: parties(c, chatNames.get(c.chatKey) || undefined) };
        fresh.push(f);
        if (!chatIds.has(c.chatKey) && !newChats.has(c.chatKey)) newChats.set(c.chatKey, f);
      }
    });
    const chatList = [...newChats.values()];
    for (let i = 0; i < chatList.length; i += CHUNK) {
      const rows = await tx
        .insertInto("chats")
        .values(
          chatList.slice(i, i + CHUNK).map(({ c, id, p }) => ({
            workspace_id: workspaceId,
            account_id: c.account.id,
            external_id: c.msg.chat.external_id,
            full_name: p.chatName,
            is_group: c.isGroup ? 1 : 0,
            phone: c.chatPhone,
            responsible_teammate_id: null,
            created_at: storedAt,
            created_by_message_id: id,
            last_message_at: storedAt,
          })),
        )
        .returning(["id", "account_id", "external_id"])
        .execute();
      for (const r of rows) chatIds.set(`${r.account_id}\u0000${r.external_id}`, r.id);
    }
    // A chat first seen without a name takes the first name that arrives.
    for (const { c } of fresh) {
      const name = c.msg.chat.full_name?.trim();
      if (name && chatNames.get(c.chatKey) === "") {
        await tx.updateTable("chats").set({ full_name: name }).where("id", "=", chatIds.get(c.chatKey)!).execute();
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
      if (isPostgres(tx)) {
        // One round trip: the insert, its chats' last_message_at, and the log's announcement
        // (sent at commit; one per transaction, PostgreSQL folds identical notifications).
        await tx
          .with("inserted", (q) => q.insertInto("messages").values(rows).returning("chat_id"))
          .updateTable("chats")
          .set({ last_message_at: storedAt })
          .where("id", "in", (eb) => eb.selectFrom("inserted").select("chat_id"))
          .returning(logGrowthAnnouncement(workspaceId).as("notified"))
          .execute();
        continue;
      }
      await tx.insertInto("messages").values(rows).execute();
      const touched = [...new Set(rows.map((r) => r.chat_id))];
      await tx.updateTable("chats").set({ last_message_at: storedAt }).where("id", "in", touched).execute();
    }
  });
  return results;
}

/**
 * The chats and messages of one account that already exist among these external ids, in
 * one statement. With `lockWorkspace` on PostgreSQL the same statement takes the workspace's
 * log lock (ARCHITECTURE, Storage): it saves a round trip, and the lock is held only from
 * here to commit. Its snapshot may predate the lock, so a chat or message another process
 * committed meanwhile can be missed: the insert then fails on the unique key and
 * `storeGroup` runs the transaction again.
 */
async function readExisting(tx: DB, accountId: string, chatExt: string[], msgExt: string[], lockWorkspace: string | undefined) {
  const noChat = sql<number | null>`null`;
  const noMessage = sql<string | null>`null`;
  let q = tx
    .selectFrom("chats")
    .select([sql<string>`'c'`.as("kind"), sql<number | null>`id`.as("chat_id"), noMessage.as("message_id"), "external_id", "full_name", "phone"])
    .where("account_id", "=", accountId)
    .where("external_id", "in", chatExt.length ? chatExt : [""])
    .unionAll(
      tx
        .selectFrom("messages")
        .select([sql<string>`'m'`.as("kind"), noChat.as("chat_id"), sql<string | null>`id`.as("message_id"), "external_id", sql<string>`''`.as("full_name"), sql<string>`''`.as("phone")])
        .where("account_id", "=", accountId)
        .where("external_id", "in", msgExt.length ? msgExt : [""]),
    );
  if (lockWorkspace && isPostgres(tx)) {
    q = q.unionAll(
      tx
        .selectNoFrom([sql<string>`'l'`.as("kind"), noChat.as("chat_id"), noMessage.as("message_id"), sql<string>`''`.as("external_id"), sql<string>`''`.as("full_name"), sql<string>`''`.as("phone")])
        .where(workspaceLogLock(lockWorkspace)),
    );
  }
  return (await q.execute()) as { kind: string; chat_id: number | null; message_id: string | null; external_id: string; full_name: string; phone: string }[];
}
