import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { assertDeliveredAcrossCrash, entry, type Entry, ingest, space, type Space } from "../helpers/workspace.js";

for (const database of DATABASES)
  describe(`a crash while deliveries are in flight loses nothing (${database})`, () => {
    const servers: TestServer[] = [];
    let receiver: Receiver | undefined;
    after(async () => {
      for (const s of servers.reverse()) await s.stop();
      await receiver?.close();
    });

    it("SIGKILL mid-delivery, restart on the same data: every accepted message delivered, same webhook-id on repeats, per-chat order", async () => {
      receiver = await Receiver.start();
      receiver.respond = () => ({ status: 200, body: "ok", delayMs: 25 });
      // A fixed public URL: the restarted server listens on another port, and a repeat must carry the same bytes.
      const env = { THREADLINE_PUBLIC_URL: "http://threadline.restart.test" };
      const first = await TestServer.start({ database, env });
      servers.push(first);
      const s: Space = await space(first, { receiver });

      const chatOf = new Map<string, string>();
      const accepted: string[] = [];
      const send = async (server: TestServer, batch: Entry[]) => {
        const r = await ingest(server, s.key, batch);
        assert.equal(r.accepted, batch.length);
        r.results.forEach((x, i) => {
          accepted.push(x.message_id);
          chatOf.set(x.message_id, batch[i]!.chat.external_id);
        });
      };
      const contact = (c: number) => `9725460${String(c).padStart(5, "0")}`;
      // 300 messages across 30 chats, interleaved as they would arrive.
      const batch: Entry[] = [];
      for (let i = 0; i < 10; i++)
        for (let c = 0; c < 30; c++) batch.push(entry(s, { contact: contact(c), text: `chat ${c} message ${i} 🙂` }));
      await send(first, batch);
      await waitFor(() => receiver!.requests.length >= 60, "deliveries to be under way");
      // A last batch answered 202 just before the crash must not be lost either.
      await send(
        first,
        Array.from({ length: 30 }, (_, c) => entry(s, { contact: contact(c), text: `chat ${c} late` })),
      );
      await first.kill("SIGKILL");
      const beforeRestart = receiver.requests.length;
      assert.ok(
        beforeRestart < accepted.length,
        `everything was delivered before the kill (${beforeRestart}); the test proves nothing`,
      );

      const second = await first.restart({ env });
      servers.push(second);
      await waitFor(
        () => new Set(receiver!.requests.map((r) => r.json?.message?.message_id)).size >= accepted.length,
        "every accepted message after the restart",
      );
      // The stored log survived the crash too.
      const chats = await second.api("GET", "/api/v1/chats?limit=200", { token: s.key });
      assert.equal(chats.json.items.length, 30);
      assertDeliveredAcrossCrash(receiver.requests, accepted, chatOf, s.webhook!.secret);
      // Repeats are only what the crash left unacknowledged: the restarted server sends each message once.
      const afterRestart = receiver.requests.slice(beforeRestart).map((r) => r.json.message.message_id as string);
      assert.equal(new Set(afterRestart).size, afterRestart.length, "the restarted server delivered a message twice");

      // After the restart the webhook keeps working: a new message is delivered once.
      const n = receiver.requests.length;
      const more = (await ingest(second, s.key, [entry(s, { contact: contact(0), text: "after restart" })])).results[0]!
        .message_id;
      await waitFor(
        () => receiver!.requests.some((r) => r.json?.message?.message_id === more),
        "a message after the restart",
      );
      assert.equal(receiver.requests.slice(n).filter((r) => r.json?.message?.message_id === more).length, 1);
    });
  });
