import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { TestServer, freshPostgres, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { assertDeliveredAcrossCrash, assertValid, contractValidators, deliveriesOf, entry, ingest, space, waitForDelivery, type Entry } from "./helpers.js";

describe("end to end on PostgreSQL", () => {
  const servers: TestServer[] = [];
  let receiver: Receiver | undefined;
  let drop: (() => Promise<void>) | undefined;
  after(async () => {
    for (const s of servers.reverse()) await s.stop();
    await receiver?.close();
    await drop?.();
  });

  it("ingest, delivery, duplicates and a crash-restart work as on SQLite", async () => {
    const pgdb = await freshPostgres();
    drop = pgdb.drop;
    const env = { DATABASE_URL: pgdb.url };
    receiver = await Receiver.start();
    receiver.respond = () => ({ status: 200, body: "ok", delayMs: 30 });
    const first = await TestServer.start({ env });
    servers.push(first);
    assert.match(first.output, /PostgreSQL/);
    const s = await space(first, { receiver });
    const validators = contractValidators();

    const chatOf = new Map<string, string>();
    const accepted: string[] = [];
    const note = (batch: Entry[], results: { status: string; message_id: string }[]) =>
      results.forEach((x, i) => {
        if (x.status !== "accepted") return;
        accepted.push(x.message_id);
        chatOf.set(x.message_id, batch[i]!.chat.external_id);
      });
    const contact = (c: number) => `9725470${String(c).padStart(5, "0")}`;
    const batch: Entry[] = [];
    for (let i = 0; i < 10; i++) for (let c = 0; c < 6; c++) batch.push(entry(s, { contact: contact(c), text: `pg ${c}/${i} ✓` }));
    const r1 = await ingest(first, s.key, batch);
    assert.deepEqual([r1.accepted, r1.duplicates, r1.skipped], [60, 0, 0]);
    note(batch, r1.results);
    // Duplicates within a batch and across requests; an attachment is skipped.
    const extra = [batch[0]!, entry(s, { contact: contact(0), text: "pg new" }), entry(s, { contact: contact(0), type: "image", text: undefined })];
    const r2 = await ingest(first, s.key, [...extra, extra[1]!]);
    assert.deepEqual(r2.results.map((x) => x.status), ["duplicate", "accepted", "skipped", "duplicate"]);
    assert.equal(r2.results[0]!.message_id, r1.results[0]!.message_id);
    note([...extra, extra[1]!], r2.results);

    const delivered = await waitForDelivery(receiver, r1.results[0]!.message_id);
    assertValid(validators.message, delivered.json);
    await waitFor(() => receiver!.requests.length >= 15, "deliveries under way");
    await first.kill("SIGKILL");
    const beforeRestart = receiver.requests.length;
    assert.ok(beforeRestart < accepted.length, "everything was delivered before the kill; the test proves nothing");

    const second = await TestServer.start({ env });
    servers.push(second);
    await waitFor(() => new Set(receiver!.requests.map((r) => r.json?.message?.message_id)).size >= accepted.length, "every accepted message after the restart", 30_000);
    assertDeliveredAcrossCrash(receiver.requests, accepted, chatOf, s.webhook!.secret, { sameBytes: false });
    // chat_url follows the default public URL, http://localhost:$PORT, of the process that sent it (never port 0).
    const port = (srv: TestServer) => new URL(srv.url).port;
    receiver.requests.forEach((r, i) => {
      const p = i < beforeRestart ? port(first) : port(second);
      assert.match(r.json.chat.chat_url, new RegExp(`^http://localhost:${p}/chat/\\d+/messages/$`), `delivery ${i}`);
    });
    for (const r of receiver.requests) assertValid(validators.message, r.json);

    // After the restart: a repeat is still a duplicate and is not delivered again; new messages flow.
    const count = deliveriesOf(receiver, r1.results[5]!.message_id).length;
    const r3 = await ingest(second, s.key, [batch[5]!, entry(s, { contact: batch[5]!.chat.external_id.split("@")[0]!, text: "after restart" })]);
    assert.deepEqual(r3.results.map((x) => x.status), ["duplicate", "accepted"]);
    assert.equal(r3.results[0]!.message_id, r1.results[5]!.message_id);
    await waitForDelivery(receiver, r3.results[1]!.message_id);
    assert.equal(deliveriesOf(receiver, r1.results[5]!.message_id).length, count);

    const chats = await second.api("GET", "/api/v1/chats?limit=200", { token: s.key });
    assert.equal(chats.json.items.length, 6);
    const c0 = chats.json.items.find((c: { phone: string }) => c.phone === `+${contact(0)}`);
    const msgs = await second.api("GET", `/api/v1/chats/${c0.chat_id}/messages?limit=200`, { token: s.key });
    assert.equal(msgs.json.items.length, 12);
    assert.equal(msgs.json.items.filter((m: { status: string }) => m.status === "skipped").length, 1);
  });
});
