// A replay survives a crash: the process that starts next resumes it from its last
// checkpoint, so every message of the range arrives (some twice, under their one id).
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { TestServer, waitFor } from "../helpers/server.js";
import { createWebhook, entry, ingest, space } from "../helpers/workspace.js";

let receiver: Receiver;
let server: TestServer;
before(async () => {
  receiver = await Receiver.start();
  server = await TestServer.start({ database: "sqlite" });
});
after(async () => {
  await server?.stop();
  await receiver?.close();
});

it("a replay killed midway (SIGKILL) is resumed after the restart and ends with every message of the range", async () => {
  const s = await space(server);
  const wh = await createWebhook(server, s.key, receiver.url);
  const since = await server.advance(1000);
  await server.advance(1000);
  const batch = Array.from({ length: 40 }, (_, i) =>
    entry(s, { text: `m ${i}`, timestamp: Math.floor(Date.now() / 1000) }),
  );
  await ingest(server, s, batch);
  await waitFor(() => receiver.accepted.size === 40, "the first deliveries");
  const firstId = new Map([...receiver.accepted.values()].map((r) => [r.messageId, r.id]));

  receiver.reset();
  receiver.respond = () => ({ status: 200, body: "ok", delayMs: 100 });
  const r = await server.api("POST", `/api/v1/webhooks/${wh.id}/replay`, { token: s.key, body: { since } });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.messages, 40);
  await waitFor(() => receiver.requests.length >= 5, "the replay under way");
  server = await server.restart();
  const atRestart = receiver.requests.length;
  assert.ok(atRestart < 40, `${atRestart} sent before the crash`);

  const done = await waitFor(async () => {
    const v = await server.api("GET", `/api/v1/webhooks/${wh.id}/replay`, { token: s.key });
    return v.json?.state === "running" ? undefined : v.json;
  }, "the resumed replay to end");
  assert.equal(done.replay_id, r.json.replay_id);
  assert.equal(done.state, "done");
  assert.equal(done.total, 40);
  assert.equal(done.delivered, 40);
  const got = new Set(receiver.requests.map((x) => x.messageId));
  assert.equal(got.size, 40, "every message of the range");
  for (const x of receiver.requests) assert.equal(x.id, firstId.get(x.messageId), "under its first webhook-id");
  // After the restart the range went out again in order (one chat).
  const resumed = receiver.requests.slice(atRestart).map((x) => x.text);
  assert.deepEqual(
    resumed,
    [...resumed].sort((x, y) => Number(x.slice(2)) - Number(y.slice(2))),
  );
});
