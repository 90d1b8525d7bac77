/**
 * Open redirect after sign-in: `next` is followed only when it is a path on Threadline's own
 * origin. The server's POST /signin and GET /signin and the UI (web/src/router.ts) use one
 * function, `safeNext`; the list below goes through the running server and the function.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DATABASES, TestServer } from "../helpers/server.js";
import { safeNext } from "../../src/http/safe-next.js";
import { form, send, victim, type Victim } from "../helpers/security.js";

const HOSTILE = [
  "/\\evil.example",
  "/\\\\evil.example",
  "/\tevil",
  "/\t/evil.example",
  "/\n/evil.example",
  "//evil",
  "//evil.example/path",
  "///evil.example",
  "https://evil",
  "http://evil.example/",
  "javascript:alert(1)",
  "/%5Cevil",
  "/%5cevil.example",
  "/%2F%2Fevil.example",
  "/%09/evil.example",
  "evil.example",
  "",
];
const LOCAL = ["/chat/1/messages/", "/permalink/0190f3c2-7b1e-7000-8000-000000000001/", "/webhooks?tab=outgoing#x"];

describe("safeNext (the one rule of server and UI)", () => {
  it("every hostile next is /; local paths are kept", () => {
    for (const next of HOSTILE)
      assert.equal(safeNext(next, "https://threadline.example.com"), "/", JSON.stringify(next));
    for (const next of LOCAL) assert.equal(safeNext(next, "https://threadline.example.com"), next);
    assert.equal(safeNext(undefined, "https://threadline.example.com"), "/");
    assert.equal(safeNext(["/a"], "https://threadline.example.com"), "/");
  });
});

for (const database of DATABASES) {
  describe(`open redirect after sign-in (${database})`, () => {
    let server: TestServer;
    let v: Victim;
    before(async () => {
      // Many sign-ins of one person here: the per-e-mail limit has its own test (http/rate-limits.test.ts).
      server = await TestServer.start({ database, env: { THREADLINE_RATE_LIMIT_SIGNIN_EMAIL: "0" } });
      v = await victim(server);
    });
    after(async () => {
      await server?.stop();
    });
    const own = () => ({ origin: new URL(server.url).origin, "content-type": "application/x-www-form-urlencoded" });

    it("POST /signin with a hostile next goes to /, never to another host", async () => {
      for (const next of HOSTILE) {
        const r = await send(server, "POST", "/signin", own(), form({ email: v.email, password: v.password, next }));
        assert.equal(r.status, 303, `${JSON.stringify(next)}: ${r.text}`);
        assert.equal(r.headers.get("location"), "/", JSON.stringify(next));
      }
      for (const next of LOCAL) {
        const r = await send(server, "POST", "/signin", own(), form({ email: v.email, password: v.password, next }));
        assert.equal(r.headers.get("location"), next);
      }
    });

    it("GET /signin?next=… puts only a safe next in the form", async () => {
      for (const next of HOSTILE.filter(Boolean)) {
        const r = await send(server, "GET", `/signin?next=${encodeURIComponent(next)}`, {});
        assert.equal(r.status, 200);
        const value = /name="next" value="([^"]*)"/.exec(r.text)?.[1];
        assert.equal(value, "/", JSON.stringify(next));
      }
    });

    it("a bad key stays on the form and sets no cookie, whatever next says", async () => {
      const r = await send(
        server,
        "POST",
        "/signin",
        own(),
        form({ email: v.email, password: "a wrong password", next: "//evil.example" }),
      );
      assert.equal(r.status, 401);
      assert.equal(r.headers.get("set-cookie"), null);
      assert.match(r.text, /name="next" value="\/"/);
    });
  });
}
