// Two processes ingest into one workspace at once: group commit serializes a workspace's
// writers only within a process, so the database (log lock, unique keys) must do the rest.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { entry } from "../helpers/workspace.js";
import { twoProcesses } from "../helpers/postgres.js";

describe("concurrent ingest through two processes", () => {
  const f = twoProcesses();

  it("the same new chat and external_id sent to both processes at once are stored once; seq follows storage time", async () => {
    const { a, b, s, db } = f;
    for (let round = 0; round < 5; round++) {
      // A chat neither process has seen, and one message sent through both at once, three times each.
      const repeated = entry(s, { contact: `97255${round}000000`, text: `round ${round}` });
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 ? a : b).api("POST", "/api/v1/messages", { token: s.key, body: { messages: [repeated] } }),
        ),
      );
      for (const r of answers) assert.equal(r.status, 202, r.text);
      assert.deepEqual(answers.map((r) => r.json.results[0].status).sort(), [
        "accepted",
        "duplicate",
        "duplicate",
        "duplicate",
        "duplicate",
        "duplicate",
      ]);
      assert.equal(new Set(answers.map((r) => r.json.results[0].message_id)).size, 1);
    }
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const chats = await client.query(
        "select external_id, count(*)::int as n from chats where workspace_id = $1 group by external_id",
        [s.workspace.id],
      );
      for (const c of chats.rows) assert.equal(c.n, 1, `chat ${c.external_id} stored twice`);
      const rows = await client.query(
        "select stored_at::float8 as t from messages where workspace_id = $1 order by seq",
        [s.workspace.id],
      );
      const times = rows.rows.map((r) => r.t as number);
      assert.equal(times.length, 5);
      assert.deepEqual(
        times,
        [...times].sort((x, y) => x - y),
        "storage time went backwards along the log",
      );
    } finally {
      await client.end();
    }
  });
});
