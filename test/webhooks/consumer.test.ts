// The unaggregated consumer against a receiver that fails, in-process (test/helpers/consumers.ts):
// the retry schedule, one probe at a time, how errors are counted, the warning, the disable
// after more than 10, and the recovery delivering what waited, in per-chat order. What a real
// receiver's refusal, 500 and hang look like on the wire: consumer.outage.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MAX_CONSECUTIVE_FAILURES, RETRY_SCHEDULE_MS, WARNING_AT } from "../../src/webhooks/policy.js";
import { InProcessConsumers, type ScriptedAnswer } from "../helpers/consumers.js";
import { DATABASES, sleep, waitFor } from "../helpers/server.js";

/** The backoff after the n-th consecutive error, before its ±10 % jitter. */
const backoff = (n: number) => RETRY_SCHEDULE_MS[Math.min(n, RETRY_SCHEDULE_MS.length) - 1]!;
/** Past the backoff after the n-th consecutive error, jitter included. */
const pastBackoff = (n: number) => Math.ceil(backoff(n) * 1.1) + 1000;

for (const database of DATABASES)
  describe(`the message consumer while its receiver fails (${database})`, () => {
    let h: InProcessConsumers;
    before(async () => {
      h = await InProcessConsumers.open(database);
      await h.start();
    });
    after(async () => h?.close());

    /** The webhook's count as stored, once it is `n`. */
    const failures = (ws: string, id: string, n: number) =>
      waitFor(async () => {
        const row = await h.stored(ws, id);
        return row.consecutive_failures === n ? row : undefined;
      }, `${n} consecutive failures`);

    /** While failing: the next try is due at the schedule's backoff (and, checked once, not sent before it); the clock moves past it. */
    async function probeAt(ws: string, id: string, n: number): Promise<void> {
      const consumer = h.manager.consumer(id)!;
      const retryAt = consumer.nextRetryAt!;
      const failedAt = h.events.attempted.at(-1)!.at;
      const delay = retryAt - failedAt;
      assert.ok(
        delay >= backoff(n) * 0.9 && delay <= backoff(n) * 1.1 + 1000,
        `after the ${n}th error the next try is ${delay} ms later (schedule: ${backoff(n)} ms ±10 %)`,
      );
      if (n === 2) {
        const before = h.deliverer.calls.length;
        h.advance(retryAt - h.clock.now() - 10_000);
        await sleep(200);
        assert.equal(h.deliverer.calls.length, before, `no try 10 s before the backoff of the ${n}th error ends`);
      }
      h.advance(Math.max(0, retryAt - h.clock.now()) + 1000);
    }

    it("refused, 500s, a timeout, then back: one probe per backoff, the warning at the 5th, everything delivered once, in per-chat order", async () => {
      const ws = await h.workspace("Outage");
      const wh = await h.webhook(ws.id);
      const texts = new Map<string, string>(); // message id → text
      const put = async (items: [number, string][]) =>
        (await h.ingest(ws, items)).forEach((id, i) => texts.set(id, items[i]![1]));
      const calls = () => h.deliverer.callsOf(ws.id);
      const answer = (a: ScriptedAnswer) => (h.deliverer.answer = () => a);

      // Refused: the first attempts of three chats are in flight together when the errors begin:
      // they count as one error (and are sent again); then one backed-off probe at a time.
      answer({ error: "CONNECTION_REFUSED", delayMs: 20 });
      await put([
        [1, "c1-1"],
        [2, "c2-1"],
        [3, "c3-1"],
        [1, "c1-2"],
        [2, "c2-2"],
      ]);
      await failures(ws.id, wh.id, 1);
      await waitFor(() => h.events.attempted.length >= 3, "the three first attempts ended");
      assert.deepEqual(
        calls()
          .map((c) => c.text)
          .sort(),
        ["c1-1", "c2-1", "c3-1"],
        "the head of each chat, at once",
      );
      await probeAt(ws.id, wh.id, 1);
      await failures(ws.id, wh.id, 2);
      // More traffic while failing waits behind the failing head.
      await put([
        [3, "c3-2"],
        [1, "c1-3"],
      ]);
      await probeAt(ws.id, wh.id, 2);
      await failures(ws.id, wh.id, 3);
      assert.deepEqual(
        calls().map((c) => [c.text, c.attempt]),
        [
          ...calls()
            .slice(0, 3)
            .map((c) => [c.text, 1]),
          ["c1-1", 2],
          ["c1-1", 3],
        ],
        "one probe per backoff: the oldest waiting delivery, again",
      );

      // Answering 500: exactly one probe per backoff step, never other chats.
      answer({ status: 500 });
      await probeAt(ws.id, wh.id, 3);
      await failures(ws.id, wh.id, 4);
      assert.equal(h.events.warnings.length, 0, "no warning before the 5th error");
      await probeAt(ws.id, wh.id, 4);
      await failures(ws.id, wh.id, WARNING_AT);
      assert.deepEqual(
        calls()
          .slice(5)
          .map((c) => [c.text, c.attempt]),
        [
          ["c1-1", 4],
          ["c1-1", 5],
        ],
        "a failing receiver is not hammered",
      );
      assert.equal(
        new Set(
          calls()
            .filter((c) => c.text === "c1-1")
            .map((c) => c.id),
        ).size,
        1,
        "one webhook-id",
      );
      // The 5th error warns the owner (the e-mail waits in the outbox: no SMTP here).
      assert.deepEqual(h.events.warnings, [{ webhookId: wh.id, failures: WARNING_AT }]);
      const mail = await waitFor(async () => {
        const rows = await h.db.selectFrom("notifications").selectAll().where("workspace_id", "=", ws.id).execute();
        return rows.length ? rows : undefined;
      }, "the warning e-mail");
      assert.equal(mail.length, 1);
      assert.match(mail[0]!.subject, /failing/);

      // A timeout is one more error.
      answer({ error: "TIMEOUT" });
      await probeAt(ws.id, wh.id, 5);
      await failures(ws.id, wh.id, 6);
      assert.equal(calls().length, 8);

      // Back for good: the probe succeeds, and what waited follows.
      answer({ status: 200 });
      await probeAt(ws.id, wh.id, 6);
      await waitFor(() => h.deliverer.accepted.size === texts.size, "every message delivered");
      await sleep(200);

      // Exactly once, nothing lost, nothing extra: one request per message once it is back.
      const accepted = h.deliverer.acceptedOf(ws.id);
      assert.equal(accepted.length, 7);
      assert.deepEqual(new Set(accepted.map((c) => c.messageId)), new Set(texts.keys()));
      for (const c of accepted) assert.equal(c.text, texts.get(c.messageId));
      assert.equal(calls().length, 8 + 7, "one request per message once the receiver is back");
      // Per-chat order as ingested, by first arrival.
      const byChat = new Map<string, string[]>();
      for (const c of accepted) byChat.set(c.chat, [...(byChat.get(c.chat) ?? []), c.text]);
      assert.deepEqual(
        [...byChat.values()].sort((a, b) => a[0]!.localeCompare(b[0]!)),
        [
          ["c1-1", "c1-2", "c1-3"],
          ["c2-1", "c2-2"],
          ["c3-1", "c3-2"],
        ],
      );

      const row = await h.stored(ws.id, wh.id);
      assert.equal(row.enabled, 1);
      assert.equal(row.consecutive_failures, 0);
      assert.equal(row.disabled_reason, null);
      assert.deepEqual(h.events.disabled, []);

      // Every attempt is a log entry, under the number the receiver saw it: 3 + 2 refused, 2 × 500, 1 timeout, 7 delivered.
      const log = (await h.webhooks.logOf(ws.id, wh.id)).reverse();
      const codes = log.map((e) => e.error?.code ?? `HTTP ${e.response?.status}`);
      assert.deepEqual(codes, [
        ...Array(5).fill("CONNECTION_REFUSED"),
        "HTTP_ERROR",
        "HTTP_ERROR",
        "TIMEOUT",
        ...Array(7).fill("HTTP 200"),
      ]);
      const numbered = (rows: [string, number][]) => rows.map((r) => r.join(" #")).sort();
      assert.deepEqual(
        numbered(log.map((e) => [e.delivery_id, e.attempt])),
        numbered(calls().map((c) => [c.id, c.attempt])),
      );
      assert.deepEqual(
        log.filter((e) => e.delivery_id === calls()[3]!.id).map((e) => e.attempt),
        [1, 2, 3, 4, 5, 6, 7],
      );
      assert.deepEqual(h.errors, []);
    });

    it(`more than ${MAX_CONSECUTIVE_FAILURES} consecutive errors disable the webhook: nothing more is sent`, async () => {
      const ws = await h.workspace("Gone for good");
      const wh = await h.webhook(ws.id);
      const calls = () => h.deliverer.callsOf(ws.id);
      h.deliverer.answer = () => ({ status: 503 });
      await h.ingest(ws, [
        [1, "first"],
        [2, "second"],
      ]);
      await failures(ws.id, wh.id, 1);
      for (let n = 1; n < MAX_CONSECUTIVE_FAILURES; n++) {
        await probeAt(ws.id, wh.id, n);
        await failures(ws.id, wh.id, n + 1);
      }
      assert.equal((await h.stored(ws.id, wh.id)).enabled, 1, `enabled at ${MAX_CONSECUTIVE_FAILURES} errors`);
      await probeAt(ws.id, wh.id, MAX_CONSECUTIVE_FAILURES);
      const row = await waitFor(async () => {
        const r = await h.stored(ws.id, wh.id);
        return r.enabled === 0 ? r : undefined;
      }, "the disable");
      assert.equal(row.disabled_reason, "consecutive_failures");
      assert.equal(row.consecutive_failures, MAX_CONSECUTIVE_FAILURES + 1);
      assert.deepEqual(
        h.events.disabled.filter((d) => d.webhookId === wh.id),
        [{ webhookId: wh.id, reason: "consecutive_failures" }],
      );
      assert.deepEqual(
        h.events.warnings.filter((w) => w.webhookId === wh.id),
        [{ webhookId: wh.id, failures: WARNING_AT }],
      );
      // Two first attempts together (one error), then one probe per error after the first.
      assert.equal(calls().length, 2 + MAX_CONSECUTIVE_FAILURES);

      // Disabled: neither time nor new messages send anything.
      const sent = calls().length;
      h.advance(pastBackoff(MAX_CONSECUTIVE_FAILURES) * 3);
      await h.ingest(ws, [[3, "third"]]);
      await sleep(300);
      assert.equal(calls().length, sent);
      assert.equal(h.manager.consumer(wh.id)?.active ?? false, false);
      const activity = await h.webhooks.activityOf(ws.id, wh.id);
      assert.match(activity[0]!.summary, /Disabled after 11 consecutive errors/);
      assert.deepEqual(h.errors, []);
    });
  });
