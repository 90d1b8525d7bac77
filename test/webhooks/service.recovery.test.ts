// Bringing a failing or disabled webhook back through the webhook service, in-process
// (test/helpers/consumers.ts): re-enabling after a disable (the backlog, or what arrived while
// disabled skipped), `retry now` and a successful resend trying what waits at once, and each
// change of state one log line without the URL. The routes' answers (202, 401, 404):
// deliveries.test.ts; re-enabling through another process: service.re-enable.postgres.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ApiError } from "../../src/errors.js";
import { InProcessConsumers, type ScriptedCall } from "../helpers/consumers.js";
import { DATABASES, sleep, waitFor } from "../helpers/server.js";

const textsByChat = (calls: Iterable<ScriptedCall>) => {
  const m = new Map<string, string[]>();
  for (const c of calls) m.set(c.chat, [...(m.get(c.chat) ?? []), c.text]);
  return [...m.values()].sort((a, b) => a[0]!.localeCompare(b[0]!));
};

for (const database of DATABASES)
  describe(`bringing a webhook back (${database})`, () => {
    let h: InProcessConsumers;
    before(async () => {
      h = await InProcessConsumers.open(database);
      await h.start();
    });
    after(async () => h?.close());

    const sentTo = (workspaceId: string) => () => h.deliverer.callsOf(workspaceId);
    const acceptedOf = (workspaceId: string) => () => h.deliverer.acceptedOf(workspaceId);
    const disabledByReceiver = (ws: string, id: string) =>
      waitFor(async () => {
        const row = await h.stored(ws, id);
        return row.enabled ? undefined : row;
      }, "the webhook to disable itself");
    const failures = (ws: string, id: string, n: number) =>
      waitFor(async () => (await h.stored(ws, id)).consecutive_failures === n, `${n} consecutive failures`);

    describe("re-enabling after a disable", () => {
      it("after an automatic disable, re-enabling delivers the backlog and what arrived while disabled, in order", async () => {
        const ws = await h.workspace("Gone");
        const wh = await h.webhook(ws.id);
        const sent = sentTo(ws.id);
        const accepted = acceptedOf(ws.id);
        h.deliverer.answer = () => ({ status: 410 });
        await h.ingest(ws, [
          [1, "a1"],
          [2, "b1"],
        ]);
        const off = await disabledByReceiver(ws.id, wh.id);
        // 410 Gone: an automatic disable with its own reason; re-enabling still delivers the backlog.
        assert.equal(off.disabled_reason, "gone");
        const tried = sent().length;
        assert.ok(tried >= 1 && tried <= 2, `heads tried: ${tried}`);

        await h.ingest(ws, [
          [1, "a2"],
          [2, "b2"],
          [1, "a3"],
        ]);
        h.advance(2 * 3600_000);
        await sleep(300);
        assert.equal(sent().length, tried, "a disabled webhook sends nothing");

        h.deliverer.answer = () => ({ status: 200 });
        const on = await h.webhooks.update(ws.id, wh.id, { enabled: true });
        assert.equal(on.enabled, 1);
        assert.equal(on.consecutive_failures, 0);
        assert.equal(on.disabled_reason, null);
        await waitFor(() => accepted().length === 5, "the backlog");
        assert.deepEqual(textsByChat(accepted()), [
          ["a1", "a2", "a3"],
          ["b1", "b2"],
        ]);
        assert.deepEqual(h.errors, []);
      });

      it('"replay": "none" skips what arrived while disabled; the default after a manual disable is the same', async () => {
        const ws = await h.workspace("Skips");
        const wh = await h.webhook(ws.id);
        const accepted = acceptedOf(ws.id);
        const texts = () => accepted().map((c) => c.text);
        const exactly = async (n: number, what: string) => {
          await waitFor(() => accepted().length >= n, what);
          await sleep(200);
          return texts();
        };

        // Automatic disable, then an explicit "none": the cursor moves to now.
        h.deliverer.answer = () => ({ status: 410 });
        await h.ingest(ws, [[1, "x1"]]);
        await disabledByReceiver(ws.id, wh.id);
        await h.ingest(ws, [[1, "x2"]]);
        h.deliverer.answer = () => ({ status: 200 });
        await h.webhooks.update(ws.id, wh.id, { enabled: true, replay: "none" });
        await h.ingest(ws, [[1, "x3"]]);
        assert.deepEqual(await exactly(1, "x3"), ["x3"]);

        // Manual disable: the default on re-enable is "none".
        const manual = await h.webhooks.update(ws.id, wh.id, { enabled: false });
        assert.equal(manual.disabled_reason, "manual");
        await h.ingest(ws, [[2, "y1"]]);
        await sleep(200);
        await h.webhooks.update(ws.id, wh.id, { enabled: true });
        await h.ingest(ws, [[2, "y2"]]);
        assert.deepEqual(await exactly(2, "y2"), ["x3", "y2"]);

        // ... unless "since_disabled" is asked for.
        await h.webhooks.update(ws.id, wh.id, { enabled: false });
        await h.ingest(ws, [
          [3, "z1"],
          [3, "z2"],
        ]);
        await h.webhooks.update(ws.id, wh.id, { enabled: true, replay: "since_disabled" });
        assert.deepEqual(await exactly(4, "z1, z2"), ["x3", "y2", "z1", "z2"]);
        assert.deepEqual(h.errors, []);
      });
    });

    describe("retry now", () => {
      // A receiver's URL carries secrets: the log never shows it.
      const url = "https://receiver.example/hook?token=s3cr3t-in-url";
      /** The backoff after a second error is 30 s (±10 %): what is delivered sooner was tried at once. */
      const SOONER_THAN_THE_RETRY = 10_000;

      it("a failing webhook whose receiver is back delivers what waits at once, not at the next retry; a log line each for failing and recovered", async () => {
        const ws = await h.workspace("Retry now");
        const wh = await h.webhook(ws.id, { url });
        const accepted = acceptedOf(ws.id);
        assert.deepEqual(
          await h.webhooks.retryNow(ws.id, wh.id),
          { retrying: false },
          "nothing to retry while healthy",
        );
        h.deliverer.answer = () => ({ status: 500 });
        const ids = await h.ingest(ws, [
          [1, "one"],
          [2, "two"],
        ]);
        await failures(ws.id, wh.id, 1);
        // A second error: the next retry is now 30 s away.
        h.advance(6_000);
        await failures(ws.id, wh.id, 2);
        h.deliverer.answer = () => ({ status: 200 });
        assert.deepEqual(await h.webhooks.retryNow(ws.id, wh.id), { retrying: true });
        await waitFor(
          () => ids.every((id) => accepted().some((c) => c.messageId === id)),
          "what waited, delivered before its next retry",
          SOONER_THAN_THE_RETRY,
        );
        await failures(ws.id, wh.id, 0);
        const lines = h.logs.filter((l) => l.webhook === wh.id).map((l) => String(l.msg));
        assert.equal(lines.filter((m) => /^webhook failing: /.test(m)).length, 1, lines.join("\n"));
        assert.equal(lines.filter((m) => /^webhook recovered/.test(m)).length, 1, lines.join("\n"));
        assert.ok(
          !JSON.stringify(h.logs).includes("s3cr3t-in-url"),
          "the log never carries the webhook's URL (receivers put secrets in it)",
        );
        assert.deepEqual(h.errors, []);
      });

      it("a resend that succeeds while failing also tries what waits at once", async () => {
        const ws = await h.workspace("Resend");
        const wh = await h.webhook(ws.id);
        const accepted = acceptedOf(ws.id);
        h.deliverer.answer = () => ({ status: 503 });
        const ids = await h.ingest(ws, [
          [1, "three"],
          [3, "four"],
        ]);
        await failures(ws.id, wh.id, 1);
        h.advance(6_000);
        await failures(ws.id, wh.id, 2);
        h.deliverer.answer = () => ({ status: 200 });
        const [failed] = await h.webhooks.deliveriesOf(ws.id, wh.id, { status: "failed" });
        assert.ok(failed, "a failed delivery");
        const resent = await h.webhooks.resend(ws.id, wh.id, failed.delivery_id);
        assert.equal(resent.status, "succeeded");
        await waitFor(
          () => ids.every((id) => accepted().some((c) => c.messageId === id)),
          "what waited, delivered after the resend, before its next retry",
          SOONER_THAN_THE_RETRY,
        );
        assert.deepEqual(h.errors, []);
      });

      it("refuses what it cannot do: switched off (CONFLICT naming enabled), another workspace's webhook (NOT_FOUND)", async () => {
        const ws = await h.workspace("Refusals");
        const other = await h.workspace("Other");
        const wh = await h.webhook(ws.id);
        await assert.rejects(
          h.webhooks.retryNow(other.id, wh.id),
          (e: ApiError) => e.code === "NOT_FOUND" && e.status === 404,
        );
        await h.webhooks.update(ws.id, wh.id, { enabled: false });
        await assert.rejects(
          h.webhooks.retryNow(ws.id, wh.id),
          (e: ApiError) => e.code === "CONFLICT" && e.status === 409 && e.field === "enabled",
        );
      });
    });
  });
