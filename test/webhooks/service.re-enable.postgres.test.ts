// A webhook disabled automatically in the process that consumes it, then re-enabled
// through another process while the first still holds the lease.
import assert from "node:assert/strict";
import { it } from "node:test";
import { waitFor } from "../helpers/server.js";
import { entry, ingest } from "../helpers/workspace.js";
import { twoProcesses } from "../helpers/postgres.js";

const f = twoProcesses();

it("re-enabling through another process resumes delivery in the owner", async () => {
  const { a, b, receiver, s } = f;
  // 410 Gone: an automatic disable at once (consecutive errors are counted in time, so
  // reaching 11 takes hours of backoff; this test runs on the real clock).
  const okIds = new Set<string>();
  let status = 410;
  receiver.respond = (r) => {
    if (status === 200) okIds.add(r.json?.message?.message_id as string);
    return { status, body: status === 200 ? "ok" : "gone" };
  };
  const batch = Array.from({ length: 12 }, (_, i) =>
    entry(s, { contact: `9725420000${String(i).padStart(2, "0")}`, text: `m ${i}` }),
  );
  const ids = (await ingest(a, s.key, batch)).results.map((r) => r.message_id);
  await waitFor(async () => {
    const r = await b.api("GET", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key });
    return r.json.enabled === false && r.json.disabled_reason === "gone";
  }, "the automatic disable");

  status = 200;
  const enabled = await b.api("PATCH", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key, body: { enabled: true } });
  assert.equal(enabled.status, 200, enabled.text);
  assert.equal(enabled.json.enabled, true);

  await waitFor(() => ids.every((id) => okIds.has(id)), "the backlog delivered after re-enabling", 8_000);
  const viewA = await a.api("GET", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key });
  assert.equal(viewA.json.enabled, true, `process A shows ${viewA.text}`);
});
