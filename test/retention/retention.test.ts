/**
 * Retention (issue 25, item 2), both databases: `PATCH /api/v1/workspace {retention_days}`
 * deletes messages stored longer ago than that, the chats left without messages and old
 * notifications, but never a message an enabled webhook has not delivered: it waits, and the
 * workspace read says how many wait. A workspace without retention keeps everything.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import {
  assertError,
  contactNo,
  entry,
  ingest,
  notifications,
  space,
  waitForDelivery,
  type Space,
} from "../helpers/workspace.js";
import { ownerCookie } from "../helpers/people.js";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

for (const database of DATABASES) {
  describe(`retention (${database})`, () => {
    let server: TestServer;
    let ok: Receiver;
    let down: Receiver;
    let kept: Space & { webhook: { id: string } };
    let waiting: Space & { webhook: { id: string } };
    let forever: Space;
    const ids = new Map<Space, string[]>();

    before(async () => {
      [server, ok, down] = await Promise.all([TestServer.start({ database }), Receiver.start(), Receiver.start()]);
      down.answer({ status: 500, body: "down" });
      kept = await space(server, { receiver: ok });
      waiting = await space(server, { receiver: down });
      forever = await space(server);
      for (const s of [kept, waiting, forever]) {
        const r = await ingest(
          server,
          s,
          [1, 2, 1].map((chat, i) =>
            entry(s, { contact: contactNo(chat), text: `old ${i} $1 <b>`, timestamp: Math.floor(Date.now() / 1000) }),
          ),
        );
        ids.set(
          s,
          r.results.map((x) => x.message_id),
        );
      }
      for (const id of ids.get(kept)!) await waitForDelivery(ok, id);
      await waitFor(() => down.requests.length > 0, "the failing receiver tried");
    });
    after(async () => Promise.all([server?.stop(), ok?.close(), down?.close()]));

    // Workspace settings are the owner's (a key acts as admin): the owner's session changes them.
    const patchWorkspace = async (s: Space, body: unknown) =>
      server.api("PATCH", "/api/v1/workspace", {
        body,
        headers: { cookie: await ownerCookie(server, s.workspace), origin: new URL(server.url).origin },
      });
    const workspace = async (s: Space) => (await server.api("GET", "/api/v1/workspace", { token: s.key })).json;
    const messageStatus = async (s: Space, id: string) =>
      (await server.api("GET", `/api/v1/messages/${id}`, { token: s.key })).status;

    it("refuses what is not a number of days, naming the field, and changes nothing then", async () => {
      assertError(
        await server.api("PATCH", "/api/v1/workspace", { body: { retention_days: 30 } }),
        401,
        "UNAUTHORIZED",
      );
      for (const bad of [0, -1, 1.5, 36_501, "30", true]) {
        assertError(
          await patchWorkspace(kept, { retention_days: bad, name: "Renamed" }),
          400,
          "VALIDATION_ERROR",
          "retention_days",
        );
      }
      assert.equal((await workspace(kept)).name, "Acme", "a refused PATCH renamed the workspace");
      assert.equal((await workspace(kept)).retention_days, null, "keeps everything by default");
    });

    it("deletes what is old and delivered (messages, empty chats, notifications), keeps what an enabled webhook still owes, and what has no retention", async () => {
      for (const s of [kept, waiting]) {
        const r = await patchWorkspace(s, { retention_days: 1 });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.retention_days, 1);
      }
      await server.sql(
        "insert into notifications (workspace_id, at, to_address, subject, text, delivered) values (?, ?, ?, ?, ?, 1)",
        [kept.workspace.id, Date.now(), "amnon@acme.com", "an old alert", "text"],
      );
      const notesBefore = (await notifications(server, kept.key)).length;
      assert.ok(notesBefore >= 1);

      // Two days later the hourly pass runs.
      await server.advance(2 * DAY + HOUR);
      await waitFor(
        async () => (await messageStatus(kept, ids.get(kept)![0]!)) === 404,
        "the delivered old messages deleted",
      );
      for (const id of ids.get(kept)!) assert.equal(await messageStatus(kept, id), 404);
      await waitFor(
        async () => (await server.api("GET", "/api/v1/chats", { token: kept.key })).json.items.length === 0,
        "the chats left without messages deleted",
      );
      assert.equal((await notifications(server, kept.key)).length, notesBefore - 1, "the old notification deleted");

      // Never delivered to an enabled webhook: kept, and said so.
      for (const id of ids.get(waiting)!) assert.equal(await messageStatus(waiting, id), 200);
      assert.equal((await workspace(waiting)).retention_waiting, 3);
      // No retention: everything stays.
      for (const id of ids.get(forever)!) assert.equal(await messageStatus(forever, id), 200);
      assert.equal((await workspace(forever)).retention_days, null);

      // The receiver comes back: once delivered, the next pass deletes them too.
      down.answer({ status: 200, body: "ok" });
      await waitFor(async () => {
        await server.advance(HOUR);
        return (await messageStatus(waiting, ids.get(waiting)![2]!)) === 404;
      }, "the waiting messages deleted once delivered");
      assert.equal((await workspace(waiting)).retention_waiting, 0);
      for (const id of ids.get(waiting)!)
        assert.ok(
          [...down.accepted.values()].some((r) => r.messageId === id),
          `message ${id} was delivered before it went`,
        );
    });
  });
}
