// Several Threadline processes on one PostgreSQL database: every process serves the API
// and ingests; each webhook is consumed by one process at a time (a lease), and another
// process takes over when its owner dies.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { waitFor } from "../helpers/server.js";
import { entry, ingest } from "../helpers/workspace.js";
import { twoProcesses } from "./helpers.js";

describe("several processes on one PostgreSQL database", () => {
  const f = twoProcesses();

  it("delivers every message once whichever process ingests it, and hands a dead process's webhooks over", async () => {
    const { a, b, receiver, s } = f;
    // The workspace, account and webhook made through A are visible to B.
    const seenByB = await b.api("GET", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key });
    assert.equal(seenByB.status, 200, seenByB.text);

    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const server = i % 2 === 0 ? a : b;
      const batch = Array.from({ length: 10 }, (_, k) => entry(s, { contact: `9725400${String((i * 10 + k) % 25).padStart(5, "0")}`, text: `m ${i}-${k}` }));
      const r = await ingest(server, s.key, batch);
      ids.push(...r.results.map((x) => x.message_id));
    }
    await waitFor(() => receiver.unique().size >= ids.length, "all 200 messages delivered");
    // One consumer for the webhook: no message went out twice (nobody crashed).
    assert.equal(receiver.requests.length, ids.length, "a message was delivered by two processes");
    assert.deepEqual(new Set(receiver.requests.map((r) => r.json.message.message_id)), new Set(ids));

    // A setting changed through either process reaches the consumer, wherever it runs.
    const second = await Receiver.start();
    try {
      const patched = await b.api("PATCH", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key, body: { url: second.url } });
      assert.equal(patched.status, 200, patched.text);
      await new Promise((r) => setTimeout(r, 2_500));
      const moved = await ingest(a, s.key, [entry(s, { text: "after the URL change" })]);
      const got = await waitFor(() => second.requests.find((r) => r.json?.message?.message_id === moved.results[0]!.message_id), "delivery to the new URL");
      assert.equal(got.json.message.text, "after the URL change");

      // Kill one process outright: the other takes its webhooks over when the lease expires.
      await a.kill("SIGKILL");
      const late = await ingest(b, s.key, [entry(s, { text: "after a process died" })]);
      const delivered = await waitFor(
        () => second.requests.find((r) => r.json?.message?.message_id === late.results[0]!.message_id),
        "delivery after the owner died",
        40_000,
      );
      assert.equal(delivered.json.message.text, "after a process died");
    } finally {
      await second.close();
    }
  });
});
