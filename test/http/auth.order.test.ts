/**
 * Authentication runs before the body is read (`onRequest`): a request without a valid
 * credential gets 401, never a 400 that lists the fields, and its body is not waited for.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { DATABASES, TestServer } from "../helpers/server.js";
import { send, victim, type Victim } from "../helpers/security.js";

/** Sends headers announcing a 5 MB body and only its first bytes; resolves with the status the server answers without the rest. */
function answerBeforeBody(
  server: TestServer,
  method: string,
  p: string,
  headers: Record<string, string>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      server.url + p,
      {
        method,
        headers: { ...headers, "content-type": "application/json", "content-length": String(5 * 1024 * 1024) },
      },
      (res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        req.destroy();
      },
    );
    req.on("error", (e) => (e.message.includes("socket hang up") ? undefined : reject(e)));
    req.write('{"messages": [');
  });
}

for (const database of DATABASES) {
  describe(`authentication before body parsing (${database})`, () => {
    let server: TestServer;
    let v: Victim;
    before(async () => {
      server = await TestServer.start({ database });
      v = await victim(server);
    });
    after(async () => {
      await server?.stop();
    });

    it("no credential, or a wrong one, with a malformed or wrongly shaped body: 401, nothing about the body", async () => {
      const cases: [string, string, Record<string, string>, string][] = [
        ["POST", "/api/v1/messages", {}, "{not json"],
        ["POST", "/api/v1/messages", { authorization: "Bearer tlk_wrong" }, "{not json"],
        ["POST", "/api/v1/messages", {}, JSON.stringify({ messages: [{ nope: 1 }] })],
        ["POST", "/api/v1/webhooks", { authorization: "Bearer tlk_wrong" }, JSON.stringify({ url: 5 })],
        ["PATCH", "/api/v1/workspace", { cookie: "tl_session=tls_forged" }, "{not json"],
        ["POST", "/api/v1/workspaces", { authorization: `Bearer ${v.key}x` }, JSON.stringify({ name: 1 })],
      ];
      for (const [method, p, headers, body] of cases) {
        const origin = { origin: new URL(server.url).origin };
        const r = await send(server, method, p, { ...origin, ...headers, "content-type": "application/json" }, body);
        assert.equal(r.status, 401, `${method} ${p} ${JSON.stringify(headers)}: ${r.text}`);
        assert.equal(r.json.error.code, "UNAUTHORIZED");
        assert.doesNotMatch(r.json.error.message, /messages|url|name|JSON/, "the answer says nothing about the body");
      }
    });

    it("the 401 comes without waiting for the body (it is never read)", async () => {
      assert.equal(await answerBeforeBody(server, "POST", "/api/v1/messages", {}), 401);
      assert.equal(
        await answerBeforeBody(server, "POST", "/api/v1/messages", { authorization: "Bearer tlk_wrong" }),
        401,
      );
      assert.equal(await answerBeforeBody(server, "POST", "/api/v1/workspaces", {}), 401);
    });

    it("with a valid key the body is validated as before", async () => {
      const r = await server.api("POST", "/api/v1/messages", { token: v.key, body: { messages: [{ nope: 1 }] } });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.code, "VALIDATION_ERROR");
    });
  });
}
