import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RETRY_SCHEDULE_MS } from "../../src/webhooks/policy.js";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, sleep, TestServer, waitFor } from "../helpers/server.js";
import {
  createWebhook,
  getLog,
  getWebhook,
  idsOf,
  ingest,
  notifications,
  space,
  texts,
  waitFailures,
} from "../helpers/workspace.js";

/** Past the backoff after the n-th consecutive error, jitter included. */
const pastBackoff = (n: number) =>
  Math.ceil(RETRY_SCHEDULE_MS[Math.min(n, RETRY_SCHEDULE_MS.length) - 1]! * 1.1) + 1000;

for (const database of DATABASES)
  describe(`a receiver that is down for a while (refused, then 500s, then a hang) and comes back (${database})`, () => {
    let receiver: Receiver;
    let server: TestServer;

    before(async () => {
      receiver = await Receiver.start();
      await receiver.down();
      server = await TestServer.start({ database });
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    it("delivers every message exactly once, in per-chat order, without disabling the webhook", async () => {
      const s = await space(server);
      const wh = await createWebhook(server, s.key, receiver.url);
      const ids = new Map<string, string>(); // message id → text
      const put = async (items: [number, string][]) => {
        const got = idsOf(await ingest(server, s, texts(s, items)));
        got.forEach((id, i) => ids.set(id, items[i]![1]));
      };

      // Connection refused: the first attempts of three chats were in flight together when the
      // errors began: they count as one error (and are sent again); then one backed-off probe at a time.
      await put([
        [1, "c1-1"],
        [2, "c2-1"],
        [3, "c3-1"],
        [1, "c1-2"],
        [2, "c2-2"],
      ]);
      await waitFailures(server, s.key, wh.id, 1);
      await server.advance(pastBackoff(1));
      await waitFailures(server, s.key, wh.id, 2);
      // More traffic while failing waits behind the failing head.
      await put([
        [3, "c3-2"],
        [1, "c1-3"],
      ]);
      await server.advance(pastBackoff(2));
      await waitFailures(server, s.key, wh.id, 3);
      assert.equal(receiver.requests.length, 0, "nothing reached a receiver that is down");

      // Back up, but answering 500: exactly one probe per backoff step, never other chats.
      await receiver.up();
      receiver.answer({ status: 500 });
      await server.advance(pastBackoff(3));
      await waitFailures(server, s.key, wh.id, 4);
      await server.advance(pastBackoff(4));
      await waitFailures(server, s.key, wh.id, 5);
      assert.equal(receiver.requests.length, 2, "a failing receiver is not hammered");
      assert.equal(receiver.requests[0]!.text, "c1-1", "the probe is the oldest waiting delivery");
      assert.equal(receiver.requests[1]!.id, receiver.requests[0]!.id);

      // Hanging: the 10 s timeout cuts the attempt.
      receiver.answer("hang");
      await server.advance(pastBackoff(5));
      await waitFailures(server, s.key, wh.id, 6, 20_000);
      assert.equal(receiver.requests.length, 3);

      // Back for good.
      receiver.answer({ status: 200 });
      await server.advance(pastBackoff(6));
      await waitFor(() => receiver.accepted.size === ids.size, "every message delivered", 15_000);
      await sleep(500);

      // Exactly once to the receiver's dedupe, nothing lost, nothing extra.
      assert.equal(receiver.accepted.size, 7);
      assert.deepEqual(new Set([...receiver.accepted.values()].map((r) => r.messageId)), new Set(ids.keys()));
      for (const r of receiver.accepted.values()) assert.equal(r.text, ids.get(r.messageId));
      // Per-chat order as ingested, by first arrival.
      const byChat = new Map<string, string[]>();
      for (const r of receiver.accepted.values()) byChat.set(r.chat, [...(byChat.get(r.chat) ?? []), r.text]);
      assert.deepEqual(
        [...byChat.values()].sort((a, b) => a[0]!.localeCompare(b[0]!)),
        [
          ["c1-1", "c1-2", "c1-3"],
          ["c2-1", "c2-2"],
          ["c3-1", "c3-2"],
        ],
      );
      // While it was down, nothing but the probes went out: the deliveries after the
      // outage are one per message, each with one webhook-id.
      const okPhase = receiver.requests.slice(3);
      assert.equal(okPhase.length, 7, "one request per message once the receiver is back");

      const view = await getWebhook(server, s.key, wh.id);
      assert.equal(view.enabled, true);
      assert.equal(view.consecutive_failures, 0);
      assert.equal(view.disabled_reason, null);

      // Every attempt is a log entry: 3 + 2 refused, 2 × 500, 1 timeout, 7 delivered.
      const log = await getLog(server, s.key, wh.id);
      const codes = log.map((e) => e.error?.code ?? `HTTP ${e.response?.status}`).reverse();
      assert.equal(log.length, 15, codes.join(", "));
      const refused = codes.slice(0, 5);
      for (const c of refused) assert.ok(c === "CONNECTION_REFUSED" || c === "CONNECTION_RESET", c);
      assert.deepEqual(codes.slice(5), ["HTTP_ERROR", "HTTP_ERROR", "TIMEOUT", ...Array(7).fill("HTTP 200")]);
      const timeout = log.find((e) => e.error?.code === "TIMEOUT")!;
      assert.ok(
        timeout.duration_ms >= 9_000 && timeout.duration_ms < 12_000,
        `timed out after ${timeout.duration_ms} ms`,
      );
      assert.match(timeout.error!.message, /within 10 s/);

      // The 5th error sent the warning (to the outbox: no SMTP here), and there was no disable.
      const mails = await notifications(server, s.key);
      assert.equal(mails.length, 1);
      assert.match(mails[0]!.subject, /failing/);
    });
  });
