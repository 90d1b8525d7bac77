// What the API says for people to read (issue #14, items 2 and 5): activity that names the
// chat and the change, chats ordered by the time of their last message, and when an
// aggregated webhook's next bundle goes out.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { createWebhook, entry, ingest, space, waitForDelivery, type Space } from "../helpers/workspace.js";

interface ActivityItem {
  kind: string;
  summary: string;
  chat?: { chat_id: string; full_name: string };
  snippet?: string;
}
interface ChatItem {
  chat_id: string;
  full_name: string;
  first_message_at: string | null;
  last_message_at: string;
  last_message: { direction: string; type: string; sender_name: string; preview: string } | null;
}
interface WebhookRead {
  aggregation: string;
  next_bundle_at: string | null;
  open_chats: number | null;
}

for (const database of DATABASES)
  describe(`readable activity and time (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    before(async () => {
      server = await TestServer.start({ database });
      receiver = await Receiver.start();
    });
    after(async () => {
      await receiver?.close();
      await server?.stop();
    });

    const get = async (s: Space, path: string) => {
      const r = await server.api("GET", path, { token: s.key });
      assert.equal(r.status, 200, r.text);
      return r.json;
    };

    it("activity names the contact or group of each delivery, and a change as 'Don't aggregate → Every hour'", async () => {
      const s = await space(server, { receiver });
      const [direct, group] = (
        await ingest(server, s, [
          entry(s, { contact: "972541112222", name: "John Doe", text: "hello" }),
          entry(s, { chat: { external_id: "120363041234500001@g.us", full_name: "Sales team" }, text: "team hello" }),
        ])
      ).results.map((r) => r.message_id);
      await waitForDelivery(receiver, direct!);
      await waitForDelivery(receiver, group!);
      const patched = await server.api("PATCH", `/api/v1/webhooks/${s.webhook!.id}`, {
        token: s.key,
        body: { aggregation: "1h" },
      });
      assert.equal(patched.status, 200, patched.text);

      const items = await waitFor(async () => {
        const a = (await get(s, `/api/v1/webhooks/${s.webhook!.id}/activity`)).items as ActivityItem[];
        return a.filter((x) => x.kind === "delivered").length === 2 ? a : undefined;
      }, "two deliveries in the activity");
      const chats = (await get(s, "/api/v1/chats")).items as ChatItem[];
      const idOf = (name: string) => chats.find((c) => c.full_name === name)!.chat_id;
      const delivered = items.filter((x) => x.kind === "delivered");
      const toJohn = delivered.find((x) => x.chat?.full_name === "John Doe");
      const toGroup = delivered.find((x) => x.chat?.full_name === "Sales team");
      assert.ok(toJohn && toGroup, JSON.stringify(items));
      assert.equal(toJohn.summary, "Delivered a message in the chat with John Doe (HTTP 200).");
      assert.equal(toGroup.summary, "Delivered a message in the group Sales team (HTTP 200).");
      assert.deepEqual(toJohn.chat, { chat_id: idOf("John Doe"), full_name: "John Doe" });
      assert.deepEqual(toGroup.chat, { chat_id: idOf("Sales team"), full_name: "Sales team" });
      // Rows that look alike are told apart by what was delivered.
      assert.equal(toJohn.snippet, "hello");
      assert.equal(toGroup.snippet, "team hello");
      assert.equal(items[0]!.kind, "updated");
      assert.equal(items[0]!.summary, "Aggregation: Don't aggregate → Every hour");
      assert.equal(items[0]!.chat, undefined);
      assert.equal(items[0]!.snippet, undefined, "a settings change carries no message");
    });

    it("orders chats by their last message's time, not by when it was stored; previews it; the first message starts the chat", async () => {
      const s = await space(server);
      const at = (hh: string) => `2026-03-02T${hh}:00:00Z`;
      await ingest(server, s, [
        entry(s, { contact: "972541000001", name: "Early Bird", timestamp: at("10"), text: "ten o'clock" }),
      ]);
      await ingest(server, s, [
        entry(s, { contact: "972541000002", name: "Late Owl", timestamp: at("11"), text: "eleven o'clock" }),
      ]);
      // Arrives last, from before both: stored now, yet it moves nothing up.
      await ingest(server, s, [
        entry(s, { contact: "972541000001", name: "Early Bird", timestamp: at("09"), text: "nine   o'clock\nlate" }),
      ]);
      let chats = (await get(s, "/api/v1/chats")).items as ChatItem[];
      assert.deepEqual(
        chats.map((c) => c.full_name),
        ["Late Owl", "Early Bird"],
      );
      const early = chats[1]!;
      assert.equal(early.last_message_at, new Date(at("10")).toISOString());
      assert.equal(early.first_message_at, new Date(at("09")).toISOString());
      assert.deepEqual(early.last_message, {
        direction: "received",
        type: "text",
        sender_name: "Early Bird",
        preview: "ten o'clock",
      });
      const one = await get(s, `/api/v1/chats/${early.chat_id}`);
      assert.equal(one.first_message_at, early.first_message_at);

      // A newer message brings its chat to the top, with its preview (one line, cut).
      const long = `${"word ".repeat(40)}end`;
      await ingest(server, s, [
        entry(s, { contact: "972541000001", name: "Early Bird", timestamp: at("12"), text: long }),
      ]);
      chats = (await get(s, "/api/v1/chats")).items as ChatItem[];
      assert.deepEqual(
        chats.map((c) => c.full_name),
        ["Early Bird", "Late Owl"],
      );
      assert.equal(chats[0]!.last_message!.preview.length, 140);
      assert.ok(chats[0]!.last_message!.preview.endsWith("…"));
      assert.equal(chats[0]!.last_message_at, new Date(at("12")).toISOString());
    });

    it("an aggregated webhook says when its next bundle goes out and how many chats are open", async () => {
      const s = await space(server, { receiver, aggregation: "1h" });
      const w = await waitFor(async () => {
        const r = (await get(s, `/api/v1/webhooks/${s.webhook!.id}`)) as WebhookRead;
        return r.next_bundle_at ? r : undefined;
      }, "the window's end");
      const now = Date.parse(await server.advance(0));
      const next = Date.parse(w.next_bundle_at!);
      assert.ok(next > now && next <= now + 3600_000, `${w.next_bundle_at} is not within the hour`);
      assert.equal(w.open_chats, 0);

      await ingest(server, s, [
        entry(s, { contact: "972542000001" }),
        entry(s, { contact: "972542000002" }),
        entry(s, { contact: "972542000002" }),
      ]);
      assert.equal(((await get(s, `/api/v1/webhooks/${s.webhook!.id}`)) as WebhookRead).open_chats, 2);
      const listed = ((await get(s, "/api/v1/webhooks")).items as (WebhookRead & { id: string })[]).find(
        (x) => x.id === s.webhook!.id,
      )!;
      assert.equal(listed.open_chats, 2);
      assert.equal(listed.next_bundle_at, w.next_bundle_at);

      const plain = await createWebhook(server, s.key, receiver.url);
      const p = (await get(s, `/api/v1/webhooks/${plain.id}`)) as WebhookRead;
      assert.equal(p.next_bundle_at, null);
      assert.equal(p.open_chats, null);
    });
  });
