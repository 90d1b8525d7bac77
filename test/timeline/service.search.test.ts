/**
 * Search: `%`, `_` and `\` in `q` are literal characters on both databases (SQLite's LIKE
 * has no escape character unless the query names one).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DATABASES, TestServer } from "../helpers/server.js";
import { message, victim, type Victim } from "../helpers/security.js";

const NAMES = ["100% sure", "100 sure", "a_b", "axb", "back\\slash", "backslash"];

for (const database of DATABASES) {
  describe(`chat search treats LIKE wildcards literally (${database})`, () => {
    let server: TestServer;
    let v: Victim;
    before(async () => {
      server = await TestServer.start({ database });
      v = await victim(server);
      const r = await server.api("POST", "/api/v1/messages", {
        token: v.key,
        body: {
          messages: NAMES.map((full_name, i) =>
            message({ chat: { external_id: `1555000000${i}@s.whatsapp.net`, full_name, phone: `+1555000000${i}` } }),
          ),
        },
      });
      assert.equal(r.status, 202, r.text);
    });
    after(async () => {
      await server?.stop();
    });
    const search = async (q: string) => {
      const r = await server.api("GET", `/api/v1/chats?q=${encodeURIComponent(q)}`, { token: v.key });
      assert.equal(r.status, 200, r.text);
      return (r.json.items as { full_name: string }[]).map((c) => c.full_name).sort();
    };

    it("% matches only a literal percent sign", async () => {
      assert.deepEqual(await search("%"), ["100% sure"]);
      assert.deepEqual(await search("100%"), ["100% sure"]);
    });
    it("_ matches only a literal underscore", async () => {
      assert.deepEqual(await search("_"), ["a_b"]);
      assert.deepEqual(await search("a_b"), ["a_b"]);
    });
    it("\\ matches only a literal backslash", async () => {
      assert.deepEqual(await search("\\"), ["back\\slash"]);
    });
    it("ordinary searches still match names and phones", async () => {
      assert.deepEqual(await search("sure"), ["100 sure", "100% sure"]);
      assert.deepEqual(await search("+15550000002"), ["a_b"]);
    });
  });
}
