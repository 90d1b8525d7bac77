// Every process keeps API keys and accounts in memory. A change made through one process,
// or by hand in the database, reaches the others through a NOTIFY sent at commit.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { type TestServer, waitFor } from "../helpers/server.js";
import { entry, ingest, type Space } from "../helpers/workspace.js";
import { twoProcesses } from "../helpers/postgres.js";

const post = (server: TestServer, key: string, messages: unknown[]) =>
  server.api("POST", "/api/v1/messages", { token: key, body: { messages } });

describe("cached API keys and accounts across processes", () => {
  const f = twoProcesses();

  it("a key rotated through A is refused by A at once and by B as soon as the change is announced", async () => {
    const { a, b, s } = f;
    // Both processes hold the key in memory.
    await ingest(a, s.key, [entry(s)]);
    await ingest(b, s.key, [entry(s)]);
    const rotated = await a.api("POST", "/api/v1/workspace/api_key", { token: s.key });
    assert.equal(rotated.status, 201, rotated.text);
    assert.equal((await post(a, s.key, [entry(s)])).status, 401);
    await waitFor(async () => (await post(b, s.key, [entry(s)])).status === 401, "B to refuse the rotated key");
    await ingest(b, rotated.json.api_key, [entry(s)]);
    s.key = rotated.json.api_key;
  });

  it("an account changed in the database directly is honoured by both processes", async () => {
    const { a, b, s, db } = f;
    for (const server of [a, b]) await ingest(server, s.key, [entry(s)]);
    const newPhone = `+97259${String(Date.now() % 1_000_000).padStart(7, "0")}`;
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query("update accounts set phone = $1 where id = $2", [newPhone, s.accountId]);
    } finally {
      await client.end();
    }
    const moved: Space = { ...s, phone: newPhone };
    for (const server of [a, b]) {
      await waitFor(async () => (await post(server, s.key, [entry(s)])).status === 400, "the old phone to be refused");
      const r = await ingest(server, s.key, [entry(moved)]);
      assert.equal(r.accepted, 1);
    }
    const refused = await post(b, s.key, [entry(s)]);
    assert.equal(refused.json.error.code, "VALIDATION_ERROR");
    assert.match(refused.json.error.message, /account_phone/);
  });
});
