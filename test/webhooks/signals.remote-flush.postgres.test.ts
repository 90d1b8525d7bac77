// Several processes on one PostgreSQL database: a flush, an aggregation change and a
// disable made through a process that does not hold the webhook's lease reach the owner
// (over NOTIFY) and send the open window first, exactly as on one process; a filter
// change restarts the owner's consumer before it is answered.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitFor } from "../helpers/server.js";
import { entry, ingest } from "../helpers/workspace.js";
import { twoProcesses } from "../helpers/postgres.js";

describe("flush and settings changes through a process that does not hold the lease", () => {
  const f = twoProcesses();

  const bundlesWith = (text: string) =>
    f.receiver.requests.filter((r) => r.json?.messages?.some((m: { text: string }) => m.text === text));

  it("POST /flush through B sends the window open in A, and answers its count", { timeout: 60_000 }, async () => {
    const { a, b, s } = f;
    const id = s.webhook!.id;
    // Aggregated through A (the lease holder): the window is open for up to an hour.
    const p = await a.api("PATCH", `/api/v1/webhooks/${id}`, { token: s.key, body: { aggregation: "1h" } });
    assert.equal(p.status, 200, p.text);
    await ingest(b, s.key, [
      entry(s, { contact: "972540000101", text: "flush-1" }),
      entry(s, { contact: "972540000102", text: "flush-2" }),
    ]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(bundlesWith("flush-1").length, 0, "nothing goes out before the window closes");

    const r = await b.api("POST", `/api/v1/webhooks/${id}/flush`, { token: s.key });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { flushed: 2 });
    // Answered once the bundles were acknowledged by the receiver.
    assert.equal(bundlesWith("flush-1").length, 1);
    assert.equal(bundlesWith("flush-2").length, 1);
    assert.match(bundlesWith("flush-1")[0]!.json.aggregation, /flush-1/, "a bundle");
  });

  it(
    "an aggregation change through B sends the open window under the old setting first",
    { timeout: 60_000 },
    async () => {
      const { a, b, s } = f;
      const id = s.webhook!.id;
      await ingest(a, s.key, [entry(s, { contact: "972540000103", text: "open-when-changed" })]);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(bundlesWith("open-when-changed").length, 0);

      const p = await b.api("PATCH", `/api/v1/webhooks/${id}`, { token: s.key, body: { aggregation: "none" } });
      assert.equal(p.status, 200, p.text);
      assert.equal(p.json.aggregation, "none");
      // Already sent, as a bundle, when the change was answered.
      const sent = bundlesWith("open-when-changed");
      assert.equal(sent.length, 1);
      assert.match(sent[0]!.json.aggregation, /open-when-changed/, "a bundle");

      // What comes after the change is delivered one message at a time, wherever it runs now.
      const after = await ingest(b, s.key, [entry(s, { contact: "972540000103", text: "after-change" })]);
      const got = await waitFor(
        () => f.receiver.requests.find((r) => r.json?.message?.message_id === after.results[0]!.message_id),
        "the unaggregated delivery",
        15_000,
      );
      assert.equal(got.json.message.text, "after-change");
      // The bundled message was not sent again on its own.
      assert.equal(f.receiver.requests.filter((r) => r.json?.message?.text === "open-when-changed").length, 0);
    },
  );

  it("a filter change through B reaches the consumer in A before B answers", { timeout: 60_000 }, async () => {
    const { b, s } = f;
    const id = s.webhook!.id;
    const p = await b.api("PATCH", `/api/v1/webhooks/${id}`, { token: s.key, body: { filter: { direction: "sent" } } });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.json.filter, { direction: "sent", accounts: null, chats: "both", responsible: null });
    // At once: A's own sync (within a second) would be too late for these.
    await ingest(b, s.key, [
      entry(s, { contact: "972540000104", text: "filtered-out" }),
      entry(s, { contact: "972540000104", text: "filtered-in", direction: "sent" }),
    ]);
    await waitFor(
      () => f.receiver.requests.find((r) => r.json?.message?.text === "filtered-in"),
      "the sent message",
      15_000,
    );
    const [head] = await b.sql<{ seq: number }>("select max(seq) as seq from messages");
    await waitFor(
      async () => {
        const [w] = await b.sql<{ cursor_seq: number }>("select cursor_seq from webhooks where id = ?", [id]);
        return Number(w!.cursor_seq) >= Number(head!.seq) || undefined;
      },
      "the cursor past both",
      15_000,
    );
    assert.equal(f.receiver.requests.filter((r) => r.json?.message?.text === "filtered-out").length, 0);
  });
});
