// Issue 21: no tenant and no message can take Threadline down. Each attack runs against a
// running server while another workspace is served; the process stays alive, nothing is lost.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { validateBundle } from "../helpers/contract.js";
import { received, Receiver, waitForCount } from "../helpers/receiver.js";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { assertError, createWebhook, entry, getLog, idsOf, ingest, space, type Space } from "../helpers/workspace.js";

const MiB = 1024 * 1024;

for (const database of DATABASES)
  describe(`one tenant cannot take Threadline down (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let other: Space & { webhook: { id: string } };
    before(async () => {
      const env = {
        THREADLINE_MAX_WEBHOOKS: "3",
        THREADLINE_MAX_ACCOUNTS: "2",
        THREADLINE_MAX_TEAMMATES: "3",
        THREADLINE_MAX_INBOUND_IN_FLIGHT: "2",
        // The attacker's address comes from X-Forwarded-For, so its failed authentications block it alone.
        THREADLINE_TRUST_PROXY: "1",
        THREADLINE_RATE_LIMIT_AUTH_FAILURES: "5",
        // The receivers' address only: what else is private or reserved is refused.
        THREADLINE_ALLOW_PRIVATE_TARGETS: "127.0.0.1/32",
        THREADLINE_METRICS_TOKEN: "metrics-token-0123456789",
      };
      [server, receiver] = await Promise.all([TestServer.start({ database, env }), Receiver.start()]);
      other = await space(server, { webhookUrl: `${receiver.url}?t=other` });
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    /** The other workspace's message reaches its receiver (while an attack runs). */
    async function otherServed(text: string): Promise<void> {
      const [id] = idsOf(await ingest(server, other, [entry(other, { text })]));
      await waitFor(
        () => received(receiver, "t=other").some((r) => r.messageId === id),
        `the other workspace's message "${text}"`,
      );
    }

    /**
     * A request announcing a big body (`content-length: bytes`) of which only the first 64 KiB
     * are sent: a server that read or parsed the body before answering would wait for the rest,
     * so an answer proves it did not. Resolves with the answer.
     */
    function answeredBeforeBody(
      method: string,
      path: string,
      headers: Record<string, string>,
      bytes: number,
    ): Promise<{ status: number; json: any; text: string }> {
      return new Promise((resolve, reject) => {
        const socket = net.connect(Number(new URL(server.url).port), "127.0.0.1");
        let got = "";
        socket.on("error", reject);
        socket.on("data", (d: Buffer) => {
          got += d.toString("utf8");
          const head = got.indexOf("\r\n\r\n");
          if (head < 0) return;
          const length = Number(/content-length: (\d+)/i.exec(got.slice(0, head))?.[1] ?? 0);
          const text = got.slice(head + 4);
          if (Buffer.byteLength(text) < length) return;
          socket.destroy();
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: Number(got.slice(9, 12)), json, text });
        });
        const lines = Object.entries({ host: "threadline.test", ...headers, "content-length": String(bytes) }).map(
          ([k, v]) => `${k}: ${v}\r\n`,
        );
        // Not JSON either: parsed, it would answer 400 INVALID_JSON.
        socket.write(`${method} ${path} HTTP/1.1\r\n${lines.join("")}\r\n{${"x".repeat(64 * 1024)}`);
      });
    }

    async function alive(): Promise<void> {
      assert.equal(server.child.exitCode, null, "the process died");
      assert.equal((await server.request("GET", "/healthz")).status, 200);
    }

    it("a poison digest (1,200 × 64 KiB messages in one chat of a 24 h window) goes out as bundles of at most 1 MiB, in order, each saying which part it is", async () => {
      const a = await space(server, { webhookUrl: `${receiver.url}?t=poison`, aggregation: "24h" });
      const text = "x".repeat(65_536);
      const start = 1_614_183_929; // 2021-02-24T16:25:29Z
      const ids: string[] = [];
      for (let batch = 0; batch < 12; batch++) {
        const messages = Array.from({ length: 100 }, (_, i) =>
          entry(a, { contact: "972549000001", text, timestamp: start + batch * 100 + i }),
        );
        ids.push(...idsOf(await ingest(server, a, messages)));
      }
      const flushing = server.api("POST", `/api/v1/webhooks/${a.webhook.id}/flush`, { token: a.key });
      await otherServed("served while the digest is built");
      const flushed = await flushing;
      assert.equal(flushed.status, 200, flushed.text);
      await alive();

      // Acknowledged parts, once per webhook-id (a part cut by the 10 s deadline under load is sent again).
      const accepted = () => [...receiver.accepted.values()].filter((r) => r.url.includes("t=poison"));
      const total = (r: { json: { messages: unknown[] } }) => r.json.messages.length;
      const parts = await waitFor(() => {
        const got = accepted();
        return got.reduce((n, r) => n + total(r), 0) === ids.length ? got : undefined;
      }, "every message of the window, in parts");
      assert.ok(parts.length > 1, "the window went out as one bundle");
      const n = parts.length;
      const byPart = new Map<number, (typeof parts)[number]>();
      for (const r of parts) {
        assert.ok(Buffer.byteLength(r.body) <= MiB, `a bundle of ${Buffer.byteLength(r.body)} bytes`);
        validateBundle(r.json);
        const m = /<br\/>Part (\d+) of (\d+) of this chat's messages in this window$/.exec(
          r.json.aggregation as string,
        );
        assert.ok(m, "the digest does not say which part it is");
        assert.equal(Number(m[2]), n);
        byPart.set(Number(m[1]), r);
      }
      assert.equal(byPart.size, n);
      // The first part keeps the bundle's webhook-id; the next ones add `_p2`, `_p3`, ...
      const first = byPart.get(1)!.id;
      assert.match(first, /^bnd_\d+_\d+_[^_]+$/);
      for (const [p, r] of byPart) if (p > 1) assert.equal(r.id, `${first}_p${p}`);
      // Every message once, in timestamp order across the parts.
      const sent = [...byPart.keys()]
        .sort((x, y) => x - y)
        .flatMap((p) => (byPart.get(p)!.json.messages as { message_id: string }[]).map((m) => m.message_id));
      assert.deepEqual(sent, ids);
    });

    it("a message whose payload cannot be written is parked at once, not retried forever; the chat and other workspaces go on; sent by hand once fixed", async () => {
      const a = await space(server, { webhookUrl: `${receiver.url}?t=bug` });
      const hook = `/api/v1/webhooks/${a.webhook.id}`;
      assert.equal((await server.api("PATCH", hook, { token: a.key, body: { enabled: false } })).status, 200);
      const [bad, good] = idsOf(
        await ingest(server, a, [
          entry(a, { contact: "972549000002", text: "poison" }),
          entry(a, { contact: "972549000002", text: "after it" }),
        ]),
      );
      // A stored row no payload can be written from (a time past what a Date holds).
      await server.sql(`UPDATE messages SET timestamp = 9000000000000000 WHERE id = '${bad}'`);
      assert.equal(
        (await server.api("PATCH", hook, { token: a.key, body: { enabled: true, replay: "since_disabled" } })).status,
        200,
      );

      await waitFor(
        () => received(receiver, "t=bug").some((r) => r.messageId === good),
        "the next message of the same chat",
      );
      assert.equal(
        received(receiver, "t=bug").some((r) => r.messageId === bad),
        false,
      );
      await otherServed("served after a parked delivery");
      await alive();

      const parked = await server.api("GET", `${hook}/parked`, { token: a.key });
      assert.equal(parked.status, 200, parked.text);
      assert.equal(parked.json.items.length, 1);
      const item = parked.json.items[0];
      assert.match(item.delivery_id, new RegExp(`^msg_${bad}_`));
      assert.match(item.reason, /RangeError/);
      assert.equal(item.resendable, true);
      const log = await getLog(server, a.key, a.webhook.id);
      assert.ok(
        log.some((e) => e.delivery_id === item.delivery_id && e.error?.code === "INTERNAL_ERROR"),
        "the request log does not say why",
      );
      const activity = (await server.api("GET", `${hook}/activity`, { token: a.key })).json.items as {
        kind: string;
        summary: string;
      }[];
      assert.ok(
        activity.some((x) => x.kind === "parked" && /RangeError/.test(x.summary)),
        JSON.stringify(activity),
      );
      const view = (await server.api("GET", hook, { token: a.key })).json;
      assert.equal(view.consecutive_failures, 0, "an internal error was counted against the receiver");

      // Still unwritable: the resend says so and the delivery stays parked.
      const refused = await server.api("POST", `${hook}/parked/${item.delivery_id}/resend`, { token: a.key });
      assert.equal(refused.status, 409, refused.text);
      await server.sql(`UPDATE messages SET timestamp = 1614183929000 WHERE id = '${bad}'`);
      const resent = await server.api("POST", `${hook}/parked/${item.delivery_id}/resend`, { token: a.key });
      assert.equal(resent.status, 200, resent.text);
      assert.equal(resent.json.status, "succeeded");
      await waitForCount(receiver, "t=bug", 2, "the parked message sent by hand");
      assert.equal(received(receiver, "t=bug").filter((r) => r.messageId === bad).length, 1);
      assert.deepEqual((await server.api("GET", `${hook}/parked`, { token: a.key })).json.items, []);
      // Another workspace cannot see or resend it.
      const foreign = await server.api("POST", `${hook}/parked/${item.delivery_id}/resend`, { token: other.key });
      assert.equal(foreign.status, 404);
    });

    it("quotas: one more webhook, account or teammate than allowed answers 409 QUOTA_EXCEEDED naming the limit and its variable", async () => {
      const q = await space(server, { webhookUrl: `${receiver.url}?t=quota` });
      const more = () =>
        server.api("POST", "/api/v1/webhooks", { token: q.key, body: { url: `${receiver.url}?t=quota` } });
      await createWebhook(server, q.key, `${receiver.url}?t=quota`);
      await createWebhook(server, q.key, `${receiver.url}?t=quota`);
      const refused = await more();
      assertError(refused, 409, "QUOTA_EXCEEDED");
      assert.match(refused.json.error.message, /at most 3 webhooks \(THREADLINE_MAX_WEBHOOKS\)/);
      assert.equal((await server.api("DELETE", `/api/v1/webhooks/${q.webhook.id}`, { token: q.key })).status, 204);
      assert.equal((await more()).status, 201, "a deleted webhook frees its place");

      const account = (phone: string) =>
        server.api("POST", "/api/v1/accounts", {
          token: q.key,
          body: { phone, owner_email: q.owner.email, source: "api" },
        });
      assert.equal((await account("+15550002001")).status, 201);
      const noAccount = await account("+15550002002");
      assertError(noAccount, 409, "QUOTA_EXCEEDED");
      assert.match(noAccount.json.error.message, /THREADLINE_MAX_ACCOUNTS/);

      const teammate = (n: number) =>
        server.api("POST", "/api/v1/teammates", {
          token: q.key,
          body: { full_name: `Mate ${n}`, email: `mate${n}@quota.test` },
        });
      assert.equal((await teammate(1)).status, 201);
      assert.equal((await teammate(2)).status, 201);
      const noTeammate = await teammate(3);
      assertError(noTeammate, 409, "QUOTA_EXCEEDED");
      assert.match(noTeammate.json.error.message, /at most 3 teammates \(THREADLINE_MAX_TEAMMATES\)/);
      // Another workspace's quota is its own.
      assert.equal((await createWebhook(server, other.key, `${receiver.url}?t=other2`)).url.length > 0, true);
      await otherServed("served beside a workspace at its quotas");
    });

    it("inbound requests of a workspace in flight beyond the quota answer 409 before their body is read; others are served", async () => {
      const g = await space(server);
      const acc = await server.api("POST", "/api/v1/accounts", {
        token: g.key,
        body: {
          phone: "+15550003001",
          owner_email: g.owner.email,
          source: "waha",
          source_config: { base_url: "http://127.0.0.1:9", api_key: "quota-waha-key-1234", session: "default" },
        },
      });
      assert.equal(acc.status, 201, acc.text);
      const path = new URL(acc.json.inbound_url as string).pathname;
      const { port } = new URL(server.url);
      // Two requests whose bodies never finish arriving; one answered at once (it came in while
      // a probe below was in flight, so it found the quota full) is opened again.
      const hanging = new Set<net.Socket>();
      const hang = (): void => {
        const socket = net.connect(Number(port), "127.0.0.1");
        hanging.add(socket);
        socket.on("error", () => undefined);
        socket.once("data", () => {
          socket.destroy();
          hanging.delete(socket);
          hang();
        });
        socket.write(
          `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"a":`,
        );
      };
      hang();
      hang();
      const post = () => server.request("POST", path, { headers: { "content-type": "application/json" }, body: "{}" });
      const refused = await waitFor(async () => {
        const r = await post();
        return r.status === 409 ? r : undefined;
      }, "an inbound request refused while two are in flight");
      assert.equal(refused.json.error.code, "QUOTA_EXCEEDED");
      assert.match(refused.json.error.message, /THREADLINE_MAX_INBOUND_IN_FLIGHT/);
      await otherServed("served while a workspace's inbound requests hang");
      for (const socket of hanging) {
        socket.removeAllListeners("data");
        socket.destroy();
      }
      await waitFor(async () => (await post()).status === 200, "an inbound request once the hanging ones closed");
      await alive();
    });

    it("nothing is parsed before authentication; body-less and unknown routes read little; deep nesting and lone surrogates are refused 400", async () => {
      const attacker = { "x-forwarded-for": "203.0.113.7", "content-type": "application/json" };
      const big = 7.5 * MiB;
      for (let i = 0; i < 5; i++) {
        const r = await answeredBeforeBody("POST", `/hooks/send/unknown-token-${i}-0123456789`, attacker, big);
        assert.equal(r.status, 404, r.text);
      }
      // Each counted as a failed authentication (parsed first, it was a 400 that did not count): the address is blocked now.
      assert.equal(
        (await server.request("POST", "/hooks/send/unknown-token-5-0123456789", { headers: attacker, body: "{}" }))
          .status,
        429,
      );
      assertError(
        await answeredBeforeBody("DELETE", "/api/v1/session", { "content-type": "application/json" }, big),
        413,
        "PAYLOAD_TOO_LARGE",
      );
      assertError(
        await answeredBeforeBody("POST", "/api/v1/nowhere", { "content-type": "application/json" }, big),
        404,
        "NOT_FOUND",
      );
      // An unknown inbound URL token, the same.
      assertError(
        await answeredBeforeBody(
          "POST",
          "/inbound/waha/unknown-token-0123456789",
          { "content-type": "application/json" },
          big,
        ),
        404,
        "NOT_FOUND",
      );

      const d = await space(server, { webhookUrl: `${receiver.url}?t=deep` });
      const nested = (n: number) => `{"messages":${"[".repeat(n)}${"]".repeat(n)}}`;
      // 20,000 deep to ingest; 1,000 to a sign-in (whose body may be 4 KiB).
      for (const [path, token, deep] of [
        ["/api/v1/messages", d.key, nested(20_000)],
        ["/api/v1/session", undefined, nested(1_000)],
      ] as const) {
        const r = await server.request("POST", path, {
          headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: deep,
        });
        const e = assertError(r, 400, "VALIDATION_ERROR");
        assert.match(e.message, /deeper than 32 levels/);
      }

      const chat = "972549000009";
      const lone = await server.api("POST", "/api/v1/messages", {
        token: d.key,
        body: {
          messages: [entry(d, { contact: chat, chat: { external_id: `${chat}\ud800@s.whatsapp.net` } as never })],
        },
      });
      assertError(lone, 400, "VALIDATION_ERROR", "messages[0].chat.external_id");
      const loneText = await server.api("POST", "/api/v1/messages", {
        token: d.key,
        body: { messages: [entry(d, { contact: chat, text: "broken \udc00 text" })] },
      });
      assertError(loneText, 400, "VALIDATION_ERROR", "messages[0].text");
      // The chat is not broken: its next message is stored and delivered.
      const [id] = idsOf(await ingest(server, d, [entry(d, { contact: chat, text: "whole again" })]));
      await waitFor(() => received(receiver, "t=deep").some((r) => r.messageId === id), "the chat's next message");
      await otherServed("served through the parsing attacks");
      await alive();
    });

    it("fair delivery: a tenant whose endpoint hangs does not hold another tenant's deliveries to the same host", async () => {
      const slow = await space(server, { webhookUrl: `${receiver.url}?t=slow` });
      const answer = receiver.respond;
      receiver.respond = (r) => (r.url.includes("t=slow") ? "hang" : answer(r));
      try {
        // One message in each of 100 chats: the slow tenant's webhook puts its 64 in flight at once.
        await ingest(
          server,
          slow,
          Array.from({ length: 100 }, (_, i) => entry(slow, { contact: `9725480${String(i).padStart(5, "0")}` })),
        );
        await waitFor(() => receiver.inFlight >= 64, "the slow tenant's deliveries hanging at the receiver");
        const [id] = idsOf(await ingest(server, other, [entry(other, { text: "beside a hanging tenant" })]));
        await waitFor(
          () => received(receiver, "t=other").some((r) => r.messageId === id),
          "the other tenant's message",
        );
        // Its first attempt succeeded: it did not wait behind the hanging ones until their 10 s deadline.
        const attempts = (await getLog(server, other.key, other.webhook.id)).filter((e) =>
          e.delivery_id.startsWith(`msg_${id}_`),
        );
        assert.deepEqual(
          attempts.map((e) => [e.attempt, e.error?.code ?? null]),
          [[1, null]],
        );
        await alive();
      } finally {
        // Deleted (a disable would wait for the hanging attempts' deadline).
        await server.api("DELETE", `/api/v1/webhooks/${slow.webhook.id}`, { token: slow.key });
        receiver.respond = answer;
      }
    });

    it("IPv6 failed authentications count per /64, ::ffff:0:0/96 is refused, /metrics asks for its token and names no tenant, no token reaches a log line", async () => {
      const asking = (address: string, key: string) =>
        server.request("GET", "/api/v1/webhooks", {
          headers: { authorization: `Bearer ${key}`, "x-forwarded-for": address },
        });
      for (let i = 1; i <= 5; i++)
        assert.equal((await asking(`2001:db8:1:2::${i}`, "tl_wrong_key_0123456789")).status, 401);
      // Another address of that /64 is the same client; another /64 is not.
      assert.equal((await asking("2001:db8:1:2:ffff::99", other.key)).status, 429);
      assert.equal((await asking("2001:db8:1:3::1", other.key)).status, 200);

      const mapped = await server.api("POST", "/api/v1/webhooks/check-target", {
        token: other.key,
        body: { url: "http://[::ffff:8.8.8.8]/hook" },
      });
      assert.equal(mapped.json.problem?.code, "BLOCKED_TARGET", mapped.text);
      assert.match(mapped.json.problem.message, /::ffff:0:0\/96/);

      assert.equal((await server.request("GET", "/metrics")).status, 401);
      const metrics = await server.request("GET", "/metrics", {
        headers: { authorization: "Bearer metrics-token-0123456789" },
      });
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, /threadline_delivery_attempts_total/);
      // No label names a tenant: no workspace, webhook or account id (routes are named by their pattern).
      assert.doesNotMatch(metrics.text, /\b(ws|wh|acc)_[0-9a-z]{8,}/);
      assert.equal(metrics.text.includes(other.webhook.id), false);

      // A request on an inbound URL that fails on Threadline's side (its table briefly gone): the
      // error line is logged without the URL's token.
      const w = await space(server);
      const acc = await server.api("POST", "/api/v1/accounts", {
        token: w.key,
        body: {
          phone: "+15550004001",
          owner_email: w.owner.email,
          source: "waha",
          source_config: { base_url: "http://127.0.0.1:9", api_key: "redact-waha-key-1234", session: "default" },
        },
      });
      assert.equal(acc.status, 201, acc.text);
      const path = new URL(acc.json.inbound_url as string).pathname;
      const token = path.split("/").pop()!;
      await server.sql("ALTER TABLE inbound_events RENAME TO inbound_events_away");
      try {
        const failed = await server.request("POST", `${path}?hub.verify_token=verify-secret-123`, {
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        assert.equal(failed.status, 500, failed.text);
      } finally {
        await server.sql("ALTER TABLE inbound_events_away RENAME TO inbound_events");
      }
      await waitFor(() => server.output.includes("/inbound/waha/[redacted]"), "the error line of the failed request");
      assert.equal(server.output.includes(token), false, "the inbound token is in the log");
      assert.equal(server.output.includes("verify-secret-123"), false, "a secret query value is in the log");
      await otherServed("served after the point 8 probes");
      await alive();
    });
  });
