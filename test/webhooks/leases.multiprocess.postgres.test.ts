// Several Threadline processes on one PostgreSQL database: every process serves the API
// and ingests; each webhook is consumed by one process at a time (a lease), and another
// process takes over when its owner dies.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { createWorkspace, waitFor } from "../helpers/server.js";
import { entry, ingest } from "../helpers/workspace.js";
import { twoProcesses } from "../helpers/postgres.js";

describe("several processes on one PostgreSQL database", () => {
  // A dead process's webhooks are taken over within 8 s instead of 15; the live one still renews 5 s ahead.
  const f = twoProcesses({ env: { THREADLINE_WEBHOOK_LEASE_MS: "8000" } });

  it("sends each queued message once, whichever process queued it, with the account's pause kept across processes", async () => {
    const { a, b } = f;
    const gateway = await Receiver.start();
    try {
      // A workspace of its own (no webhook): the test below counts its receiver's requests.
      const ws = await createWorkspace(a);
      const pause = 150;
      const acc = await a.api("POST", "/api/v1/accounts", {
        token: ws.api_key,
        body: {
          phone: "+15550001101",
          owner_email: ws.owner.email,
          source: "evolution",
          source_config: { base_url: gateway.origin, api_key: "k", instance: "i" },
          send_pause_ms: pause,
        },
      });
      assert.equal(acc.status, 201, acc.text);
      let n = 0;
      gateway.respond = () => ({
        status: 200,
        body: JSON.stringify({ key: { id: `EVO${++n}`, fromMe: true } }),
        headers: { "content-type": "application/json" },
      });
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await (i % 2 === 0 ? a : b).api("POST", "/api/v1/messages/send", {
          token: ws.api_key,
          body: { phone: `+1555000${2100 + (i % 3)}`, text: `multi ${i}` },
        });
        assert.equal(r.status, 202, r.text);
        ids.push(r.json.message_id);
      }
      for (const id of ids) {
        await waitFor(
          async () =>
            (await b.api("GET", `/api/v1/messages/${id}`, { token: ws.api_key })).json.send_status === "sent"
              ? true
              : undefined,
          `message ${id} sent`,
        );
      }
      assert.deepEqual(
        gateway.requests.map((r) => r.json.text).sort(),
        ids.map((_, i) => `multi ${i}`).sort(),
        "each message sent exactly once",
      );
      const gaps = gateway.requests.slice(1).map((r, i) => r.at - gateway.requests[i]!.at);
      assert.ok(Math.min(...gaps) >= pause * 0.75 - 30, `gaps between sends: ${gaps.join(", ")} ms`);
    } finally {
      await gateway.close();
    }
  });

  it("delivers every message once whichever process ingests it, and hands a dead process's webhooks over", async () => {
    const { a, b, receiver, s } = f;
    // The workspace, account and webhook made through A are visible to B.
    const seenByB = await b.api("GET", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key });
    assert.equal(seenByB.status, 200, seenByB.text);

    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const server = i % 2 === 0 ? a : b;
      const batch = Array.from({ length: 10 }, (_, k) =>
        entry(s, { contact: `9725400${String((i * 10 + k) % 25).padStart(5, "0")}`, text: `m ${i}-${k}` }),
      );
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
      const patched = await b.api("PATCH", `/api/v1/webhooks/${s.webhook!.id}`, {
        token: s.key,
        body: { url: second.url },
      });
      assert.equal(patched.status, 200, patched.text);
      await new Promise((r) => setTimeout(r, 2_500));
      const moved = await ingest(a, s.key, [entry(s, { text: "after the URL change" })]);
      const got = await waitFor(
        () => second.requests.find((r) => r.json?.message?.message_id === moved.results[0]!.message_id),
        "delivery to the new URL",
      );
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
