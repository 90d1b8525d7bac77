// changing aggregation none → 1h while unaggregated deliveries are in flight. The
// receiver acknowledges those deliveries; they must not be sent a second time in a bundle.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DATABASES, waitFor } from "../helpers/server.js";
import { entry, ingest, serverWithWebhook } from "../helpers/workspace.js";

for (const database of DATABASES)
  describe(`aggregation change with deliveries in flight (${database})`, () => {
    const f = serverWithWebhook(database);

    it("deliveries in flight when aggregation changes are not repeated in the first bundle", async () => {
      const { server, receiver, s } = f;
      receiver.respond = () => ({ status: 200, body: "ok", delayMs: 1_500 });
      const batch = Array.from({ length: 5 }, (_, i) =>
        entry(s, { contact: `97254100000${i}`, text: `in flight ${i}` }),
      );
      const ids = (await ingest(server, s.key, batch)).results.map((r) => r.message_id);
      await waitFor(() => receiver.requests.length === 5, "five deliveries in flight");

      const patched = await server.api("PATCH", `/api/v1/webhooks/${s.webhook!.id}`, {
        token: s.key,
        body: { aggregation: "1h" },
      });
      assert.equal(patched.status, 200, patched.text);
      receiver.respond = () => ({ status: 200, body: "ok" });
      // The five answers (200, after 1.5 s) have all arrived by now.
      await new Promise((r) => setTimeout(r, 2_000));

      const later = (await ingest(server, s.key, [entry(s, { contact: "972541000009", text: "after the change" })]))
        .results[0]!.message_id;
      const flushed = await server.api("POST", `/api/v1/webhooks/${s.webhook!.id}/flush`, { token: s.key });
      assert.equal(flushed.status, 200, flushed.text);
      await waitFor(
        () =>
          receiver.requests.some(
            (r) => Array.isArray(r.json?.messages) && r.json.messages.some((m: any) => m.message_id === later),
          ),
        "the bundle of the later message",
      );

      const bundled = receiver.requests
        .filter((r) => Array.isArray(r.json?.messages))
        .flatMap((r) => r.json.messages.map((m: any) => m.message_id as string));
      const repeated = ids.filter((id) => bundled.includes(id));
      assert.deepEqual(repeated, [], "messages acknowledged one by one were sent again in a bundle");
    });
  });
