import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { deliveriesOf, entry, ingest, space, type Space, waitForDelivery } from "../helpers/workspace.js";
import type { ActivityItem, Webhook } from "../../src/webhooks/schemas.js";

/** The documented backoff (5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then hourly), with room for jitter. */
const BACKOFF_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000];
const pastRetry = (failures: number) => Math.ceil(BACKOFF_MS[Math.min(failures, BACKOFF_MS.length) - 1]! * 1.2);

for (const database of DATABASES)
  describe(`webhook state (${database})`, () => {
    let server: TestServer;
    before(async () => {
      server = await TestServer.start({ database });
    });
    after(async () => {
      await server?.stop();
    });

    const webhookOf = async (s: Space) => {
      const r = await server.api("GET", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key });
      assert.equal(r.status, 200, r.text);
      return r.json as Webhook;
    };
    const activityOf = async (s: Space) => {
      const r = await server.api("GET", `/api/v1/webhooks/${s.webhook!.id}/activity`, { token: s.key });
      assert.equal(r.status, 200, r.text);
      return r.json.items as ActivityItem[];
    };

    /** Waits until the webhook has counted `n` consecutive errors (its retry time is then set). */
    const failuresReach = (s: Space, n: number) =>
      waitFor(async () => (await webhookOf(s)).consecutive_failures === n, `${n} consecutive failures`);

    describe("consecutive failures disable a webhook; a 2xx and re-enabling reset the count", () => {
      let receiver: Receiver;
      let s: Space;
      let status = 500;
      before(async () => {
        receiver = await Receiver.start();
        receiver.respond = () => ({ status, body: status === 200 ? "ok" : "boom" });
        s = await space(server, { receiver });
      });
      after(async () => receiver?.close());

      /** Runs attempts until `upTo` consecutive failures, moving the clock past each retry. */
      async function failThrough(from: number, upTo: number, requestsBefore: number) {
        for (let n = from; n <= upTo; n++) {
          await waitFor(() => receiver.requests.length >= requestsBefore + n - from + 1, `attempt ${n}`);
          await failuresReach(s, n);
          const w = await webhookOf(s);
          assert.equal(w.enabled, true, `disabled after only ${n} errors`);
          assert.equal(w.disabled_reason, null);
          if (n < upTo) await server.advance(pastRetry(n));
        }
      }

      it("retries one delivery with the same webhook-id and bytes; a 2xx in between resets the count", async () => {
        const m1 = (await ingest(server, s.key, [entry(s, { text: "first" })])).results[0]!.message_id;
        await failThrough(1, 6, 0);
        status = 200;
        await server.advance(pastRetry(6));
        await waitFor(() => deliveriesOf(receiver, m1).length === 7, "the successful 7th attempt");
        await failuresReach(s, 0);
        const attempts = deliveriesOf(receiver, m1);
        assert.equal(
          new Set(attempts.map((r) => r.headers["webhook-id"])).size,
          1,
          "webhook-id changed across retries",
        );
        assert.equal(new Set(attempts.map((r) => r.body)).size, 1, "a retry sent different bytes");
        const act = await activityOf(s);
        assert.equal(act[0]!.kind, "delivered");
        assert.equal(act[0]!.delivery_id, attempts[0]!.headers["webhook-id"]);
        assert.ok(act.some((a) => a.kind === "failed" && a.status_code === 500));
      });

      it("is still enabled after 10 consecutive errors and disabled by the 11th", async () => {
        status = 500;
        const before = receiver.requests.length;
        const m2 = (await ingest(server, s.key, [entry(s, { text: "second" })])).results[0]!.message_id;
        // Without the reset above, these would be errors 7 to 16 and the webhook would be disabled by now.
        await failThrough(1, 10, before);
        const w10 = await webhookOf(s);
        assert.deepEqual([w10.enabled, w10.consecutive_failures, w10.disabled_reason], [true, 10, null]);
        await server.advance(pastRetry(10));
        await waitFor(async () => (await webhookOf(s)).enabled === false, "the webhook to be disabled");
        const w = await webhookOf(s);
        assert.equal(w.disabled_reason, "consecutive_failures");
        assert.equal(w.consecutive_failures, 11);
        assert.equal(deliveriesOf(receiver, m2).length, 11);

        const act = await activityOf(s);
        assert.ok(act.length <= 10, `activity keeps at most 10, got ${act.length}`);
        assert.equal(act[0]!.kind, "disabled");
        for (let i = 1; i < act.length; i++) assert.ok(act[i - 1]!.at >= act[i]!.at, "activity is newest first");
        assert.ok(act.slice(1).every((a) => ["failed", "warning"].includes(a.kind)));
        const list = await server.api("GET", "/api/v1/webhooks", { token: s.key });
        assert.equal(list.json.items[0].enabled, false);
        assert.equal(list.json.items[0].disabled_reason, "consecutive_failures");
        // The owner is told.
        await waitFor(async () => {
          const n = await server.api("GET", "/api/v1/notifications", { token: s.key });
          return (n.json.items as { to: string }[]).some((x) => x.to.includes(s.workspace.owner.email));
        }, "an alert to the owner");
      });

      it("PATCH {enabled:true} resets consecutive_failures to 0 and delivers what was pending under the same webhook-id", async () => {
        const id = receiver.requests.at(-1)!.json.message.message_id as string;
        assert.equal(deliveriesOf(receiver, id).length, 11);
        status = 200;
        const r = await server.api("PATCH", `/api/v1/webhooks/${s.webhook!.id}`, {
          token: s.key,
          body: { enabled: true },
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.enabled, true);
        assert.equal(r.json.consecutive_failures, 0);
        assert.equal(r.json.disabled_reason, null);
        await waitFor(() => deliveriesOf(receiver, id).length === 12, "the pending message after re-enabling");
        const all = deliveriesOf(receiver, id);
        assert.equal(new Set(all.map((x) => x.headers["webhook-id"])).size, 1);
        assert.equal((await webhookOf(s)).consecutive_failures, 0);
        assert.ok((await activityOf(s)).some((a) => a.kind === "enabled"));
      });

      it("PATCH {enabled:true} on an enabled webhook that is failing resets the count too", async () => {
        const rcv = await Receiver.start();
        const t = await space(server, { receiver: rcv });
        let code = 500;
        rcv.respond = () => ({ status: code });
        try {
          const id = (await ingest(server, t.key, [entry(t)])).results[0]!.message_id;
          await waitFor(() => rcv.requests.length === 1, "first attempt");
          await failuresReach(t, 1);
          await server.advance(pastRetry(1));
          await waitFor(() => rcv.requests.length === 2, "second attempt");
          await failuresReach(t, 2);
          code = 200;
          const r = await server.api("PATCH", `/api/v1/webhooks/${t.webhook!.id}`, {
            token: t.key,
            body: { enabled: true },
          });
          assert.equal(r.status, 200, r.text);
          assert.equal(r.json.consecutive_failures, 0);
          await waitForDelivery(rcv, id);
          await waitFor(() => deliveriesOf(rcv, id).length === 3, "the retry after the reset");
        } finally {
          await rcv.close();
        }
      });
    });

    describe("the request log download and the activity list", () => {
      let receiver: Receiver;
      let s: Space;
      const BIG = "x".repeat(100 * 1024);
      before(async () => {
        receiver = await Receiver.start();
        receiver.respond = () => ({ status: 200, body: BIG, headers: { "x-receiver": "yes" } });
        s = await space(server, { receiver });
      });
      after(async () => receiver?.close());

      it("keeps the 100 newest requests, newest first, with the exact body sent and the response cut at 64 KiB", async () => {
        const batch = Array.from({ length: 105 }, (_, i) => entry(s, { contact: "972545000000", text: `line ${i} ✓` }));
        const r = await ingest(server, s.key, batch);
        const ids = r.results.map((x) => x.message_id);
        await waitFor(() => deliveriesOf(receiver, ids[104]!).length === 1, "all 105 deliveries");
        const got = receiver.requests;
        assert.equal(got.length, 105);
        assert.deepEqual(
          got.map((x) => x.json.message.message_id),
          ids,
          "one chat's messages arrive in order",
        );

        const res = await fetch(`${server.url}/api/v1/webhooks/${s.webhook!.id}/log`, {
          headers: { authorization: `Bearer ${s.key}` },
        });
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-disposition") ?? "", /^attachment\b/);
        assert.match(res.headers.get("content-type") ?? "", /json/);
        const log = JSON.parse(await res.text()) as any[];
        assert.ok(Array.isArray(log));
        assert.equal(log.length, 100);
        // Newest first: the log mirrors what the receiver got, reversed, without the 5 oldest.
        const expected = got.slice(5).reverse();
        for (let i = 0; i < 100; i++) {
          const e = log[i]!;
          const want = expected[i]!;
          assert.deepEqual(Object.keys(e).sort(), [
            "at",
            "attempt",
            "delivery_id",
            "duration_ms",
            "error",
            "request",
            "request_id",
            "response",
          ]);
          assert.equal(e.request.method, "POST");
          assert.equal(e.request.url, s.webhook!.url);
          assert.equal(e.request.body, want.body, `log[${i}] body differs from what the receiver got`);
          assert.equal(e.delivery_id, want.headers["webhook-id"]);
          for (const h of ["webhook-id", "webhook-timestamp", "webhook-signature", "user-agent", "content-type"]) {
            assert.equal(e.request.headers[h], want.headers[h], `log[${i}] request header ${h}`);
          }
          assert.equal(e.attempt, 1);
          assert.equal(e.error, null);
          assert.equal(e.response.status, 200);
          assert.equal(e.response.headers["x-receiver"], "yes");
          assert.equal(e.response.body.length, 64 * 1024);
          assert.equal(e.response.body, BIG.slice(0, 64 * 1024));
          assert.equal(typeof e.duration_ms, "number");
          if (i > 0) assert.ok(log[i - 1].at >= e.at, "log is newest first");
        }

        const act = await server.api("GET", `/api/v1/webhooks/${s.webhook!.id}/activity`, { token: s.key });
        assert.equal(act.status, 200);
        const items = act.json.items as {
          at: string;
          kind: string;
          delivery_id?: string;
          status_code?: number;
          summary: string;
        }[];
        assert.equal(items.length, 10);
        assert.deepEqual(
          items.map((a) => a.delivery_id),
          got
            .slice(95)
            .reverse()
            .map((x) => x.headers["webhook-id"]),
        );
        for (const a of items) {
          assert.equal(a.kind, "delivered");
          assert.equal(a.status_code, 200);
          assert.ok(a.summary.length > 0);
          assert.ok(!Number.isNaN(Date.parse(a.at)));
        }
      });

      it("a failed request is logged with its response, and an unreachable one with an error", async () => {
        receiver.respond = () => ({ status: 503, body: "down for maintenance" });
        const id = (await ingest(server, s.key, [entry(s, { contact: "972545000001" })])).results[0]!.message_id;
        await waitForDelivery(receiver, id);
        await failuresReach(s, 1);
        const log = (await server.api("GET", `/api/v1/webhooks/${s.webhook!.id}/log`, { token: s.key })).json as any[];
        assert.equal(log.length, 100);
        assert.equal(log[0].response.status, 503);
        assert.equal(log[0].response.body, "down for maintenance");
        assert.equal(typeof log[0].error.code, "string");
        assert.equal(typeof log[0].error.message, "string");
        const act = (await activityOf(s))[0]!;
        assert.equal(act.kind, "failed");
        assert.equal(act.status_code, 503);

        // A URL nobody listens on: no response, an error instead.
        const closed = await Receiver.start();
        const deadUrl = closed.url;
        await closed.close();
        const u = await server.api("PATCH", `/api/v1/webhooks/${s.webhook!.id}`, {
          token: s.key,
          body: { url: deadUrl },
        });
        assert.equal(u.status, 200, u.text);
        await server.advance(pastRetry(1));
        await failuresReach(s, 2);
        const log2 = (await server.api("GET", `/api/v1/webhooks/${s.webhook!.id}/log`, { token: s.key })).json as any[];
        assert.equal(log2[0].request.url, deadUrl);
        assert.equal(log2[0].response, null);
        assert.equal(typeof log2[0].error.code, "string");
        assert.equal(log2[0].attempt, 2);
        assert.equal(log2[0].delivery_id, log[0].delivery_id);
      });
    });
  });
