// Ingest's statements in-process, without a server: PostgreSQL sends its own prepared statements
// (ingest/prepared.ts: arrays as parameters), SQLite Kysely's. The same requests must store the
// same rows on both, and the rows this file spells out.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Clock } from "../../src/clock/index.js";
import { migrate, type Storage } from "../../src/db/index.js";
import { ingestMessages } from "../../src/ingest/ingest.js";
import type { IngestMessage } from "../../src/ingest/types.js";
import { DATABASES, openTestStorage, type Database } from "../helpers/server.js";

const STORED_AT = Date.UTC(2026, 10, 29, 12);
/** Storage time fixed, so rows compare across databases. */
class FixedClock extends Clock {
  override now(): number {
    return STORED_AT;
  }
}

const ACCOUNT = "+972500000001";
const CONTACT_JID = "972541234567@s.whatsapp.net";
const GROUP_JID = "120363000000000001@g.us";
/** Text that must survive the trip through a PostgreSQL array literal unchanged. */
const AWKWARD = `{"a","b"} \\ back\\slash, comma, 'quote' "dq" NULL null {} 👋 ${"x".repeat(300)}`;

const msg = (external_id: string, over: Partial<IngestMessage> = {}): IngestMessage => ({
  account_phone: ACCOUNT,
  chat: { external_id: CONTACT_JID },
  external_id,
  direction: "received",
  timestamp: 1_700_000_100,
  type: "text",
  text: `text of ${external_id}`,
  ...over,
});

const open = async (database: Database) => {
  const { storage, close } = await openTestStorage(database);
  return { storage, cleanup: close };
};

/** Every chat and message, ids replaced by what they point at (ids are random; seq order is kept). */
async function dump(storage: Storage) {
  const chats = await storage.db.selectFrom("chats").selectAll().orderBy("id").execute();
  const messages = await storage.db.selectFrom("messages").selectAll().orderBy("seq").execute();
  const chatOf = new Map(chats.map((c) => [Number(c.id), c.external_id]));
  const extOf = new Map(messages.map((m) => [m.id, m.external_id]));
  return {
    chats: chats.map(({ id: _id, created_by_message_id, created_at, last_message_at, ...c }) => ({
      ...c,
      created_at: Number(created_at),
      last_message_at: Number(last_message_at),
      created_by: extOf.get(created_by_message_id ?? ""),
    })),
    messages: messages.map(({ seq: _seq, id, chat_id, permalink, timestamp, stored_at, ...m }) => ({
      ...m,
      chat: chatOf.get(Number(chat_id)),
      timestamp: Number(timestamp),
      stored_at: Number(stored_at),
      id_given: id.startsWith("msg_given") ? id : undefined,
      permalink_ok: /^[0-9a-f-]{36}$/.test(permalink),
    })),
  };
}

const dumps = new Map<string, Awaited<ReturnType<typeof dump>>>();

for (const database of DATABASES)
  describe(`ingest's statements store the expected rows (${database})`, () => {
    let opened: Awaited<ReturnType<typeof open>> | undefined;
    after(async () => {
      await opened?.cleanup();
    });

    it("new and existing chats, late messages, duplicates, names, odd text, a group, a 1,500-message batch and concurrent requests", async () => {
      opened = await open(database);
      const { storage } = opened;
      await migrate(storage);
      const db = storage.db;
      await db
        .insertInto("workspaces")
        .values({ id: "ws_1", name: "Acme", timezone: "UTC", owner_teammate_id: "tm_1", created_at: 1 })
        .execute();
      await db
        .insertInto("teammates")
        .values({
          id: "tm_1",
          workspace_id: "ws_1",
          full_name: "Amnon Levi",
          email: "amnon@acme.com",
          created_at: 1,
          role: "owner",
          password_hash: null,
        })
        .execute();
      await db
        .insertInto("accounts")
        .values({
          id: "acc_1",
          workspace_id: "ws_1",
          phone: ACCOUNT,
          owner_teammate_id: "tm_1",
          source: "api",
          source_config: "{}",
          inbound_token: "tok_1",
          created_at: 1,
          send_pause_ms: null,
        })
        .execute();
      const clock = new FixedClock();
      const ingest = (messages: IngestMessage[], opts: { sentByTeammateId?: string; messageId?: string } = {}) =>
        ingestMessages(db, clock, "ws_1", messages, opts);

      // A new chat without a name; a later message of it with an older time; a group; text that is hard to quote.
      const first = await ingest([
        msg("a1", { timestamp: 1_700_000_100 }),
        msg("a2", { timestamp: 1_700_000_050, direction: "sent", text: AWKWARD }),
        msg("g1", {
          chat: { external_id: GROUP_JID, full_name: "Family" },
          sender: { full_name: "Dana", phone: "+972541111111" },
          type: "image",
          text: undefined,
        }),
      ]);
      assert.deepEqual(
        first.results.map((r) => r.status),
        ["accepted", "accepted", "skipped"],
      );
      // The chat's name arrives; a duplicate; a late message (older than the chat's newest).
      const second = await ingest([
        msg("a3", { chat: { external_id: CONTACT_JID, full_name: " Sheena Nelson " }, timestamp: 1_700_000_080 }),
        msg("a1"),
      ]);
      assert.deepEqual(
        second.results.map((r) => r.status),
        ["accepted", "duplicate"],
      );
      assert.equal(second.results[1]!.message_id, first.results[0]!.message_id);
      // Sent from Threadline: the id it was answered with, the teammate who sent it.
      await ingest([msg("s1", { direction: "sent", timestamp: 1_700_000_300 })], {
        sentByTeammateId: "tm_1",
        messageId: "msg_given_1",
      });
      // More than one insert statement (1,000 rows each) in one transaction.
      const batch = Array.from({ length: 1500 }, (_, i) =>
        msg(`b${i}`, {
          chat: { external_id: `97254000${String(i % 3).padStart(4, "0")}@s.whatsapp.net` },
          timestamp: 1_700_001_000 + i,
        }),
      );
      assert.equal((await ingest(batch)).accepted, 1500);
      // Concurrent single-message requests (grouped on PostgreSQL), the same message twice among
      // them: stored once, both answered with its id. Concurrent requests have no order among
      // themselves (the account lookup before the group may answer in any order), so the
      // comparisons below sort them.
      const concurrent = await Promise.all(
        ["c1", "c2", "c3", "c2", "c4"].map((id) =>
          ingest([msg(id, { timestamp: 1_700_002_000 + Number(id.slice(1)) })]),
        ),
      );
      const [c2a, c2b] = [concurrent[1]!.results[0]!, concurrent[3]!.results[0]!];
      assert.deepEqual([c2a.status, c2b.status].sort(), ["accepted", "duplicate"]);
      assert.equal(c2a.message_id, c2b.message_id);
      assert.deepEqual(
        [0, 2, 4].map((i) => concurrent[i]!.results[0]!.status),
        ["accepted", "accepted", "accepted"],
      );

      const stored = await dump(storage);
      const tail = stored.messages.splice(-4).sort((x, y) => x.external_id.localeCompare(y.external_id));
      stored.messages.push(...tail);
      dumps.set(database, stored);
      assert.deepEqual(
        stored.messages.map((m) => m.external_id),
        ["a1", "a2", "g1", "a3", "s1", ...batch.map((b) => b.external_id), "c1", "c2", "c3", "c4"],
      );
      const byExt = new Map(stored.messages.map((m) => [m.external_id, m]));
      assert.deepEqual(byExt.get("a2"), {
        workspace_id: "ws_1",
        account_id: "acc_1",
        external_id: "a2",
        direction: "sent",
        type: "text",
        status: "stored",
        text: AWKWARD,
        sender_name: "Amnon Levi",
        sender_phone: ACCOUNT,
        recipient_name: "+972541234567",
        recipient_phone: "+972541234567",
        sent_by_teammate_id: null,
        chat: CONTACT_JID,
        timestamp: 1_700_000_050_000,
        stored_at: STORED_AT,
        id_given: undefined,
        permalink_ok: true,
      });
      assert.deepEqual(byExt.get("g1"), {
        workspace_id: "ws_1",
        account_id: "acc_1",
        external_id: "g1",
        direction: "received",
        type: "image",
        status: "skipped",
        text: "",
        sender_name: "Dana",
        sender_phone: "", // a group's parties have no phone (API.md)
        recipient_name: "Family",
        recipient_phone: "",
        sent_by_teammate_id: null,
        chat: GROUP_JID,
        timestamp: 1_700_000_100_000,
        stored_at: STORED_AT,
        id_given: undefined,
        permalink_ok: true,
      });
      assert.equal(byExt.get("a3")!.sender_name, "Sheena Nelson");
      assert.equal(byExt.get("s1")!.sent_by_teammate_id, "tm_1");
      assert.equal(byExt.get("s1")!.id_given, "msg_given_1");

      const chat = stored.chats.find((c) => c.external_id === CONTACT_JID)!;
      // Named by the first name that arrived; the newest message's time, not the late one's.
      assert.equal(chat.full_name, "Sheena Nelson");
      assert.equal(chat.created_by, "a1");
      assert.equal(chat.last_message_at, 1_700_002_004_000);
      assert.equal(byExt.get("c4")!.timestamp, 1_700_002_004_000);
      const group = stored.chats.find((c) => c.external_id === GROUP_JID)!;
      assert.deepEqual(
        [group.full_name, group.is_group, group.phone, group.last_message_at],
        ["Family", 1, "", 1_700_000_100_000],
      );
      const batchChat = stored.chats.find((c) => c.external_id === "972540000000@s.whatsapp.net")!;
      assert.equal(batchChat.last_message_at, (1_700_001_000 + 1497) * 1000);
      assert.equal(stored.chats.length, 5);
    });
  });

describe("ingest's statements on both databases", () => {
  it("store the same rows", (t) => {
    if (dumps.size < DATABASES.length) return t.skip("a database's run failed above");
    assert.deepEqual(dumps.get("postgres"), dumps.get("sqlite"));
  });
});
