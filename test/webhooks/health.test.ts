// What the UI shows of a webhook in trouble, through the API: the target check asked as a URL
// is entered, the sample payload, the health fields of the webhook read, and the operator
// token refused at sign-in with a sentence saying what it is for.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertValid, contractValidators } from "../helpers/contract.js";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, OPERATOR_TOKEN, TestServer, waitFor } from "../helpers/server.js";
import {
  assertError,
  createWebhook,
  getWebhook,
  ingest,
  space,
  texts,
  waitFailures,
  type Space,
} from "../helpers/workspace.js";
import { ownerCookie } from "../helpers/people.js";

for (const database of DATABASES)
  describe(`webhook health, target check and sample (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let s: Space;
    let other: Space;

    before(async () => {
      // Only the receiver's loopback address is allowed: 10.x and the rest stay blocked.
      [server, receiver] = await Promise.all([
        TestServer.start({ database, env: { THREADLINE_ALLOW_PRIVATE_TARGETS: "127.0.0.1/32" } }),
        Receiver.start(),
      ]);
      [s, other] = await Promise.all([space(server), space(server)]);
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    const check = (url: unknown, token: string | undefined = s.key) =>
      server.api("POST", "/api/v1/webhooks/check-target", { token, body: { url } });

    it("check-target answers the delivery rule's verdict: blocked, invalid, unresolvable or fine", async () => {
      const blocked = await check("http://10.1.2.3/hook");
      assert.equal(blocked.status, 200, blocked.text);
      assert.equal(blocked.json.ok, false);
      assert.equal(blocked.json.problem.code, "BLOCKED_TARGET");
      assert.match(
        blocked.json.problem.message,
        /private address.*THREADLINE_ALLOW_PRIVATE_TARGETS=10\.1\.2\.3\/32.*THREADLINE_ALLOW_PRIVATE_TARGETS=1/,
      );
      assert.equal((await check("http://[fe80::1]:8080/")).json.problem.code, "BLOCKED_TARGET");
      assert.equal((await check("ftp://example.com/x")).json.problem.code, "INVALID_URL");
      const unresolved = await check("https://no-such-host.threadline.invalid/hook");
      assert.equal(unresolved.json.problem.code, "DNS_FAILURE");
      assert.match(unresolved.json.problem.message, /does not resolve/);
      assert.deepEqual((await check(receiver.url)).json, { ok: true, problem: null });
      // Create still takes any http(s) URL (the address is checked at connect time).
      const created = await server.api("POST", "/api/v1/webhooks", {
        token: s.key,
        body: { url: "http://10.1.2.3/hook", enabled: false },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal((await server.api("DELETE", `/api/v1/webhooks/${created.json.id}`, { token: s.key })).status, 204);
    });

    it("check-target validates its input and authenticates", async () => {
      assertError(
        await server.api("POST", "/api/v1/webhooks/check-target", { token: s.key, body: {} }),
        400,
        "VALIDATION_ERROR",
        "url",
      );
      assertError(await check(`https://example.com/${"x".repeat(2100)}`), 400, "VALIDATION_ERROR", "url");
      assertError(await check(42), 400, "VALIDATION_ERROR", "url");
      assertError(await check("http://10.1.2.3/", ""), 401, "UNAUTHORIZED");
      assertError(await check("http://10.1.2.3/", OPERATOR_TOKEN), 401);
      // With a session cookie, a page of another origin may not ask (the CSRF rule).
      const cookie = await ownerCookie(server, s.workspace);
      const body = JSON.stringify({ url: "http://10.1.2.3/" });
      const cross = await server.request("POST", "/api/v1/webhooks/check-target", {
        headers: { cookie, origin: "https://evil.example", "content-type": "application/json" },
        body,
      });
      assertError(cross, 403, "CROSS_ORIGIN");
      const own = await server.request("POST", "/api/v1/webhooks/check-target", {
        headers: { cookie, origin: server.url, "content-type": "application/json" },
        body,
      });
      assert.equal(own.json.problem.code, "BLOCKED_TARGET");
    });

    it("sample: the payload of the webhook's format, never sent; another workspace's webhook is 404", async () => {
      const { message, bundle } = contractValidators();
      const plain = await createWebhook(server, s.key, receiver.url, { enabled: false });
      const r = await server.api("GET", `/api/v1/webhooks/${plain.id}/sample`, { token: s.key });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.aggregation, "none");
      assertValid(message, r.json.payload, "sample message");
      assert.match(r.json.payload.message.text, /test event/);
      const hourly = await createWebhook(server, s.key, receiver.url, { enabled: false, aggregation: "1h" });
      const b = await server.api("GET", `/api/v1/webhooks/${hourly.id}/sample`, { token: s.key });
      assert.equal(b.json.aggregation, "1h");
      assertValid(bundle, b.json.payload, "sample bundle");
      assert.equal(receiver.requests.length, 0, "nothing was sent");
      assertError(
        await server.api("GET", `/api/v1/webhooks/${plain.id}/sample`, { token: other.key }),
        404,
        "NOT_FOUND",
      );
      assertError(await server.api("GET", `/api/v1/webhooks/${plain.id}/sample`), 401, "UNAUTHORIZED");
      assertError(await server.api("GET", `/api/v1/webhooks/wh_nope/sample`, { token: s.key }), 404, "NOT_FOUND");
      for (const id of [plain.id, hourly.id]) await server.api("DELETE", `/api/v1/webhooks/${id}`, { token: s.key });
    });

    it("the webhook read says ok, then failing (last error, next retry, what waits), then disabled with the owner e-mailed", async () => {
      const w = await createWebhook(server, s.key, receiver.url);
      const fresh = await getWebhook(server, s.key, w.id);
      assert.deepEqual(
        {
          state: (fresh as any).state,
          last_error: (fresh as any).last_error,
          pending: (fresh as any).pending_messages,
          next: (fresh as any).next_retry_at,
          notified: (fresh as any).owner_notified,
        },
        { state: "ok", last_error: null, pending: 0, next: null, notified: null },
      );

      receiver.answer({ status: 500, body: "down for maintenance" });
      await ingest(
        server,
        s,
        texts(s, [
          [1, "first"],
          [2, "second"],
        ]),
      );
      const failing = (await waitFailures(server, s.key, w.id, 1)) as any;
      assert.equal(failing.state, "failing");
      assert.equal(failing.last_error.code, "HTTP_ERROR");
      assert.match(failing.last_error.message, /500/);
      assert.ok(Date.parse(failing.last_error.at) > 0);
      assert.equal(failing.pending_messages, 2);
      const wait = Date.parse(failing.next_retry_at) - Date.parse(failing.last_error.at);
      assert.ok(wait >= 4_000 && wait <= 6_000, `the first backoff is about 5 s, got ${wait} ms`);
      assert.equal(failing.owner_notified, null, "no e-mail before the 5th error");
      // The list answers the same fields.
      const listed = (await server.api("GET", "/api/v1/webhooks", { token: s.key })).json.items.find(
        (x: any) => x.id === w.id,
      );
      assert.equal(listed.state, "failing");
      assert.equal(listed.pending_messages, 2);

      // 410 Gone at the next probe: disabled automatically, the owner e-mailed (kept in the outbox: no SMTP here).
      receiver.answer({ status: 410 });
      await server.advance(10_000);
      const off = (await waitFor(async () => {
        const v = (await getWebhook(server, s.key, w.id)) as any;
        return v.state === "disabled" && v.owner_notified ? v : undefined;
      }, "disabled with the owner notified")) as any;
      assert.equal(off.disabled_reason, "gone");
      assert.equal(off.last_error.code, "HTTP_ERROR");
      assert.match(off.last_error.message, /410/);
      assert.equal(off.next_retry_at, null);
      assert.equal(off.pending_messages, 2, "nothing was acknowledged");
      assert.equal(off.owner_notified.to, s.owner.email);
      assert.equal(off.owner_notified.delivered, false);

      // A test event that succeeds says nothing about the failure; another workspace cannot read it.
      receiver.answer({ status: 200 });
      await server.api("POST", `/api/v1/webhooks/${w.id}/test`, { token: s.key });
      assert.equal(((await getWebhook(server, s.key, w.id)) as any).last_error.code, "HTTP_ERROR");
      assertError(await server.api("GET", `/api/v1/webhooks/${w.id}`, { token: other.key }), 404, "NOT_FOUND");

      // Switched back on, delivering what waits: healthy again, nothing pending.
      const on = await server.api("PATCH", `/api/v1/webhooks/${w.id}`, {
        token: s.key,
        body: { enabled: true, replay: "since_disabled" },
      });
      assert.equal(on.json.state, "ok");
      const healthy = (await waitFor(async () => {
        const v = (await getWebhook(server, s.key, w.id)) as any;
        return v.pending_messages === 0 ? v : undefined;
      }, "the waiting messages delivered")) as any;
      assert.equal(healthy.state, "ok");
      assert.equal(healthy.last_error, null);
      assert.equal(healthy.owner_notified, null);
      // A manual disable is "disabled" too, and e-mails nobody.
      const manual = await server.api("PATCH", `/api/v1/webhooks/${w.id}`, { token: s.key, body: { enabled: false } });
      assert.equal(manual.json.state, "disabled");
      assert.equal(manual.json.disabled_reason, "manual");
      assert.equal(manual.json.owner_notified, null);
    });

    it("neither the operator token nor a workspace key signs a browser in: no cookie", async () => {
      for (const secret of [OPERATOR_TOKEN, s.key]) {
        const r = await server.api("POST", "/api/v1/session", { body: { email: s.owner.email, password: secret } });
        assertError(r, 401, "UNAUTHORIZED");
        assert.equal(r.headers.get("set-cookie"), null);
        assertError(
          await server.api("POST", "/api/v1/session", { body: { api_key: secret } }),
          400,
          "VALIDATION_ERROR",
          "email",
        );
        // The HTML form says the same.
        const form = await server.request("POST", "/signin", {
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: `email=${encodeURIComponent(s.owner.email)}&password=${secret}`,
        });
        assert.equal(form.status, 401);
        assert.match(form.text, /do not match/);
        assert.equal(form.headers.get("set-cookie"), null);
      }
    });
  });
