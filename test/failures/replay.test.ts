import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestServer, waitFor } from "../helpers/server.js";
import { createWebhook, FlakyReceiver, getWebhook, ingest, setup, sleep, type Received } from "./helpers.js";

const textsByChat = (rs: Iterable<Received>) => {
  const m = new Map<string, string[]>();
  for (const r of rs) m.set(r.chat, [...(m.get(r.chat) ?? []), r.text]);
  return [...m.values()].sort((a, b) => a[0]!.localeCompare(b[0]!));
};

describe("re-enabling and replay", () => {
  let receiver: FlakyReceiver;
  let server: TestServer;

  before(async () => {
    receiver = await FlakyReceiver.start();
    server = await TestServer.start();
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
    const s = await setup(server);
    const wh = await createWebhook(server, s.key, receiver.url);
    receiver.mode = { status: 410 };
    await ingest(server, s, [
      [1, "a1"],
      [2, "b1"],
    ]);
    const off = await disabledByReceiver(s.key, wh.id);
    // 410 Gone: an automatic disable with its own reason; re-enabling still delivers the backlog.
    assert.equal(off.disabled_reason, "gone");
    const tried = receiver.seen.length;
    assert.ok(tried >= 1 && tried <= 2, `heads tried: ${tried}`);

    await ingest(server, s, [
      [1, "a2"],
      [2, "b2"],
      [1, "a3"],
    ]);
    await server.advance(2 * 3600_000);
    await sleep(1200);
    assert.equal(receiver.seen.length, tried, "a disabled webhook sends nothing");

    receiver.mode = "ok";
    const on = await patch(s.key, wh.id, { enabled: true });
    assert.equal(on.enabled, true);
    assert.equal(on.consecutive_failures, 0);
    assert.equal(on.disabled_reason, null);
    await waitFor(() => receiver.unique.size === 5, "the backlog");
    assert.deepEqual(textsByChat(receiver.unique.values()), [
      ["a1", "a2", "a3"],
      ["b1", "b2"],
    ]);
    receiver.unique.clear();
    receiver.seen.length = 0;
  });

  it('"replay": "none" skips what arrived while disabled; the default after a manual disable is the same', async () => {
    const s = await setup(server);
    const wh = await createWebhook(server, s.key, receiver.url);

    // Automatic disable, then an explicit "none": the cursor moves to now.
    receiver.mode = { status: 410 };
    await ingest(server, s, [[1, "x1"]]);
    await disabledByReceiver(s.key, wh.id);
    await ingest(server, s, [[1, "x2"]]);
    receiver.mode = "ok";
    await patch(s.key, wh.id, { enabled: true, replay: "none" });
    await ingest(server, s, [[1, "x3"]]);
    await waitFor(() => receiver.unique.size === 1, "x3");
    await sleep(500);
    assert.deepEqual([...receiver.unique.values()].map((r) => r.text), ["x3"]);

    // Manual disable: the default on re-enable is "none".
    const manual = await patch(s.key, wh.id, { enabled: false });
    assert.equal(manual.disabled_reason, "manual");
    await ingest(server, s, [[2, "y1"]]);
    await sleep(300);
    await patch(s.key, wh.id, { enabled: true });
    await ingest(server, s, [[2, "y2"]]);
    await waitFor(() => receiver.unique.size === 2, "y2");
    await sleep(500);
    assert.deepEqual([...receiver.unique.values()].map((r) => r.text), ["x3", "y2"]);

    // ... unless "since_disabled" is asked for.
    await patch(s.key, wh.id, { enabled: false });
    await ingest(server, s, [
      [3, "z1"],
      [3, "z2"],
    ]);
    await patch(s.key, wh.id, { enabled: true, replay: "since_disabled" });
    await waitFor(() => receiver.unique.size === 4, "z1, z2");
    assert.deepEqual([...receiver.unique.values()].map((r) => r.text), ["x3", "y2", "z1", "z2"]);
    receiver.unique.clear();
    receiver.seen.length = 0;
  });

  it("POST /replay {since} re-sends what was stored since then, in order, with new webhook-ids", async () => {
    const s = await setup(server);
    const wh = await createWebhook(server, s.key, receiver.url);
    receiver.mode = "ok";
    await ingest(server, s, [
      [1, "before"],
      [2, "before-too"],
    ]);
    await waitFor(() => receiver.unique.size === 2, "the first two");
    await server.advance(60_000);
    const since = await server.advance(0);
    await server.advance(1000);
    await ingest(server, s, [
      [1, "p1"],
      [2, "q1"],
      [1, "p2"],
      [2, "q2"],
      [1, "p3"],
    ]);
    await waitFor(() => receiver.unique.size === 7, "all seven");
    const firstIds = new Set(receiver.unique.keys());
    const firstBy = new Map([...receiver.unique.values()].map((r) => [r.messageId, r.id]));

    const r = await server.api("POST", `/api/v1/webhooks/${wh.id}/replay`, { token: s.key, body: { since } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.replaying_since, new Date(since).toISOString());
    await waitFor(() => receiver.unique.size === 12, "the replay");
    await sleep(500);
    const replayed = [...receiver.unique.values()].slice(7);
    assert.equal(receiver.unique.size, 12, "only what was stored since `since`, once each");
    assert.deepEqual(textsByChat(replayed), [
      ["p1", "p2", "p3"],
      ["q1", "q2"],
    ]);
    for (const x of replayed) {
      assert.ok(!firstIds.has(x.id), "a replay is a new delivery: new webhook-id");
      assert.ok(firstBy.has(x.messageId), "of a message delivered before");
    }

    const bad = await server.api("POST", `/api/v1/webhooks/${wh.id}/replay`, { token: s.key, body: { since: "yesterday" } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, "VALIDATION_ERROR");
  });
});
