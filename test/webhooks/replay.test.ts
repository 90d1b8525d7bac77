// Replay from a time (issue 25): a range of the log delivered again under the webhook-ids of
// its first deliveries, followed and cancelled, outside the cursor and the failure count.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ReceivedRequest, Receiver } from "../helpers/receiver.js";
import { DATABASES, sleep, TestServer, waitFor } from "../helpers/server.js";
import { replays } from "../helpers/replay.js";
import { createWebhook, entry, getWebhook, ingest, space, texts } from "../helpers/workspace.js";

const textsByChat = (rs: Iterable<ReceivedRequest>) => {
  const m = new Map<string, string[]>();
  for (const r of rs) m.set(r.chat, [...(m.get(r.chat) ?? []), r.text]);
  return [...m.values()].sort((a, b) => a[0]!.localeCompare(b[0]!));
};

for (const database of DATABASES)
  describe(`replay from a time (${database})`, () => {
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

    const { replay, ended, mark } = replays(() => server);

    it("a receiver that lost data gets exactly the range again, under the first webhook-ids, in order per chat", async () => {
      receiver.reset();
      const s = await space(server);
      const wh = await createWebhook(server, s.key, receiver.url);
      await ingest(
        server,
        s,
        texts(s, [
          [1, "before"],
          [2, "before-too"],
        ]),
      );
      await waitFor(() => receiver.accepted.size === 2, "the first two");
      const since = await mark();
      await ingest(
        server,
        s,
        texts(s, [
          [1, "p1"],
          [2, "q1"],
          [1, "p2"],
          [2, "q2"],
          [1, "p3"],
        ]),
      );
      await waitFor(() => receiver.accepted.size === 7, "the range");
      const until = await mark();
      await ingest(
        server,
        s,
        texts(s, [
          [1, "after"],
          [2, "after-too"],
        ]),
      );
      await waitFor(() => receiver.accepted.size === 9, "all nine");
      const firstId = new Map([...receiver.accepted.values()].map((r) => [r.messageId, r.id]));
      await getWebhook(server, s.key, wh.id); // writes out what the consumer buffered
      const cursor = await server.sql<{ cursor_seq: number }>("select cursor_seq from webhooks where id = ?", [wh.id]);

      // The receiver loses everything.
      receiver.reset();
      const count = await server.api(
        "GET",
        `/api/v1/webhooks/${wh.id}/replay/count?since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}`,
        { token: s.key },
      );
      assert.equal(count.status, 200, count.text);
      assert.equal(count.json.messages, 5);

      const r = await replay(s, wh.id, { since, until });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.json.messages, 5);
      assert.match(r.json.replay_id, /^rpl_/);
      const done = await ended(s, wh.id);
      assert.deepEqual(
        { ...done, since: Date.parse(done.since), until: Date.parse(done.until) },
        {
          ...done,
          replay_id: r.json.replay_id,
          state: "done",
          since: Date.parse(since),
          until: Date.parse(until),
          total: 5,
          delivered: 5,
          failed: 0,
        },
      );
      await sleep(300);
      assert.equal(receiver.requests.length, 5, "the range once, nothing else");
      assert.deepEqual(textsByChat(receiver.requests), [
        ["p1", "p2", "p3"],
        ["q1", "q2"],
      ]);
      for (const x of receiver.requests)
        assert.equal(x.id, firstId.get(x.messageId), `${x.text}: the webhook-id of its first delivery`);
      // The live cursor did not move back; the consumer sends nothing again.
      assert.deepEqual(await server.sql("select cursor_seq from webhooks where id = ?", [wh.id]), cursor);

      // `until` defaults to now: from `since` on, the later messages too.
      receiver.reset();
      const all = await replay(s, wh.id, { since });
      assert.equal(all.status, 202, all.text);
      assert.equal(all.json.messages, 7);
      assert.equal((await ended(s, wh.id)).delivered, 7);
      assert.deepEqual(textsByChat(receiver.requests), [
        ["p1", "p2", "p3", "after"],
        ["q1", "q2", "after-too"],
      ]);
      for (const x of receiver.requests) assert.equal(x.id, firstId.get(x.messageId));

      const activity = await server.api("GET", `/api/v1/webhooks/${wh.id}/activity`, { token: s.key });
      const summaries = (activity.json.items as { kind: string; summary: string }[])
        .filter((a) => a.kind === "replay")
        .map((a) => a.summary);
      assert.ok(
        summaries.some((x) => /^Replay of 5 messages since .* started\.$/.test(x)),
        summaries.join("\n"),
      );
      assert.ok(
        summaries.some((x) => /^Replay of 5 messages since .* finished: 5 delivered\.$/.test(x)),
        summaries.join("\n"),
      );
      const auditLog = await server.api("GET", "/api/v1/audit", { token: s.key });
      assert.equal(auditLog.status, 200, auditLog.text);
      assert.ok(JSON.stringify(auditLog.json).includes("webhook.replay_started"));
    });

    it("only what the webhook's filter lets through is sent again", async () => {
      receiver.reset();
      const s = await space(server);
      const wh = await createWebhook(server, s.key, receiver.url, { filter: { direction: "received" } });
      const since = await mark();
      const now = Math.floor(Date.now() / 1000);
      await ingest(server, s, [
        entry(s, { text: "in 1", timestamp: now }),
        entry(s, { text: "out", direction: "sent", timestamp: now }),
        entry(s, { text: "in 2", timestamp: now }),
      ]);
      await waitFor(() => receiver.accepted.size === 2, "the received ones");
      const firstId = new Map([...receiver.accepted.values()].map((r) => [r.messageId, r.id]));
      receiver.reset();
      const r = await replay(s, wh.id, { since });
      assert.equal(r.json.messages, 2);
      await ended(s, wh.id);
      await sleep(200);
      assert.deepEqual(
        receiver.requests.map((x) => x.text),
        ["in 1", "in 2"],
      );
      for (const x of receiver.requests) assert.equal(x.id, firstId.get(x.messageId));
    });

    it("an aggregated webhook re-sends the windows overlapping the range, each bundle under its first id", async () => {
      receiver.reset();
      const s = await space(server, { receiver, aggregation: "1h" });
      const id = s.webhook.id;
      const flush = async () =>
        assert.equal((await server.api("POST", `/api/v1/webhooks/${id}/flush`, { token: s.key })).status, 200);
      const early = await mark();
      await ingest(
        server,
        s,
        texts(s, [
          [1, "w1 a"],
          [2, "w1 b"],
          [1, "w1 c"],
        ]),
      );
      await flush();
      await waitFor(() => receiver.accepted.size === 2, "the first window's two bundles");
      await server.advance(2 * 3600_000);
      const since = await mark();
      await ingest(
        server,
        s,
        texts(s, [
          [1, "w2 a"],
          [1, "w2 b"],
        ]),
      );
      await flush();
      await waitFor(() => receiver.accepted.size === 3, "the second window's bundle");
      const first = new Map([...receiver.accepted.values()].map((r) => [r.text, r.id]));
      assert.ok([...first.values()].every((x) => x.startsWith("bnd_")));

      receiver.reset();
      const r = await replay(s, id, { since });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.json.messages, 2);
      assert.equal((await ended(s, id)).delivered, 2);
      await sleep(200);
      assert.deepEqual(
        receiver.requests.map((x) => [x.text, x.id]),
        [["w2 a|w2 b", first.get("w2 a|w2 b")]],
      );

      receiver.reset();
      const both = await replay(s, id, { since: early });
      assert.equal(both.json.messages, 5);
      assert.equal((await ended(s, id)).delivered, 5);
      await sleep(200);
      assert.deepEqual(new Map(receiver.requests.map((x) => [x.text, x.id])), first);
      // Window by window: the first window's bundles went out before the second's.
      assert.equal(receiver.requests.at(-1)!.text, "w2 a|w2 b");
    });
  });
