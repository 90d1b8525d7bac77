import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { TestServer, waitFor } from "../helpers/server.js";
import { Receiver, type ReceivedRequest } from "../helpers/receiver.js";
import { assertSigned, entry, ingest, space, type Entry, type Space } from "./helpers.js";

/**
 * Checks at-least-once delivery across a crash: every accepted id was received, repeats
 * carry the same webhook-id, and each chat's first receptions are in storage order.
 */
export function assertDeliveredAcrossCrash(received: ReceivedRequest[], accepted: string[], chatOf: Map<string, string>, secret: string): { repeats: number } {
  const first = new Map<string, ReceivedRequest>();
  let repeats = 0;
  for (const r of received) {
    const id = r.json?.message?.message_id as string | undefined;
    assert.ok(id, `a delivery without message_id: ${r.body}`);
    assert.ok(chatOf.has(id), `an unknown message ${id} was delivered`);
    assertSigned(r, secret);
    const seen = first.get(id);
    if (seen) {
      repeats++;
      assert.equal(r.headers["webhook-id"], seen.headers["webhook-id"], `message ${id} was repeated under another webhook-id`);
      assert.equal(r.body, seen.body, `message ${id} was repeated with other bytes`);
    } else first.set(id, r);
  }
  assert.deepEqual(new Set(first.keys()), new Set(accepted), "the set of message_ids received differs from the set accepted");
  // Per chat, the first receptions follow the order the messages were accepted in.
  const firstOrder = [...first.keys()];
  const byChat = (ids: string[]) => {
    const m = new Map<string, string[]>();
    for (const id of ids) m.set(chatOf.get(id)!, [...(m.get(chatOf.get(id)!) ?? []), id]);
    return m;
  };
  const got = byChat(firstOrder);
  for (const [chat, ids] of byChat(accepted)) assert.deepEqual(got.get(chat), ids, `chat ${chat} out of order`);
  return { repeats };
}

describe("a crash while deliveries are in flight loses nothing", () => {
  const servers: TestServer[] = [];
  let receiver: Receiver | undefined;
  after(async () => {
    for (const s of servers.reverse()) await s.stop();
    await receiver?.close();
  });

  it("SIGKILL mid-delivery, restart on the same data: every accepted message delivered, same webhook-id on repeats, per-chat order", async () => {
    receiver = await Receiver.start();
    receiver.respond = () => ({ status: 200, body: "ok", delayMs: 25 });
    const first = await TestServer.start();
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
    for (let i = 0; i < 10; i++) for (let c = 0; c < 30; c++) batch.push(entry(s, { contact: contact(c), text: `chat ${c} message ${i} 🙂` }));
    await send(first, batch);
    await waitFor(() => receiver!.requests.length >= 60, "deliveries to be under way");
    // A last batch answered 202 just before the crash must not be lost either.
    await send(first, Array.from({ length: 30 }, (_, c) => entry(s, { contact: contact(c), text: `chat ${c} late` })));
    await first.kill("SIGKILL");
    const beforeRestart = receiver.requests.length;
    assert.ok(beforeRestart < accepted.length, `everything was delivered before the kill (${beforeRestart}); the test proves nothing`);

    const second = await TestServer.start({ dataDir: first.dataDir });
    servers.push(second);
    await waitFor(() => new Set(receiver!.requests.map((r) => r.json?.message?.message_id)).size >= accepted.length, "every accepted message after the restart", 40_000);
    // The stored log survived the crash too.
    const chats = await second.api("GET", "/api/v1/chats?limit=200", { token: s.key });
    assert.equal(chats.json.items.length, 30);
    const { repeats } = assertDeliveredAcrossCrash(receiver.requests, accepted, chatOf, s.webhook!.secret);
    assert.ok(repeats <= 64 + 30, `too many repeats (${repeats}): the cursor did not survive`);

    // After the restart the webhook keeps working: a new message is delivered once.
    const n = receiver.requests.length;
    const more = (await ingest(second, s.key, [entry(s, { contact: contact(0), text: "after restart" })])).results[0]!.message_id;
    await waitFor(() => receiver!.requests.some((r) => r.json?.message?.message_id === more), "a message after the restart");
    assert.equal(receiver.requests.slice(n).filter((r) => r.json?.message?.message_id === more).length, 1);
  });
});
