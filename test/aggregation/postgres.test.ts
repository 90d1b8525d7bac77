import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestServer, freshPostgres } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { HOUR, MINUTE, advanceTo, ingest, msg, nextBoundary, received, serverNow, setup, sleep, validateBundle, verifySigned, waitForCount } from "./helpers.js";

describe("aggregated webhooks on PostgreSQL", () => {
  let server: TestServer;
  let receiver: Receiver;
  let drop: () => Promise<void>;
  before(async () => {
    const pg = await freshPostgres();
    drop = pg.drop;
    [server, receiver] = await Promise.all([TestServer.start({ env: { DATABASE_URL: pg.url } }), Receiver.start()]);
  });
  after(async () => {
    await server?.stop();
    await receiver?.close();
    await drop?.();
  });

  it("bundles a window per chat, flushes, and moves on", async () => {
    const B = nextBoundary(await serverNow(server), 1);
    await advanceTo(server, B + 5 * MINUTE);
    const s = await setup(server, { url: `${receiver.url}?t=pg`, aggregation: "1h" });
    await ingest(server, s, [
      msg(s, "972548000001", "later", { timestamp: "2021-02-24T16:30:00Z" }),
      msg(s, "972548000001", "earlier", { timestamp: "2021-02-24T16:25:00Z" }),
      msg(s, "972548000002", "other chat"),
    ]);
    await advanceTo(server, B + HOUR + 1000);
    const first = await waitForCount(receiver, "t=pg", 2, "the window's bundles", 5000);
    for (const r of first) {
      validateBundle(r.json);
      verifySigned(r, s.webhook.secret);
      assert.equal(r.json.chat.is_new_chat, true);
    }
    const a = first.find((r) => r.json.messages.length === 2)!.json;
    assert.deepEqual(
      a.messages.map((m: { text: string }) => m.text),
      ["earlier", "later"],
    );

    await ingest(server, s, [msg(s, "972548000001", "flushed")]);
    const f = await server.api("POST", `/api/v1/webhooks/${s.webhook.id}/flush`, { token: s.key });
    assert.deepEqual(f.json, { flushed: 1 });
    const all = received(receiver, "t=pg");
    assert.equal(all.length, 3);
    assert.equal(all[2]!.json.chat.is_new_chat, false);
    await advanceTo(server, B + 2 * HOUR + 1000);
    await sleep(1200);
    assert.equal(received(receiver, "t=pg").length, 3, "nothing is sent twice");
  });
});
