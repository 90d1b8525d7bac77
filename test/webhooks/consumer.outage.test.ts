// What a real receiver's outage looks like on the wire and in the request log, through a
// spawned server: a refused connection, a 500, then back. (The 10 s deadline that cuts a
// receiver which does not answer: deliver.deadline.test.ts.)
// The consumer's rules (backoff, one probe at a time, counting, warning, disable, per-chat
// order on recovery) are tested in-process: consumer.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RETRY_SCHEDULE_MS } from "../../src/webhooks/policy.js";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { createWebhook, getLog, getWebhook, idsOf, ingest, space, texts, waitFailures } from "../helpers/workspace.js";

/** Past the backoff after the n-th consecutive error, jitter included. */
const pastBackoff = (n: number) =>
  Math.ceil(RETRY_SCHEDULE_MS[Math.min(n, RETRY_SCHEDULE_MS.length) - 1]! * 1.1) + 1000;

for (const database of DATABASES)
  describe(`a receiver that is down (refused, then a 500) and comes back (${database})`, () => {
    let receiver: Receiver;
    let server: TestServer;

    before(async () => {
      receiver = await Receiver.start();
      await receiver.down();
      server = await TestServer.start({ database });
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    it("logs each failure under its code and delivers once it is back, under one webhook-id", async () => {
      const s = await space(server);
      const wh = await createWebhook(server, s.key, receiver.url);
      const [id] = idsOf(await ingest(server, s, texts(s, [[1, "hello"]])));

      // Connection refused: nothing reaches the receiver.
      await waitFailures(server, s.key, wh.id, 1);
      assert.equal(receiver.requests.length, 0, "nothing reached a receiver that is down");

      // Back up, but answering 500.
      await receiver.up();
      receiver.answer({ status: 500 });
      await server.advance(pastBackoff(1));
      await waitFailures(server, s.key, wh.id, 2);

      // Back for good.
      receiver.answer({ status: 200 });
      await server.advance(pastBackoff(2));
      await waitFor(() => receiver.accepted.size === 1, "the message delivered", 15_000);
      assert.equal([...receiver.accepted.values()][0]!.messageId, id);
      assert.equal(receiver.requests.length, 2, "the 500, the success");
      assert.equal(new Set(receiver.requests.map((r) => r.id)).size, 1, "one webhook-id on every attempt");

      const view = await getWebhook(server, s.key, wh.id);
      assert.equal(view.consecutive_failures, 0);

      const log = (await getLog(server, s.key, wh.id)).reverse();
      const codes = log.map((e) => e.error?.code ?? `HTTP ${e.response?.status}`);
      assert.equal(log.length, 3, codes.join(", "));
      assert.ok(codes[0] === "CONNECTION_REFUSED" || codes[0] === "CONNECTION_RESET", codes[0]);
      assert.deepEqual(codes.slice(1), ["HTTP_ERROR", "HTTP 200"]);
      assert.deepEqual(
        log.map((e) => e.attempt),
        [1, 2, 3],
      );
    });
  });
