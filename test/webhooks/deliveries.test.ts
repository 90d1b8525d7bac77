/**
 * Deliveries one can open and send again: `GET …/deliveries` (the kept attempts, filtered)
 * and `POST …/deliveries/{delivery_id}/resend` (same webhook-id, signed anew, outside the
 * failure rule). One server per database for the file.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertSigned } from "../helpers/contract.js";
import { received, Receiver, waitForCount } from "../helpers/receiver.js";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import {
  assertError,
  getWebhook,
  ingest,
  space,
  texts,
  waitFailures,
  type Space,
  type WebhookRef,
} from "../helpers/workspace.js";
import { ownerCookie } from "../helpers/people.js";

interface Item {
  request_id: string;
  delivery_id: string;
  attempt: number;
  at: string;
  duration_ms: number;
  status: "succeeded" | "failed";
  error: { code: string; message: string } | null;
  request: { url: string; headers: Record<string, string>; body: string };
  response: { status: number; headers: Record<string, string>; body: string } | null;
  next_retry_at: string | null;
  test: boolean;
  resend: boolean;
  chat_id: string | null;
}

for (const database of DATABASES)
  describe(`deliveries: list, filters, resend (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let s: Space & { webhook: WebhookRef };
    let other: Space;

    const list = async (query = "", id = s.webhook.id): Promise<Item[]> => {
      const r = await server.api("GET", `/api/v1/webhooks/${id}/deliveries${query}`, { token: s.key });
      assert.equal(r.status, 200, r.text);
      return r.json.items as Item[];
    };
    const resend = async (deliveryId: string, id = s.webhook.id): Promise<Item> => {
      const r = await server.api("POST", `/api/v1/webhooks/${id}/deliveries/${encodeURIComponent(deliveryId)}/resend`, {
        token: s.key,
      });
      assert.equal(r.status, 200, r.text);
      return r.json as Item;
    };

    before(async () => {
      // Loopback is allowed (the receiver); any other private address stays blocked.
      [server, receiver] = await Promise.all([
        TestServer.start({ database, env: { THREADLINE_ALLOW_PRIVATE_TARGETS: "127.0.0.0/8" } }),
        Receiver.start(),
      ]);
      s = await space(server, { webhookUrl: `${receiver.url}?t=plain` });
      other = await space(server);
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    it("lists the kept attempts newest first, with request, response and marks; a test event is marked and not in the chart", async () => {
      await ingest(
        server,
        s,
        texts(s, [
          [1, "one"],
          [2, "two"],
        ]),
      );
      await waitForCount(receiver, "t=plain", 2, "two deliveries");
      const t = await server.api("POST", `/api/v1/webhooks/${s.webhook.id}/test`, { token: s.key });
      assert.equal(t.status, 200, t.text);

      const items = await list();
      assert.equal(items.length, 3);
      const [test, ...messages] = items;
      assert.equal(test!.test, true);
      assert.equal(test!.chat_id, null);
      assert.deepEqual(
        messages.map((m) => m.test),
        [false, false],
      );
      assert.ok(
        items.every((m, i) => i === 0 || m.at <= items[i - 1]!.at),
        "newest first",
      );
      const chats = new Set(messages.map((m) => m.chat_id));
      assert.equal(chats.size, 2);
      for (const m of messages) {
        assert.match(m.chat_id!, /^\d+$/);
        assert.equal(m.status, "succeeded");
        assert.equal(m.error, null);
        assert.equal(m.next_retry_at, null);
        assert.equal(m.attempt, 1);
        assert.equal(m.resend, false);
        assert.equal(m.request.url, `${receiver.url}?t=plain`);
        assert.equal(m.request.headers["webhook-id"], m.delivery_id);
        assert.match(m.request.headers["webhook-signature"]!, /^v1,/);
        assert.equal(JSON.parse(m.request.body).chat.chat_id, m.chat_id);
        assert.equal(m.response?.status, 200);
        assert.equal(m.response?.body, "ok");
        assert.equal(typeof m.duration_ms, "number");
      }
      // Filters.
      const chat = messages[0]!.chat_id!;
      assert.deepEqual(
        (await list(`?chat_id=${chat}`)).map((m) => m.request_id),
        [messages[0]!.request_id],
      );
      assert.equal((await list("?status=failed")).length, 0);
      assert.equal((await list("?status=succeeded")).length, 3);
      const first = messages[1]!.at;
      assert.deepEqual(
        (await list(`?until=${encodeURIComponent(new Date(Date.parse(first) + 1).toISOString())}`)).map(
          (m) => m.request_id,
        ),
        [messages[1]!.request_id],
      );
      assert.equal(
        (await list(`?since=${encodeURIComponent(new Date(Date.parse(test!.at) + 1).toISOString())}`)).length,
        0,
      );
      assert.equal((await list(`?since=2020-01-01&until=2100-01-01T00:00:00Z`)).length, 3);

      // The chart counts the two messages, not the test event.
      const stats = await server.api("GET", `/api/v1/webhooks/${s.webhook.id}/stats`, { token: s.key });
      const delivered = (stats.json.buckets as { delivered: number; failed: number }[]).reduce(
        (n, b) => n + b.delivered + b.failed,
        0,
      );
      assert.equal(delivered, 2);
      // The activity names the log row of each attempt.
      const activity = await server.api("GET", `/api/v1/webhooks/${s.webhook.id}/activity`, { token: s.key });
      assert.equal(activity.json.items[0].request_id, test!.request_id);
    });

    it("refuses a bad filter with 400 naming the field; no key is 401, another workspace's webhook or an unknown delivery 404; retry answers 202", async () => {
      const bad: [string, string][] = [
        ["status=ok", "status"],
        ["chat_id=abc", "chat_id"],
        ["since=yesterday", "since"],
        ["until=2026-02-31", "until"],
        ["since=2026-01-02&until=2026-01-01", "until"],
      ];
      for (const [query, field] of bad) {
        const r = await server.api("GET", `/api/v1/webhooks/${s.webhook.id}/deliveries?${query}`, { token: s.key });
        assert.equal(assertError(r, 400, "VALIDATION_ERROR", field).field, field, query);
      }
      const [item] = await list();
      const path = `/api/v1/webhooks/${s.webhook.id}/deliveries`;
      assertError(await server.api("GET", path), 401, "UNAUTHORIZED");
      assertError(await server.api("POST", `${path}/${item!.delivery_id}/resend`), 401, "UNAUTHORIZED");
      assertError(await server.api("GET", path, { token: other.key }), 404, "NOT_FOUND");
      assertError(
        await server.api("POST", `${path}/${item!.delivery_id}/resend`, { token: other.key }),
        404,
        "NOT_FOUND",
      );
      assertError(await server.api("POST", `${path}/msg_nope/resend`, { token: s.key }), 404, "NOT_FOUND");
      // POST …/retry answers 202 (a healthy webhook has nothing to retry); what it does: service.recovery.test.ts.
      const retry = `/api/v1/webhooks/${s.webhook.id}/retry`;
      const healthy = await server.api("POST", retry, { token: s.key });
      assert.equal(healthy.status, 202, healthy.text);
      assert.deepEqual(healthy.json, { retrying: false });
      assertError(await server.api("POST", retry), 401, "UNAUTHORIZED");
      assertError(await server.api("POST", retry, { token: other.key }), 404, "NOT_FOUND");
      // With the session cookie: the UI may resend; a page of another site may not.
      const cookie = await ownerCookie(server, s.workspace);
      const sent = receiver.requests.length;
      const forged = await server.request("POST", `${path}/${item!.delivery_id}/resend`, {
        headers: { cookie, origin: "http://evil.example" },
      });
      assertError(forged, 403, "CROSS_ORIGIN");
      assert.equal(receiver.requests.length, sent, "nothing was sent");
      const own = await server.request("POST", `${path}/${item!.delivery_id}/resend`, {
        headers: { cookie, origin: new URL(server.url).origin },
      });
      assert.equal(own.status, 200, own.text);
      assert.equal((await server.request("GET", path, { headers: { cookie } })).status, 200);
    });

    it("resend: the same webhook-id and body, signed now with the current secrets, logged as the next attempt", async () => {
      const original = (await list()).find((m) => !m.test)!;
      const rotated = await server.api("POST", `/api/v1/webhooks/${s.webhook.id}/rotate-secret`, { token: s.key });
      assert.equal(rotated.status, 200, rotated.text);
      const before = received(receiver, "t=plain").length;

      const item = await resend(original.delivery_id);
      assert.equal(item.delivery_id, original.delivery_id);
      assert.equal(item.attempt, original.attempt + 1);
      assert.equal(item.status, "succeeded");
      assert.equal(item.resend, true);
      assert.equal(item.chat_id, original.chat_id);
      assert.equal(item.response?.status, 200);

      const got = received(receiver, "t=plain").slice(before);
      assert.equal(got.length, 1);
      assert.equal(got[0]!.headers["webhook-id"], original.delivery_id);
      assert.equal(got[0]!.body, original.request.body);
      assertSigned(got[0]!, rotated.json.secret);
      assertSigned(got[0]!, s.webhook.secret); // the previous secret signs too, during its grace
      assert.notEqual(got[0]!.headers["webhook-signature"], original.request.headers["webhook-signature"]);
      assert.equal((await list())[0]!.request_id, item.request_id, "logged, newest");
      // The activity names the chat it went to, not the raw delivery id.
      const activity = (await server.api("GET", `/api/v1/webhooks/${s.webhook.id}/activity`, { token: s.key })).json
        .items as { summary: string; chat?: { chat_id: string } }[];
      const row = activity.find((a) => a.summary.startsWith("Resent"))!;
      assert.match(row.summary, /^Resent the delivery to the (chat with|group) .+ by hand \(HTTP 200\)\.$/);
      assert.ok(!row.summary.includes(original.delivery_id), row.summary);
      assert.equal(row.chat?.chat_id, original.chat_id);
      s.webhook.secret = rotated.json.secret;
    });

    it("resend to a failing receiver: a failed resend leaves the count, backoff and pending retry to the consumer; a successful one has the consumer retry at once", async () => {
      // An hour's Retry-After: no retry of the consumer's own while the test resends by hand.
      receiver.answer({ status: 503, body: "down", headers: { "retry-after": "3600" } });
      await ingest(server, s, texts(s, [[3, "three"]]));
      await waitFailures(server, s.key, s.webhook.id, 1);
      const failed = (await list("?status=failed"))[0]!;
      assert.equal(failed.error?.code, "HTTP_ERROR");
      assert.equal(failed.response?.status, 503);
      assert.equal(failed.response?.body, "down");
      assert.ok(failed.next_retry_at, "a retry is scheduled");
      assert.ok(Date.parse(failed.next_retry_at) - Date.parse(failed.at) >= 3_500_000, failed.next_retry_at);

      const again = await resend(failed.delivery_id);
      assert.equal(again.status, "failed");
      assert.equal(again.next_retry_at, failed.next_retry_at, "the consumer still retries it then");
      assert.equal((await getWebhook(server, s.key, s.webhook.id)).consecutive_failures, 1, "not counted");

      receiver.answer({ status: 200, body: "ok" });
      const before = received(receiver, "t=plain").length;
      const ok = await resend(failed.delivery_id);
      assert.equal(ok.status, "succeeded");
      assert.equal(ok.attempt, 3);
      assert.equal(ok.next_retry_at, null);

      // The receiver answers again: the consumer's retry goes out now, not in an hour, under the same id, and ends the run.
      await waitFailures(server, s.key, s.webhook.id, 0, 20_000);
      const retried = received(receiver, "t=plain").slice(before);
      assert.ok(retried.some((r) => r.headers["webhook-id"] === failed.delivery_id));
      // Numbered past the resends: 1 was the consumer's first attempt, 2 and 3 the resends.
      const numbers = (await list())
        .filter((m) => m.delivery_id === failed.delivery_id)
        .map((m) => [m.attempt, m.resend]);
      assert.deepEqual(numbers, [
        [4, false],
        [3, true],
        [2, true],
        [1, false],
      ]);
    });

    it("resend to a blocked target goes through the target guard", async () => {
      const [item] = await list("?status=succeeded");
      const before = receiver.requests.length;
      const p = await server.api("PATCH", `/api/v1/webhooks/${s.webhook.id}`, {
        token: s.key,
        body: { url: "http://10.0.0.1/hook" },
      });
      assert.equal(p.status, 200, p.text);
      const blocked = await resend(item!.delivery_id);
      assert.equal(blocked.status, "failed");
      assert.equal(blocked.error?.code, "BLOCKED_TARGET");
      assert.equal(blocked.response, null);
      assert.equal(receiver.requests.length, before);
      await server.api("PATCH", `/api/v1/webhooks/${s.webhook.id}`, {
        token: s.key,
        body: { url: `${receiver.url}?t=plain` },
      });
    });

    it("resend of an aggregated webhook's delivery sends the bundle again, same webhook-id", async () => {
      const hook = await server.api("POST", "/api/v1/webhooks", {
        token: s.key,
        body: { url: `${receiver.url}?t=agg`, aggregation: "1h" },
      });
      assert.equal(hook.status, 201, hook.text);
      await ingest(
        server,
        s,
        texts(s, [
          [4, "four a"],
          [4, "four b"],
        ]),
      );
      const f = await server.api("POST", `/api/v1/webhooks/${hook.json.id}/flush`, { token: s.key });
      assert.deepEqual(f.json, { flushed: 1 });
      const [bundle] = await waitFor(async () => {
        const items = await list("", hook.json.id);
        return items.length ? items : undefined;
      }, "the bundle in the log");
      assert.match(bundle!.delivery_id, /^bnd_/);
      assert.equal(bundle!.chat_id, JSON.parse(bundle!.request.body).chat.chat_id);
      assert.equal((await list(`?chat_id=${bundle!.chat_id}`, hook.json.id)).length, 1);

      const item = await resend(bundle!.delivery_id, hook.json.id);
      assert.equal(item.status, "succeeded");
      assert.equal(item.attempt, 2);
      const got = received(receiver, "t=agg");
      assert.equal(got.length, 2);
      assert.equal(got[1]!.headers["webhook-id"], bundle!.delivery_id);
      assert.equal(got[1]!.body, got[0]!.body);
      assert.deepEqual(
        got[1]!.json.messages.map((m: { text: string }) => m.text),
        ["four a", "four b"],
      );
      assertSigned(got[1]!, hook.json.secret);
    });

    /** A new webhook whose receiver answers 500, and its first failed delivery (of `text` in the chat with contact `chat`). */
    const failingWebhook = async (tag: string, chat: number, text: string) => {
      receiver.respond = (r) =>
        r.url.includes(`t=${tag}`) ? { status: 500, body: "no" } : { status: 200, body: "ok" };
      const hook = await server.api("POST", "/api/v1/webhooks", {
        token: s.key,
        body: { url: `${receiver.url}?t=${tag}` },
      });
      assert.equal(hook.status, 201, hook.text);
      await ingest(server, s, texts(s, [[chat, text]]));
      await waitFailures(server, s.key, hook.json.id, 1);
      const [failed] = await list("?status=failed", hook.json.id);
      return { id: hook.json.id as string, failed: failed! };
    };

    it("a failure's next retry is the jittered backoff, kept in whole milliseconds", async () => {
      const { failed } = await failingWebhook("err", 5, "five");
      const wait = Date.parse(failed.next_retry_at!) - Date.parse(failed.at);
      assert.ok(wait >= 4_000 && wait <= 6_000, `5 s ± 10 %, after the attempt's time: ${wait} ms`);
    });

    it("after a restart while failing, the retry is numbered past the attempts the log keeps", async () => {
      const { id, failed } = await failingWebhook("restart", 6, "six");
      assert.equal(failed.attempt, 1);

      server = await server.restart({ signal: "SIGTERM", env: { THREADLINE_ALLOW_PRIVATE_TARGETS: "127.0.0.0/8" } });
      receiver.respond = () => ({ status: 200, body: "ok" });
      await server.advance(60_000);
      await waitFailures(server, s.key, id, 0);
      const numbers = (await list("", id))
        .filter((m) => m.delivery_id === failed.delivery_id)
        .map((m) => [m.attempt, m.status]);
      assert.deepEqual(numbers, [
        [2, "succeeded"],
        [1, "failed"],
      ]);
    });
  });
