import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { advanceTo, HOUR, MINUTE, nextBoundary, serverNow } from "../helpers/clock.js";
import { assertSigned, validateBundle } from "../helpers/contract.js";
import { type ReceivedRequest, Receiver } from "../helpers/receiver.js";
import { DATABASES, sleep, TestServer, waitFor } from "../helpers/server.js";
import { entry, ingest, space } from "../helpers/workspace.js";

const chatOf = (r: ReceivedRequest) => String(r.json.chat.chat_id);

for (const database of DATABASES)
  describe(`aggregated webhooks survive a crash (${database})`, () => {
    const servers: TestServer[] = [];
    const receivers: Receiver[] = [];
    // A fixed public URL: bodies (links) are the same before and after a restart on another port.
    // One process at a time: the shortest lease, so a restart on PostgreSQL takes over within 3 s.
    const env = { THREADLINE_PUBLIC_URL: "http://threadline.test", THREADLINE_WEBHOOK_LEASE_MS: "3000" };
    const start = async () => {
      const s = await TestServer.start({ database, env });
      servers.push(s);
      return s;
    };
    const restart = async (server: TestServer) => {
      const s = await server.restart({ env });
      servers.push(s);
      return s;
    };
    after(async () => {
      for (const s of servers) await s.stop();
      for (const r of receivers) await r.close();
    });

    it("SIGKILL right at a window close: every bundle arrives after the restart, repeats keep their webhook-id", async () => {
      const CHATS = 40;
      const ACKED = 10;
      const receiver = await Receiver.start();
      receivers.push(receiver);
      // The first bundles are acknowledged; the rest hang until the process is gone.
      let answered = 0;
      receiver.respond = () => (++answered <= ACKED ? { status: 200 } : { status: 200, delayMs: 6_000 });
      const first = await start();
      const B = nextBoundary(await serverNow(first), 1);
      await advanceTo(first, B + 5 * MINUTE);
      const s = await space(first, { webhookUrl: receiver.url, aggregation: "1h" });
      await ingest(
        first,
        s,
        Array.from({ length: CHATS }, (_, i) =>
          entry(s, { contact: `97254400${String(i).padStart(4, "0")}`, text: `hello ${i}` }),
        ),
      );
      await advanceTo(first, B + HOUR + 1000);
      await waitFor(() => receiver.requests.length >= ACKED + 10, "bundles in flight at the close");
      await first.kill();
      const before = [...receiver.requests];
      assert.ok(before.length < CHATS * 2);
      const ackedBefore = before.slice(0, ACKED);

      receiver.respond = () => ({ status: 200 });
      const second = await restart(first);
      await advanceTo(second, B + HOUR + 1000);
      // Generous: a takeover may wait for the dead process's lease (wall clock) to lapse.
      await waitFor(
        () => new Set(receiver.requests.slice(before.length).map(chatOf)).size >= CHATS,
        "every chat's bundle after the restart",
      );
      await sleep(500);

      const all = receiver.requests;
      const unique = receiver.unique();
      assert.equal(
        unique.size,
        CHATS,
        "one webhook-id per (chat, window): the receiver dedupes to exactly the bundles",
      );
      assert.equal(new Set([...unique.values()].map(chatOf)).size, CHATS, "no chat lost");
      const idsByChat = new Map<string, Set<string>>();
      for (const r of all) {
        validateBundle(r.json);
        assertSigned(r, s.webhook.secret);
        const ids = idsByChat.get(chatOf(r)) ?? new Set<string>();
        ids.add(String(r.headers["webhook-id"]));
        idsByChat.set(chatOf(r), ids);
      }
      for (const [chat, ids] of idsByChat)
        assert.equal(ids.size, 1, `chat ${chat} was repeated under another webhook-id`);
      // The window was not acknowledged as a whole, so it is sent again, byte for byte.
      for (const a of ackedBefore) {
        const again = all.slice(before.length).find((r) => r.headers["webhook-id"] === a.headers["webhook-id"]);
        assert.ok(again, "an acknowledged bundle of an unfinished window is repeated (never lost)");
        assert.equal(again.body, a.body);
      }

      // The cursor moved past the window once it was all acknowledged: the next window holds only new messages.
      const count = all.length;
      await ingest(second, s, [entry(s, { contact: "972544000000", text: "next window" })]);
      await advanceTo(second, B + 2 * HOUR + 1000);
      await waitFor(() => receiver.requests.length > count, "the next window's bundle");
      await sleep(800);
      const later = receiver.requests.slice(count);
      assert.equal(later.length, 1);
      assert.deepEqual(
        later[0]!.json.messages.map((m: { text: string }) => m.text),
        ["next window"],
      );
    });

    it("a window that ended while the server was down is sent at once on start", async () => {
      const receiver = await Receiver.start();
      receivers.push(receiver);
      // No clock moves here: what is stored now belongs to the real current hour.
      const first = await start();
      const s = await space(first, { webhookUrl: receiver.url, aggregation: "24h" });
      await ingest(first, s, [
        entry(s, { contact: "972545000001", text: "stored before the outage" }),
        entry(s, { contact: "972545000002", text: "me too" }),
      ]);
      const storedBy = Date.now();
      await sleep(200);
      await first.kill();
      assert.equal(receiver.requests.length, 0);
      // Down until after the window's end: the same as moving that end into the past.
      const [row] = await first.sql<{ window_end: number }>("select window_end from webhooks where id = ?", [
        s.webhook.id,
      ]);
      assert.ok(Number(row!.window_end) > storedBy, "the open window's end was persisted");
      await first.sql("update webhooks set window_end = ? where id = ?", [storedBy + 1, s.webhook.id]);

      // No clock move after the restart: the next real window end is up to a day away, so arriving now is "at once".
      await restart(first);
      await waitFor(() => receiver.requests.length >= 2, "the overdue window's bundles");
      await sleep(300);
      assert.equal(receiver.requests.length, 2);
      for (const r of receiver.requests) {
        validateBundle(r.json);
        assertSigned(r, s.webhook.secret);
      }
      assert.deepEqual(receiver.requests.map((r) => r.json.messages[0].text).sort(), [
        "me too",
        "stored before the outage",
      ]);
    });
  });
