import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RETRY_SCHEDULE_MS } from "../../src/webhooks/policy.js";
import { advanceTo, HOUR, MINUTE, nextBoundary, serverNow } from "../helpers/clock.js";
import { validateBundle } from "../helpers/contract.js";
import { received, Receiver, waitForCount } from "../helpers/receiver.js";
import { DATABASES, sleep, TestServer } from "../helpers/server.js";
import { entry, ingest, space } from "../helpers/workspace.js";
import { ownerCookie } from "../helpers/people.js";

for (const database of DATABASES)
  describe(`aggregated webhooks under receiver errors (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    before(async () => {
      [server, receiver] = await Promise.all([TestServer.start({ database }), Receiver.start()]);
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    it("retries one bundle at a time at the backoff, then sends the rest; the window is acknowledged only when all succeed", async () => {
      let failing = true;
      receiver.respond = () => (failing ? { status: 500, body: "down" } : { status: 200 });
      const B = nextBoundary(await serverNow(server), 1);
      await advanceTo(server, B + 5 * MINUTE);
      const s = await space(server, { webhookUrl: `${receiver.url}?t=fail`, aggregation: "1h" });
      await ingest(server, s, [
        entry(s, { contact: "972546000001", text: "one" }),
        entry(s, { contact: "972546000002", text: "two" }),
        entry(s, { contact: "972546000003", text: "three" }),
      ]);

      await advanceTo(server, B + HOUR + 1000);
      await waitForCount(receiver, "t=fail", 3, "the first attempts");
      await sleep(800);
      assert.equal(
        received(receiver, "t=fail").length,
        3,
        "the three bundles went out together, then nothing until the backoff",
      );

      // While failing, a flush does not wait for the backoff, and sends nothing.
      const f = await server.api("POST", `/api/v1/webhooks/${s.webhook.id}/flush`, { token: s.key });
      assert.deepEqual(f.json, { flushed: 0 });

      // The backoff follows the consecutive errors so far (in-flight failures count too).
      const failures = async () =>
        (await server.api("GET", `/api/v1/webhooks/${s.webhook.id}`, { token: s.key })).json
          .consecutive_failures as number;
      const backoff = (n: number) => RETRY_SCHEDULE_MS[Math.min(n, RETRY_SCHEDULE_MS.length) - 1]! * 1.1 + 1000;
      const n0 = await failures();
      assert.ok(n0 >= 1 && n0 <= 3, `errors counted: ${n0}`);
      await server.advance(backoff(n0));
      await waitForCount(receiver, "t=fail", 4, "one probe after the backoff");
      await sleep(800);
      assert.equal(received(receiver, "t=fail").length, 4, "one attempt at a time while failing");
      assert.equal(await failures(), n0 + 1);

      failing = false;
      await server.advance(backoff(n0 + 1));
      const all = await waitForCount(receiver, "t=fail", 7, "the probe, then the other two");
      await sleep(500);
      assert.equal(received(receiver, "t=fail").length, 7);
      const ok = all.slice(4);
      for (const r of ok) validateBundle(r.json);
      assert.deepEqual(ok.map((r) => r.json.messages[0].text).sort(), ["one", "three", "two"]);
      // Each chat's retries carry its first attempt's webhook-id.
      const ids = new Map<string, Set<string>>();
      for (const r of all)
        ids.set(r.json.chat.chat_id, (ids.get(r.json.chat.chat_id) ?? new Set()).add(String(r.headers["webhook-id"])));
      assert.equal(ids.size, 3);
      for (const set of ids.values()) assert.equal(set.size, 1);
      const healed = await server.api("GET", `/api/v1/webhooks/${s.webhook.id}`, { token: s.key });
      assert.equal(healed.json.consecutive_failures, 0);

      // The cursor moved past the whole window: the next one has only what came after.
      await ingest(server, s, [entry(s, { contact: "972546000001", text: "four" })]);
      await advanceTo(server, B + 2 * HOUR + 1000);
      const next = await waitForCount(receiver, "t=fail", 8, "the next window");
      await sleep(500);
      assert.equal(received(receiver, "t=fail").length, 8);
      assert.deepEqual(
        next[7]!.json.messages.map((m: { text: string }) => m.text),
        ["four"],
      );
    });

    it("a workspace time zone change applies from the next window on", async () => {
      receiver.respond = () => ({ status: 200 });
      const B = nextBoundary(await serverNow(server), 1);
      await advanceTo(server, B + 5 * MINUTE);
      const s = await space(server, { webhookUrl: `${receiver.url}?t=tz`, aggregation: "1h" });
      await ingest(server, s, [
        entry(s, { contact: "972547000001", text: "in UTC", timestamp: "2021-02-24T16:25:29Z" }),
      ]);
      // Workspace settings are the owner's (a key acts as admin).
      const p = await server.api("PATCH", "/api/v1/workspace", {
        body: { timezone: "Asia/Kolkata" },
        headers: { cookie: await ownerCookie(server, s.workspace), origin: new URL(server.url).origin },
      });
      assert.equal(p.status, 200, p.text);
      // The open window keeps its end (a UTC hour); its digest is written in the zone of the moment.
      await advanceTo(server, B + HOUR + 1000);
      const [first] = await waitForCount(receiver, "t=tz", 1, "the window opened in UTC");
      assert.match(first!.json.aggregation, /^from Contact 972547000001 on 2021-02-24 21:55: in UTC<br\/>/);
      // The next window is a Kolkata hour: it ends at :30 UTC.
      await ingest(server, s, [
        entry(s, { contact: "972547000001", text: "in Kolkata", timestamp: "2021-02-24T16:25:29Z" }),
      ]);
      await advanceTo(server, B + HOUR + 29 * MINUTE);
      await sleep(1200);
      assert.equal(received(receiver, "t=tz").length, 1, "the Kolkata hour has not ended");
      await advanceTo(server, B + HOUR + 30 * MINUTE + 1000);
      const all = await waitForCount(receiver, "t=tz", 2, "the Kolkata-aligned window");
      assert.deepEqual(
        all[1]!.json.messages.map((m: { text: string }) => m.text),
        ["in Kolkata"],
      );
    });
  });
