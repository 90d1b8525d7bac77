// A replay asked through one process while another holds the webhook's lease: the holder
// runs it (asked over NOTIFY), under the first deliveries' webhook-ids, and a cancel made
// through the other process stops it.
import assert from "node:assert/strict";
import { it } from "node:test";
import { sleep, waitFor } from "../helpers/server.js";
import { entry, ingest } from "../helpers/workspace.js";
import { twoProcesses } from "../helpers/postgres.js";

const f = twoProcesses();

it("a replay through another process is run by the lease holder with the original webhook-ids, and stops when cancelled there", async () => {
  const { a, b, receiver, s } = f;
  const since = new Date(Date.now() - 1000).toISOString();
  const batch = Array.from({ length: 30 }, (_, i) =>
    entry(s, { text: `one chat ${i}`, timestamp: Math.floor(Date.now() / 1000) }),
  );
  const ids = (await ingest(a, s.key, batch)).results.map((r) => r.message_id);
  await waitFor(() => receiver.accepted.size === 30, "the first deliveries");
  const firstId = new Map([...receiver.accepted.values()].map((r) => [r.messageId, r.id]));
  const path = `/api/v1/webhooks/${s.webhook!.id}/replay`;

  receiver.reset();
  const r = await b.api("POST", path, { token: s.key, body: { since } });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.messages, 30);
  const done = await waitFor(
    async () => {
      const v = await b.api("GET", path, { token: s.key });
      return v.json?.state === "running" ? undefined : v.json;
    },
    "the replay to end",
    30_000,
  );
  assert.equal(done.state, "done");
  assert.equal(done.delivered, 30);
  assert.deepEqual(
    receiver.requests.map((x) => x.messageId),
    ids,
    "each once, in order",
  );
  for (const x of receiver.requests) assert.equal(x.id, firstId.get(x.messageId));

  receiver.reset();
  receiver.respond = () => ({ status: 200, body: "ok", delayMs: 250 });
  const slow = await b.api("POST", path, { token: s.key, body: { since } });
  assert.equal(slow.status, 202, slow.text);
  assert.equal(
    (await a.api("POST", path, { token: s.key, body: { since } })).status,
    409,
    "one at a time, whichever process is asked",
  );
  await waitFor(() => receiver.requests.length >= 3, "the slow replay under way");
  const cancel = await b.api("DELETE", path, { token: s.key });
  assert.equal(cancel.status, 200, cancel.text);
  const atCancel = receiver.requests.length;
  await sleep(2000);
  assert.ok(receiver.requests.length <= atCancel + 1, `${receiver.requests.length - atCancel} sent after the cancel`);
  assert.equal((await a.api("GET", path, { token: s.key })).json.state, "cancelled");
  receiver.answer({ status: 200 });
});
