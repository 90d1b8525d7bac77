// A flush of the delivery writes that fails (the database briefly refuses it)
// must not lose what it carried: every attempt is a log entry, and the cursor and counters
// it carried are written by a later flush.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DATABASES, waitFor } from "../helpers/server.js";
import { entry, ingest, serverWithWebhook } from "../helpers/workspace.js";

for (const database of DATABASES)
  describe(`a failed write batch (${database})`, () => {
    const f = serverWithWebhook(database);

    it("attempts recorded while the database refused writes reach the request log afterwards", async () => {
      const { server, receiver, s } = f;
      receiver.respond = () => ({ status: 200, body: "ok", delayMs: 800 });
      const batch = Array.from({ length: 3 }, (_, i) => entry(s, { contact: `97254300000${i}`, text: `m ${i}` }));
      await ingest(server, s.key, batch);
      await waitFor(() => receiver.requests.length === 3, "three deliveries in flight");

      // The database refuses the flush that follows the three answers (the table it writes the
      // hourly counts to is briefly missing); then it accepts writes again.
      await server.sql("ALTER TABLE webhook_hourly RENAME TO webhook_hourly_away");
      try {
        await waitFor(
          () => /no such table: webhook_hourly|webhook_hourly\W{0,3} does not exist/.test(server.output),
          "a failed flush of delivery writes",
        );
      } finally {
        await server.sql("ALTER TABLE webhook_hourly_away RENAME TO webhook_hourly");
      }

      const log = await waitFor(async () => {
        const r = await server.api("GET", `/api/v1/webhooks/${s.webhook!.id}/log`, { token: s.key });
        return r.status === 200 ? (r.json as unknown[]) : undefined;
      }, "the request log");
      assert.equal(log.length, 3, "attempts made while a flush failed are missing from the log");
    });
  });
