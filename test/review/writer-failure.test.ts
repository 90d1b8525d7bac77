// Review: a flush of the delivery writes that fails (the database briefly refuses it)
// must not lose what it carried: every attempt is a log entry, and the cursor and counters
// it carried are written by a later flush.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, it } from "node:test";
import SQLite from "better-sqlite3";
import { TestServer, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { entry, ingest, space, type Space } from "../foundation/helpers.js";

let server: TestServer;
let receiver: Receiver;
let s: Space;

before(async () => {
  server = await TestServer.start();
  receiver = await Receiver.start();
  s = await space(server, { receiver });
});
after(async () => {
  await server?.stop();
  await receiver?.close();
});

it("attempts recorded while the database refused writes reach the request log afterwards", { timeout: 30_000 }, async () => {
  receiver.respond = () => ({ status: 200, body: "ok", delayMs: 800 });
  const batch = Array.from({ length: 3 }, (_, i) => entry(s, { contact: `97254300000${i}`, text: `m ${i}` }));
  await ingest(server, s.key, batch);
  await waitFor(() => receiver.requests.length === 3, "three deliveries in flight");

  // The database refuses the flush that follows the three answers (the table it writes the
  // hourly counts to is briefly missing); then it accepts writes again.
  const file = new SQLite(path.join(server.dataDir, "threadline.sqlite"));
  file.exec("ALTER TABLE webhook_hourly RENAME TO webhook_hourly_away");
  try {
    await waitFor(() => server.output.includes("no such table: webhook_hourly"), "a failed flush of delivery writes");
  } finally {
    file.exec("ALTER TABLE webhook_hourly_away RENAME TO webhook_hourly");
    file.close();
  }

  const log = await waitFor(async () => {
    const r = await server.api("GET", `/api/v1/webhooks/${s.webhook!.id}/log`, { token: s.key });
    return r.status === 200 ? (r.json as unknown[]) : undefined;
  }, "the request log");
  assert.equal(log.length, 3, "attempts made while a flush failed are missing from the log");
});
