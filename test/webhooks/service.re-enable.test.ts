import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ReceivedRequest, Receiver } from "../helpers/receiver.js";
import { DATABASES, sleep, TestServer, waitFor } from "../helpers/server.js";
import { createWebhook, getWebhook, idsOf, ingest, space, texts } from "../helpers/workspace.js";

const textsByChat = (rs: Iterable<ReceivedRequest>) => {
  const m = new Map<string, string[]>();
  for (const r of rs) m.set(r.chat, [...(m.get(r.chat) ?? []), r.text]);
  return [...m.values()].sort((a, b) => a[0]!.localeCompare(b[0]!));
};

for (const database of DATABASES)
  describe(`re-enabling after a disable (${database})`, () => {
    let receiver: Receiver;
    let server: TestServer;

    before(async () => {
      receiver = await Receiver.start();
      server = await TestServer.start({ database });
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    const patch = async (key: string, id: string, body: object) => {
      const r = await server.api("PATCH", `/api/v1/webhooks/${id}`, { token: key, body });
      assert.equal(r.status, 200, r.text);
      return r.json as { enabled: boolean; disabled_reason: string | null; consecutive_failures: number };
    };
    const disabledByReceiver = async (key: string, id: string) =>
      waitFor(async () => {
        const v = await getWebhook(server, key, id);
        return v.enabled ? undefined : v;
      }, "the webhook to disable itself");

    it("after an automatic disable, re-enabling delivers the backlog and what arrived while disabled, in order", async () => {
      const s = await space(server);
      const wh = await createWebhook(server, s.key, receiver.url);
      receiver.answer({ status: 410 });
      idsOf(
        await ingest(
          server,
          s,
          texts(s, [
            [1, "a1"],
            [2, "b1"],
          ]),
        ),
      );
      const off = await disabledByReceiver(s.key, wh.id);
      // 410 Gone: an automatic disable with its own reason; re-enabling still delivers the backlog.
      assert.equal(off.disabled_reason, "gone");
      const tried = receiver.requests.length;
      assert.ok(tried >= 1 && tried <= 2, `heads tried: ${tried}`);

      idsOf(
        await ingest(
          server,
          s,
          texts(s, [
            [1, "a2"],
            [2, "b2"],
            [1, "a3"],
          ]),
        ),
      );
      await server.advance(2 * 3600_000);
      await sleep(1200);
      assert.equal(receiver.requests.length, tried, "a disabled webhook sends nothing");

      receiver.answer({ status: 200 });
      const on = await patch(s.key, wh.id, { enabled: true });
      assert.equal(on.enabled, true);
      assert.equal(on.consecutive_failures, 0);
      assert.equal(on.disabled_reason, null);
      await waitFor(() => receiver.accepted.size === 5, "the backlog");
      assert.deepEqual(textsByChat(receiver.accepted.values()), [
        ["a1", "a2", "a3"],
        ["b1", "b2"],
      ]);
      receiver.reset();
    });

    it('"replay": "none" skips what arrived while disabled; the default after a manual disable is the same', async () => {
      const s = await space(server);
      const wh = await createWebhook(server, s.key, receiver.url);

      // Automatic disable, then an explicit "none": the cursor moves to now.
      receiver.answer({ status: 410 });
      idsOf(await ingest(server, s, texts(s, [[1, "x1"]])));
      await disabledByReceiver(s.key, wh.id);
      idsOf(await ingest(server, s, texts(s, [[1, "x2"]])));
      receiver.answer({ status: 200 });
      await patch(s.key, wh.id, { enabled: true, replay: "none" });
      idsOf(await ingest(server, s, texts(s, [[1, "x3"]])));
      await waitFor(() => receiver.accepted.size === 1, "x3");
      await sleep(500);
      assert.deepEqual(
        [...receiver.accepted.values()].map((r) => r.text),
        ["x3"],
      );

      // Manual disable: the default on re-enable is "none".
      const manual = await patch(s.key, wh.id, { enabled: false });
      assert.equal(manual.disabled_reason, "manual");
      idsOf(await ingest(server, s, texts(s, [[2, "y1"]])));
      await sleep(300);
      await patch(s.key, wh.id, { enabled: true });
      idsOf(await ingest(server, s, texts(s, [[2, "y2"]])));
      await waitFor(() => receiver.accepted.size === 2, "y2");
      await sleep(500);
      assert.deepEqual(
        [...receiver.accepted.values()].map((r) => r.text),
        ["x3", "y2"],
      );

      // ... unless "since_disabled" is asked for.
      await patch(s.key, wh.id, { enabled: false });
      idsOf(
        await ingest(
          server,
          s,
          texts(s, [
            [3, "z1"],
            [3, "z2"],
          ]),
        ),
      );
      await patch(s.key, wh.id, { enabled: true, replay: "since_disabled" });
      await waitFor(() => receiver.accepted.size === 4, "z1, z2");
      assert.deepEqual(
        [...receiver.accepted.values()].map((r) => r.text),
        ["x3", "y2", "z1", "z2"],
      );
      receiver.reset();
    });
  });
