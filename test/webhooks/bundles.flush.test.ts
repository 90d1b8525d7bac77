import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { advanceTo, HOUR, MINUTE, nextBoundary, serverNow } from "../helpers/clock.js";
import { assertSigned, validateBundle } from "../helpers/contract.js";
import { received, Receiver, waitForCount } from "../helpers/receiver.js";
import { DATABASES, sleep, TestServer } from "../helpers/server.js";
import { entry, ingest, space } from "../helpers/workspace.js";

for (const database of DATABASES)
  describe(`open bundles go out once: flush, aggregation change, disable (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    before(async () => {
      [server, receiver] = await Promise.all([TestServer.start({ database }), Receiver.start()]);
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    it("POST /flush sends the open bundles now ({flushed: n}) and not again when the window closes", async () => {
      const B = nextBoundary(await serverNow(server), 1);
      await advanceTo(server, B + 5 * MINUTE);
      const s = await space(server, { webhookUrl: `${receiver.url}?t=flush`, aggregation: "1h" });
      await ingest(server, s, [
        entry(s, { contact: "972541000001", text: "a1" }),
        entry(s, { contact: "972541000001", text: "a2", timestamp: "2021-02-24T16:26:00Z" }),
        entry(s, { contact: "972541000002", text: "b1" }),
      ]);
      const f = await server.api("POST", `/api/v1/webhooks/${s.webhook.id}/flush`, { token: s.key });
      assert.equal(f.status, 200, f.text);
      assert.deepEqual(f.json, { flushed: 2 });
      const sent = received(receiver, "t=flush");
      assert.equal(sent.length, 2, "the bundles were delivered before the answer");
      for (const r of sent) {
        validateBundle(r.json);
        assertSigned(r, s.webhook.secret);
        assert.equal(r.json.chat.is_new_chat, true);
      }
      assert.deepEqual(sent.map((r) => r.json.messages.length).sort(), [1, 2]);

      // The rest of the window: one more message in chat A, sent alone at the close.
      await ingest(server, s, [entry(s, { contact: "972541000001", text: "a3", timestamp: "2021-02-24T16:40:00Z" })]);
      await advanceTo(server, B + HOUR + 1000);
      const all = await waitForCount(receiver, "t=flush", 3, "the rest of the window");
      await sleep(1200);
      assert.equal(received(receiver, "t=flush").length, 3, "flushed bundles are not sent again at the close");
      const rest = all[2]!.json;
      assert.deepEqual(
        rest.messages.map((m: { text: string }) => m.text),
        ["a3"],
      );
      assert.equal(rest.chat.is_new_chat, false, "the chat was new in the flushed part, not in this one");
      assert.equal(new Set(all.map((r) => r.headers["webhook-id"])).size, 3);

      const again = await server.api("POST", `/api/v1/webhooks/${s.webhook.id}/flush`, { token: s.key });
      assert.deepEqual(again.json, { flushed: 0 }, "nothing is open");
      const none = await server.api("POST", `/api/v1/webhooks/${s.webhook.id}/flush`, { token: "tlk_nope" });
      assert.equal(none.status, 401);
    });

    it("changing the aggregation first sends the open bundles under the old setting, once", async () => {
      const B = nextBoundary(await serverNow(server), 6);
      await advanceTo(server, B + 5 * MINUTE);
      const s = await space(server, { webhookUrl: `${receiver.url}?t=agg`, aggregation: "1h" });
      await ingest(server, s, [
        entry(s, { contact: "972542000001", text: "before the change" }),
        entry(s, { contact: "972542000001", text: "also before", timestamp: "2021-02-24T16:27:00Z" }),
      ]);
      const p = await server.api("PATCH", `/api/v1/webhooks/${s.webhook.id}`, {
        token: s.key,
        body: { aggregation: "6h" },
      });
      assert.equal(p.status, 200, p.text);
      assert.equal(p.json.aggregation, "6h");
      const [old] = received(receiver, "t=agg");
      assert.ok(old, "the open bundle went out before the change");
      validateBundle(old.json);
      assert.deepEqual(
        old.json.messages.map((m: { text: string }) => m.text),
        ["before the change", "also before"],
      );

      await ingest(server, s, [entry(s, { contact: "972542000001", text: "after the change" })]);
      await advanceTo(server, B + HOUR + 1000);
      await sleep(1200);
      assert.equal(received(receiver, "t=agg").length, 1, "no 1h bundle any more, and the flushed one is not repeated");
      await advanceTo(server, B + 6 * HOUR + 1000);
      const all = await waitForCount(receiver, "t=agg", 2, "the 6h bundle");
      await sleep(500);
      assert.equal(received(receiver, "t=agg").length, 2);
      validateBundle(all[1]!.json);
      assert.deepEqual(
        all[1]!.json.messages.map((m: { text: string }) => m.text),
        ["after the change"],
      );
    });

    it("disabling first sends the open bundles, once", async () => {
      const B = nextBoundary(await serverNow(server), 1);
      await advanceTo(server, B + 5 * MINUTE);
      const s = await space(server, { webhookUrl: `${receiver.url}?t=off`, aggregation: "1h" });
      await ingest(server, s, [
        entry(s, { contact: "972543000001", text: "sent on disable" }),
        entry(s, { contact: "972543000002", text: "this one too" }),
      ]);
      const p = await server.api("PATCH", `/api/v1/webhooks/${s.webhook.id}`, {
        token: s.key,
        body: { enabled: false },
      });
      assert.equal(p.status, 200, p.text);
      assert.equal(p.json.enabled, false);
      assert.equal(p.json.disabled_reason, "manual");
      const sent = received(receiver, "t=off");
      assert.equal(sent.length, 2);
      for (const r of sent) validateBundle(r.json);
      await advanceTo(server, B + HOUR + 1000);
      await sleep(1200);
      assert.equal(received(receiver, "t=off").length, 2, "nothing more after the window ends");
    });
  });
