// A webhook disabled automatically in the process that consumes it, then re-enabled
// through another process while the first still holds the lease.
import assert from "node:assert/strict";
import { it } from "node:test";
import { waitFor } from "../helpers/server.js";
import { entry, ingest } from "../helpers/workspace.js";
import { twoProcesses } from "./helpers.js";

const f = twoProcesses();

it("re-enabling through another process resumes delivery in the owner", async () => {
  const { a, b, receiver, s } = f;
  receiver.respond = () => ({ status: 500, body: "down" });
  const batch = Array.from({ length: 12 }, (_, i) => entry(s, { contact: `9725420000${String(i).padStart(2, "0")}`, text: `m ${i}` }));
  const ids = (await ingest(a, s.key, batch)).results.map((r) => r.message_id);
  await waitFor(async () => {
    const r = await b.api("GET", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key });
    return r.json.enabled === false && r.json.disabled_reason === "consecutive_failures";
  }, "the automatic disable");

  receiver.respond = () => ({ status: 200, body: "ok" });
  const enabled = await b.api("PATCH", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key, body: { enabled: true } });
  assert.equal(enabled.status, 200, enabled.text);
  assert.equal(enabled.json.enabled, true);

  const acked = () => new Set(receiver.requests.slice(12).map((r) => r.json?.message?.message_id as string));
  await waitFor(() => ids.every((id) => acked().has(id)), "the backlog delivered after re-enabling");
  const viewA = await a.api("GET", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key });
  assert.equal(viewA.json.enabled, true, `process A shows ${viewA.text}`);
});
