// Replay from a time (issue 25), its control: outside the cursor and the failure count against
// a failing receiver, one at a time, cancelled midway, ended by a switch-off, bad input refused.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, sleep, TestServer, waitFor } from "../helpers/server.js";
import { replays } from "../helpers/replay.js";
import { createWebhook, entry, getWebhook, ingest, space, texts } from "../helpers/workspace.js";

for (const database of DATABASES)
  describe(`replay from a time: control (${database})`, () => {
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

    const { replay, progress, ended, mark } = replays(() => server);

    it("a replay against a failing receiver moves neither the cursor nor the failure count; its failures are its own", async () => {
      receiver.reset();
      const s = await space(server);
      const wh = await createWebhook(server, s.key, receiver.url);
      const since = await mark();
      await ingest(
        server,
        s,
        texts(s, [
          [1, "f1"],
          [2, "f2"],
        ]),
      );
      await waitFor(() => receiver.accepted.size === 2, "the first deliveries");
      await getWebhook(server, s.key, wh.id); // writes out what the consumer buffered
      const cursor = await server.sql("select cursor_seq, consecutive_failures from webhooks where id = ?", [wh.id]);
      receiver.answer({ status: 500 });
      try {
        const r = await replay(s, wh.id, { since });
        assert.equal(r.json.messages, 2);
        const v = await ended(s, wh.id);
        assert.equal(v.state, "done");
        assert.equal(v.delivered, 0);
        assert.equal(v.failed, 2);
        // Three attempts each (1 s and 3 s apart), under the first id.
        assert.equal(receiver.requests.length - 2, 6);
        const view = await getWebhook(server, s.key, wh.id);
        assert.equal(view.enabled, true);
        assert.equal(view.consecutive_failures, 0);
        assert.deepEqual(
          await server.sql("select cursor_seq, consecutive_failures from webhooks where id = ?", [wh.id]),
          cursor,
        );
      } finally {
        receiver.answer({ status: 200 });
      }
      // The consumer goes on from where it was: only the new message.
      receiver.reset();
      await ingest(server, s, texts(s, [[1, "f3"]]));
      await waitFor(() => receiver.accepted.size === 1, "f3");
      await sleep(300);
      assert.deepEqual(
        receiver.requests.map((x) => x.text),
        ["f3"],
      );
    });

    it("one replay at a time (409); a cancelled replay stops; bad ranges are refused", async () => {
      receiver.reset();
      const s = await space(server);
      const other = await space(server);
      const wh = await createWebhook(server, s.key, receiver.url);
      const path = `/api/v1/webhooks/${wh.id}/replay`;
      assert.equal((await server.api("GET", path, { token: s.key })).status, 404, "never replayed");
      assert.equal((await server.api("DELETE", path, { token: s.key })).status, 404, "none running");
      const since = await mark();
      await ingest(
        server,
        s,
        Array.from({ length: 30 }, (_, i) => entry(s, { text: `slow ${i}`, timestamp: Math.floor(Date.now() / 1000) })),
      );
      await waitFor(() => receiver.accepted.size === 30, "the first deliveries");

      receiver.reset();
      receiver.respond = () => ({ status: 200, body: "ok", delayMs: 250 });
      try {
        const r = await replay(s, wh.id, { since });
        assert.equal(r.status, 202, r.text);
        const again = await replay(s, wh.id, { since });
        assert.equal(again.status, 409, again.text);
        assert.equal(again.json.error.code, "CONFLICT");
        assert.ok(again.json.error.message.includes(r.json.replay_id), again.json.error.message);

        await waitFor(() => receiver.requests.length >= 3, "the replay under way");
        const cancel = await server.api("DELETE", path, { token: s.key });
        assert.equal(cancel.status, 200, cancel.text);
        assert.equal(cancel.json.state, "cancelled");
        const atCancel = receiver.requests.length;
        await sleep(1500);
        // What was in flight ends; nothing more goes out.
        assert.ok(
          receiver.requests.length <= atCancel + 1,
          `${receiver.requests.length - atCancel} sent after the cancel`,
        );
        const v = await progress(s, wh.id);
        assert.equal(v.state, "cancelled");
        assert.ok(v.delivered < 30 && v.delivered >= 2, `delivered ${v.delivered}`);
        // In order so far: one chat, the first n.
        assert.deepEqual(
          receiver.requests.map((x) => x.text),
          Array.from({ length: receiver.requests.length }, (_, i) => `slow ${i}`),
        );
        assert.equal((await server.api("DELETE", path, { token: s.key })).status, 404);
      } finally {
        receiver.answer({ status: 200 });
      }
      // A new replay leaves only itself behind: the ended ones of the webhook are not kept.
      const next = await replay(s, wh.id, { since });
      assert.equal(next.status, 202, next.text);
      assert.equal((await ended(s, wh.id)).replay_id, next.json.replay_id);
      const [kept] = await server.sql<{ n: number }>("select count(*) as n from webhook_replays where webhook_id = ?", [
        wh.id,
      ]);
      assert.equal(Number(kept!.n), 1);

      const bad = async (body: object, field: string) => {
        const x = await replay(s, wh.id, body);
        assert.equal(x.status, 400, `${JSON.stringify(body)}: ${x.text}`);
        assert.equal(x.json.error.code, "VALIDATION_ERROR");
        assert.equal(x.json.error.field, field, x.text);
      };
      await bad({ since: "yesterday" }, "since");
      await bad({ since: "2026-02-31T00:00:00Z" }, "since");
      await bad({ since: "2999-01-01T00:00:00Z" }, "since");
      await bad({ since, until: "2001-01-01T00:00:00Z" }, "until");
      await bad({ since, until: "2999-01-01T00:00:00Z" }, "until");
      await bad({ since: "x".repeat(100_000) }, "since");
      await bad({}, "since");
      const countBad = await server.api("GET", `${path}/count?since=nope`, { token: s.key });
      assert.equal(countBad.status, 400);
      assert.equal(countBad.json.error.field, "since");
      assert.equal((await server.api("POST", path, { body: { since } })).status, 401);
      for (const [method, p] of [
        ["POST", path],
        ["GET", path],
        ["DELETE", path],
        ["GET", `${path}/count?since=${encodeURIComponent(since)}`],
      ] as const) {
        const x = await server.api(method, p, { token: other.key, ...(method === "POST" ? { body: { since } } : {}) });
        assert.equal(x.status, 404, `${method} ${p} from another workspace: ${x.text}`);
      }
      // Switching the webhook off ends its replay; a switched-off webhook takes none.
      receiver.respond = () => ({ status: 200, body: "ok", delayMs: 250 });
      try {
        assert.equal((await replay(s, wh.id, { since })).status, 202);
        await waitFor(async () => (await progress(s, wh.id)).delivered >= 1, "the replay under way");
        assert.equal(
          (await server.api("PATCH", `/api/v1/webhooks/${wh.id}`, { token: s.key, body: { enabled: false } })).status,
          200,
        );
        const v = await ended(s, wh.id);
        assert.equal(v.state, "cancelled");
        assert.match(JSON.stringify(v), /switched off/);
      } finally {
        receiver.answer({ status: 200 });
      }
      const off = await replay(s, wh.id, { since });
      assert.equal(off.status, 409);
      assert.equal(off.json.error.field, "enabled");
    });
  });
