// A replay asked through one process while another process is delivering the webhook.
// The owner's late cursor writes must not land over the replay's cursor (the replay would
// then skip what was delivered just before it).
import assert from "node:assert/strict";
import { it } from "node:test";
import { waitFor } from "../helpers/server.js";
import { entry, ingest } from "../helpers/workspace.js";
import { twoProcesses } from "../helpers/postgres.js";

const f = twoProcesses();

it("a replay through another process re-sends everything since, even what the owner was acknowledging meanwhile", async () => {
  const { a, b, receiver, s } = f;
  receiver.respond = () => ({ status: 200, body: "ok", delayMs: 60 });
  const since = new Date(Date.now() - 1000).toISOString();
  const batch = Array.from({ length: 30 }, (_, i) => entry(s, { text: `one chat ${i}` }));
  const ids = (await ingest(a, s.key, batch)).results.map((r) => r.message_id);
  await waitFor(() => receiver.requests.length >= 3, "the first deliveries");

  const replay = await b.api("POST", `/api/v1/webhooks/${s.webhook!.id}/replay`, { token: s.key, body: { since } });
  assert.equal(replay.status, 200, replay.text);

  const replayed = () => new Set(receiver.requests.filter((r) => String(r.headers["webhook-id"]).endsWith("_r1")).map((r) => r.json.message.message_id as string));
  await waitFor(() => ids.every((id) => replayed().has(id)), "every message replayed", 12_000).catch(() => undefined);
  const missing = ids.filter((id) => !replayed().has(id));
  assert.deepEqual(missing.map((id) => ids.indexOf(id)), [], "messages stored since `since` were not replayed");
});
