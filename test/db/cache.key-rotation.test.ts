// API keys and accounts are kept in memory by every process; a change must be honoured from
// the very next request (the second process on PostgreSQL: test/db/cache.postgres.test.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES, TestServer } from "../helpers/server.js";
import { entry, ingest, space } from "../helpers/workspace.js";
import { ownerCookie } from "../helpers/people.js";

for (const database of DATABASES)
  describe(`rotating the API key (${database})`, () => {
    let server: TestServer;
    before(async () => {
      server = await TestServer.start({ database });
    });
    after(async () => {
      await server?.stop();
    });

    it("refuses the old key from the next request on, and the new one works at once", async () => {
      const s = await space(server);
      // The old key is in use (and so in memory) before the rotation.
      for (let i = 0; i < 3; i++) await ingest(server, s.key, [entry(s)]);
      assert.equal((await server.api("GET", "/api/v1/workspace", { token: s.key })).status, 200);

      const rotated = await server.api("POST", "/api/v1/workspace/api_key", { token: s.key });
      assert.equal(rotated.status, 201, rotated.text);
      const fresh = rotated.json.api_key as string;
      assert.match(fresh, /^tlk_/);
      assert.notEqual(fresh, s.key);

      const old = await server.api("POST", "/api/v1/messages", { token: s.key, body: { messages: [entry(s)] } });
      assert.equal(old.status, 401, old.text);
      assert.equal(old.json.error.code, "UNAUTHORIZED");
      assert.equal((await server.api("GET", "/api/v1/workspace", { token: s.key })).status, 401);
      const r = await ingest(server, fresh, [entry(s)]);
      assert.equal(r.accepted, 1);
      assert.equal((await server.api("GET", "/api/v1/workspace", { token: fresh })).json.id, s.workspace.id);
    });

    it("cannot be rotated without the key, nor by a cross-origin page with the session cookie (that would lock the owner out)", async () => {
      const s = await space(server);
      assert.equal((await server.api("POST", "/api/v1/workspace/api_key")).status, 401);
      const cookie = await ownerCookie(server, s.workspace);
      const forged = await server.request("POST", "/api/v1/workspace/api_key", {
        headers: { cookie, origin: "http://evil.example", "content-type": "text/plain" },
        body: "",
      });
      assert.equal(forged.status, 403, forged.text);
      assert.equal(forged.json.error.code, "CROSS_ORIGIN");
      assert.equal((await server.api("GET", "/api/v1/workspace", { token: s.key })).status, 200, "the key still works");
    });
  });
