// Lists at scale: the operator's workspaces and a workspace's webhooks page in the database
// with a real cursor (every item once, in order, then next_cursor null), and refuse what is
// not theirs to answer.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createWorkspace, DATABASES, OPERATOR_TOKEN, TestServer } from "../helpers/server.js";

/** Every item of a list, page by page (`limit` each), and the pages' sizes. */
async function allPages(server: TestServer, path: string, token: string, limit: number) {
  const items: { id: string; [field: string]: unknown }[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  do {
    const r = await server.api("GET", `${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, { token });
    assert.equal(r.status, 200, r.text);
    items.push(...r.json.items);
    sizes.push(r.json.items.length);
    cursor = r.json.next_cursor;
  } while (cursor && sizes.length < 50);
  return { items, sizes };
}

for (const database of DATABASES)
  describe(`lists page in the database (${database})`, () => {
    let server: TestServer;
    before(async () => {
      server = await TestServer.start({ database });
    });
    after(async () => {
      await server?.stop();
    });

    it("GET /api/v1/workspaces: the operator's workspaces, oldest first, a page at a time; refused without the operator token", async () => {
      const made: string[] = [];
      for (let i = 0; i < 5; i++) made.push((await createWorkspace(server, { name: `Tenant <$${i}>` })).id);
      const { items, sizes } = await allPages(server, "/api/v1/workspaces", OPERATOR_TOKEN, 2);
      assert.deepEqual(sizes, [2, 2, 1]);
      assert.deepEqual(
        items.map((w) => w.id),
        made,
      );
      assert.equal(items[0]!.name, "Tenant <$0>", "stored text as given");
      assert.equal(items[0]!.timezone, "UTC");
      assert.deepEqual(Object.keys(items[0]!.owner as object).sort(), ["email", "full_name", "id", "role"]);

      const ws = await createWorkspace(server);
      assert.equal((await server.api("GET", "/api/v1/workspaces")).status, 401);
      const asWorkspace = await server.api("GET", "/api/v1/workspaces", { token: ws.api_key });
      assert.equal(asWorkspace.status, 403, asWorkspace.text);
      for (const cursor of ["not-a-cursor", Buffer.from('[1,"x"]').toString("base64url"), "%00"]) {
        const r = await server.api("GET", `/api/v1/workspaces?cursor=${cursor}`, { token: OPERATOR_TOKEN });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error.field, "cursor", r.text);
      }
      for (const limit of ["0", "201", "1e3"]) {
        const r = await server.api("GET", `/api/v1/workspaces?limit=${limit}`, { token: OPERATOR_TOKEN });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error.field, "limit");
      }
    });

    it("GET /api/v1/webhooks: newest first, a page at a time with each row's health; another workspace's cursor shows nothing of it", async () => {
      const ws = await createWorkspace(server);
      const other = await createWorkspace(server);
      const made: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await server.api("POST", "/api/v1/webhooks", {
          token: ws.api_key,
          body: { url: `https://receiver.example/hook/${i}` },
        });
        assert.equal(r.status, 201, r.text);
        made.push(r.json.id);
      }
      const { items, sizes } = await allPages(server, "/api/v1/webhooks", ws.api_key, 2);
      assert.deepEqual(sizes, [2, 2, 1]);
      assert.deepEqual(
        items.map((w) => w.id),
        [...made].reverse(),
      );
      for (const w of items) assert.equal(typeof w.pending_messages, "number", "health on every row of a page");

      const first = await server.api("GET", "/api/v1/webhooks?limit=2", { token: ws.api_key });
      const theirs = await server.api("GET", `/api/v1/webhooks?cursor=${first.json.next_cursor}`, {
        token: other.api_key,
      });
      assert.equal(theirs.status, 200, theirs.text);
      assert.deepEqual(theirs.json, { items: [], next_cursor: null });
      const bad = await server.api("GET", `/api/v1/webhooks?cursor=${Buffer.from('["1","x"]').toString("base64url")}`, {
        token: ws.api_key,
      });
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.json.error.field, "cursor");
    });
  });
