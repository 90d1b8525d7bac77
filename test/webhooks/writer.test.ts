// The delivery writer in-process, without a server: it batches what follows deliveries into
// one transaction and keeps only the newest rows of the bounded logs, on both databases; a
// flush the database refuses loses nothing (with the consumers, test/helpers/consumers.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { migrate, type Storage } from "../../src/db/index.js";
import type { AttemptResult } from "../../src/webhooks/outcome.js";
import { ACTIVITY_SIZE, DeliveryWriter, REQUEST_LOG_SIZE } from "../../src/webhooks/writer.js";
import { sql } from "kysely";
import { InProcessConsumers } from "../helpers/consumers.js";
import { DATABASES, openTestStorage, waitFor } from "../helpers/server.js";

const HOUR = 3600_000;

function attempt(at: number, ok: boolean, n: number): AttemptResult {
  return {
    ok,
    at,
    durationMs: 5,
    request: {
      method: "POST",
      url: "https://receiver.example/hook",
      headers: { "webhook-id": `msg_${n}` },
      body: `{"n":${n}}`,
    },
    response: ok ? { status: 200, headers: {}, body: "ok" } : { status: 500, headers: {}, body: "down" },
    error: ok ? null : { code: "HTTP_ERROR", message: "The receiver answered 500." },
  };
}

for (const database of DATABASES)
  describe(`the delivery writer (${database})`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ storage, close: cleanup } = await openTestStorage(database));
      await migrate(storage);
    });
    after(async () => cleanup?.());

    const requestsOf = (id: string) =>
      storage.db
        .selectFrom("webhook_requests")
        .select(["delivery_id", "attempt"])
        .where("webhook_id", "=", id)
        .orderBy("id", "asc")
        .execute();
    const activityOf = (id: string) =>
      storage.db
        .selectFrom("webhook_activity")
        .select(["summary"])
        .where("webhook_id", "=", id)
        .orderBy("id", "asc")
        .execute();

    it("a burst larger than the log keeps only the newest 100 requests and 10 actions, in order, and counts every attempt by hour", async () => {
      const writer = new DeliveryWriter(storage.db);
      const t0 = Date.UTC(2026, 10, 29, 10, 30);
      for (let n = 0; n < 150; n++)
        writer.logRequest("wh_burst", `dlv_${n}`, 1, attempt(t0 + n * 60_000, n % 3 !== 0, n));
      for (let n = 0; n < 25; n++)
        writer.activity("wh_burst", { at: t0 + n, kind: "delivered", summary: `action ${n}` });
      await writer.flush();

      const requests = await requestsOf("wh_burst");
      assert.equal(requests.length, REQUEST_LOG_SIZE);
      assert.deepEqual(
        requests.map((r) => r.delivery_id),
        Array.from({ length: REQUEST_LOG_SIZE }, (_, i) => `dlv_${50 + i}`),
      );
      const actions = await activityOf("wh_burst");
      assert.deepEqual(
        actions.map((a) => a.summary),
        Array.from({ length: ACTIVITY_SIZE }, (_, i) => `action ${15 + i}`),
      );
      // 150 attempts over 150 minutes from 10:30: hours 10, 11 and 12; every one counted, kept or not.
      const hourly = await storage.db
        .selectFrom("webhook_hourly")
        .selectAll()
        .where("webhook_id", "=", "wh_burst")
        .orderBy("hour_start")
        .execute();
      assert.deepEqual(
        hourly.map((h) => [Number(h.hour_start) - Date.UTC(2026, 10, 29, 10), h.delivered + h.failed]),
        [
          [0, 30],
          [HOUR, 60],
          [2 * HOUR, 60],
        ],
      );
      assert.equal(
        hourly.reduce((sum, h) => sum + h.failed, 0),
        50,
      );
      await writer.close();
    });

    it("later flushes keep the bound: the oldest rows are deleted as new ones come", async () => {
      const writer = new DeliveryWriter(storage.db);
      const t0 = Date.UTC(2026, 10, 29, 14);
      for (let round = 0; round < 3; round++) {
        for (let n = 0; n < 40; n++)
          writer.logRequest("wh_rounds", `dlv_${round}_${n}`, 1, attempt(t0 + round * 1000 + n, true, n));
        writer.activity("wh_rounds", { at: t0 + round, kind: "updated", summary: `round ${round}` });
        await writer.flush();
      }
      const requests = await requestsOf("wh_rounds");
      assert.equal(requests.length, REQUEST_LOG_SIZE);
      assert.equal(requests[0]!.delivery_id, "dlv_0_20", "the oldest 20 of 120 are gone");
      assert.equal(requests.at(-1)!.delivery_id, "dlv_2_39");
      assert.deepEqual(
        (await activityOf("wh_rounds")).map((a) => a.summary),
        ["round 0", "round 1", "round 2"],
      );
      await writer.close();
    });

    it("an activity entry that holds its logged attempt names the request log row that attempt got", async () => {
      const writer = new DeliveryWriter(storage.db);
      const t0 = Date.UTC(2026, 10, 29, 15);
      for (let n = 0; n < 30; n++) {
        const logged = writer.logRequest("wh_linked", `dlv_${n}`, 1, attempt(t0 + n, true, n));
        writer.activity("wh_linked", {
          at: t0 + n,
          kind: "delivered",
          summary: `delivered ${n}`,
          delivery_id: `dlv_${n}`,
          request: logged,
        });
      }
      await writer.flush();
      const requests = await storage.db
        .selectFrom("webhook_requests")
        .select(["delivery_id", "request_id"])
        .where("webhook_id", "=", "wh_linked")
        .execute();
      const activity = await storage.db
        .selectFrom("webhook_activity")
        .select(["delivery_id", "request_id"])
        .where("webhook_id", "=", "wh_linked")
        .orderBy("id", "asc")
        .execute();
      assert.equal(activity.length, ACTIVITY_SIZE);
      const requestOf = new Map(requests.map((r) => [r.delivery_id, r.request_id]));
      for (const a of activity) {
        assert.match(a.request_id ?? "", /^req_[0-9a-z]{26}$/);
        assert.equal(a.request_id, requestOf.get(a.delivery_id!), `the activity of ${a.delivery_id} names its request`);
      }
      await writer.close();
    });

    it("a forgotten (deleted) webhook is never written again", async () => {
      const writer = new DeliveryWriter(storage.db);
      writer.logRequest("wh_gone", "dlv_1", 1, attempt(Date.UTC(2026, 10, 29, 16), true, 1));
      writer.forget("wh_gone");
      writer.logRequest("wh_gone", "dlv_2", 1, attempt(Date.UTC(2026, 10, 29, 16), true, 2));
      await writer.flush();
      assert.deepEqual(await requestsOf("wh_gone"), []);
      await writer.close();
    });
  });

for (const database of DATABASES)
  describe(`a flush of delivery writes the database refuses (${database})`, () => {
    let h: InProcessConsumers;
    before(async () => {
      h = await InProcessConsumers.open(database);
      await h.start();
    });
    after(async () => h?.close());

    it("attempts recorded while the database refused writes reach the request log afterwards", async () => {
      const ws = await h.workspace();
      const wh = await h.webhook(ws.id);
      h.deliverer.answer = () => ({ status: 200, delayMs: 800 });
      await h.ingest(ws, [
        [1, "m 0"],
        [2, "m 1"],
        [3, "m 2"],
      ]);
      await waitFor(() => h.deliverer.running === 3, "three deliveries in flight");

      // The database refuses the flush that follows the three answers (the table it writes the
      // hourly counts to is briefly missing); then it accepts writes again.
      await sql`ALTER TABLE webhook_hourly RENAME TO webhook_hourly_away`.execute(h.db);
      try {
        await waitFor(
          () =>
            h.writeErrors.some((e) =>
              /no such table: webhook_hourly|webhook_hourly\W{0,3} does not exist/.test(String(e)),
            ),
          "a failed flush of delivery writes",
        );
      } finally {
        await sql`ALTER TABLE webhook_hourly_away RENAME TO webhook_hourly`.execute(h.db);
      }

      const log = await h.webhooks.logOf(ws.id, wh.id);
      assert.equal(log.length, 3, "attempts made while a flush failed are missing from the log");
      assert.deepEqual(
        log.map((e) => e.response?.status),
        [200, 200, 200],
      );
      assert.equal((await h.stored(ws.id, wh.id)).consecutive_failures, 0);
      assert.deepEqual(h.errors, []);
    });
  });
