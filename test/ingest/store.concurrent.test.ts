// Gateways post one message a request, many at once. Concurrent requests of a workspace may
// share a transaction (group commit): each must still land exactly once, in the order its
// sender sent it, with duplicates stored once and a rejected request failing alone.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import SQLite from "better-sqlite3";
import pg from "pg";
import { DATABASES, TestServer } from "../helpers/server.js";
import { entry, ingest, space, type Space } from "../helpers/workspace.js";

interface StoredRow {
  seq: number;
  id: string;
  workspace_id: string;
  external_id: string;
  stored_at: number;
  chat: string;
}

/** Every stored message of the server's database, in seq order (read beside the running process). */
async function storedMessages(server: TestServer): Promise<StoredRow[]> {
  const query =
    "select m.seq, m.id, m.workspace_id, m.external_id, m.stored_at, c.external_id as chat from messages m join chats c on c.id = m.chat_id order by m.seq";
  if (server.databaseUrl) {
    const client = new pg.Client({ connectionString: server.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query(query);
      return rows.map((r) => ({ ...r, seq: Number(r.seq), stored_at: Number(r.stored_at) }));
    } finally {
      await client.end();
    }
  }
  const file = new SQLite(path.join(server.dataDir, "threadline.sqlite"), { readonly: true });
  try {
    return file.prepare(query).all() as StoredRow[];
  } finally {
    file.close();
  }
}

for (const database of DATABASES)
  describe(`concurrent single-message ingest (${database})`, () => {
    let server: TestServer;
    before(async () => {
      server = await TestServer.start({ database });
    });
    after(async () => {
      await server?.stop();
    });

    it("requests across chats and workspaces all land once, each chat in the order sent", async () => {
      const spaces: Space[] = [];
      for (let w = 0; w < 3; w++) spaces.push(await space(server));
      const CHATS = 6;
      const PER_CHAT = 12;
      /** message ids per chat, in the order their sender sent them (each waits for its 202). */
      const sentOrder = new Map<string, string[]>();
      await Promise.all(
        spaces.flatMap((s, w) =>
          Array.from({ length: CHATS }, async (_, c) => {
            const contact = `97254${w}${String(c).padStart(6, "0")}`;
            const ids: string[] = [];
            sentOrder.set(`${s.workspace.id}/${contact}@s.whatsapp.net`, ids);
            for (let i = 0; i < PER_CHAT; i++) {
              const r = await ingest(server, s.key, [entry(s, { contact, text: `w${w} c${c} #${i}` })]);
              assert.equal(r.accepted, 1);
              ids.push(r.results[0]!.message_id);
            }
          }),
        ),
      );

      const rows = await storedMessages(server);
      assert.equal(rows.length, spaces.length * CHATS * PER_CHAT);
      assert.equal(
        new Set(rows.map((r) => `${r.workspace_id}/${r.external_id}`)).size,
        rows.length,
        "a message was stored twice",
      );
      for (const [key, ids] of sentOrder) {
        const [ws, chat] = key.split("/") as [string, string];
        const stored = rows.filter((r) => r.workspace_id === ws && r.chat === chat).map((r) => r.id);
        assert.deepEqual(stored, ids, `chat ${chat}: seq order differs from the order sent`);
      }
      for (const s of spaces) {
        const times = rows.filter((r) => r.workspace_id === s.workspace.id).map((r) => r.stored_at);
        assert.deepEqual(
          times,
          [...times].sort((a, b) => a - b),
          "storage time went backwards along the log",
        );
      }
    });

    it("the same external_id in concurrent requests is stored once; a rejected request fails alone", async () => {
      const s = await space(server);
      const before = (await storedMessages(server)).length;
      const repeated = entry(s, { contact: "972549000001", text: "sent by two gateways at once" });
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          server.api("POST", "/api/v1/messages", { token: s.key, body: { messages: [repeated] } }),
        ),
      );
      for (const a of answers) assert.equal(a.status, 202, a.text);
      const statuses = answers.map((a) => a.json.results[0].status).sort();
      assert.deepEqual(statuses, ["accepted", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate"]);
      assert.equal(
        new Set(answers.map((a) => a.json.results[0].message_id)).size,
        1,
        "every answer names the one stored message",
      );

      // Valid requests beside one whose entry is invalid: only that one is refused.
      const valid = Array.from({ length: 5 }, (_, i) => [entry(s, { contact: "972549000002", text: `valid ${i}` })]);
      const invalid = [entry(s, { contact: "972549000002", timestamp: "yesterday" })];
      const mixed = await Promise.all(
        [...valid, invalid].map((messages) =>
          server.api("POST", "/api/v1/messages", { token: s.key, body: { messages } }),
        ),
      );
      assert.deepEqual(
        mixed.map((m) => m.status),
        [202, 202, 202, 202, 202, 400],
      );
      assert.equal(mixed[5]!.json.error.code, "VALIDATION_ERROR");

      const rows = (await storedMessages(server)).filter((r) => r.workspace_id === s.workspace.id);
      assert.equal((await storedMessages(server)).length, before + 6);
      assert.equal(rows.filter((r) => r.external_id === repeated.external_id).length, 1);
      assert.deepEqual(
        new Set(rows.map((r) => r.external_id)),
        new Set([repeated.external_id, ...valid.map((m) => m[0]!.external_id)]),
      );
    });
  });
