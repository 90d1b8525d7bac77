import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, sleep, TestServer, waitFor } from "../helpers/server.js";
import { createWebhook, getLog, getWebhook, idsOf, ingest, space, texts } from "../helpers/workspace.js";

for (const database of DATABASES)
  describe(`graceful shutdown (${database})`, () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    after(async () => {
      for (const f of cleanup.reverse()) await f();
    });

    it("SIGTERM with a hanging receiver exits within 10 s; a delivery that finishes in time is kept, the hung one is sent after restart", async () => {
      const receiver = await Receiver.start();
      cleanup.push(() => receiver.close());
      // Chat 1 answers after 1.5 s (finishes during the shutdown); chat 2 hangs.
      receiver.respond = (r) =>
        r.text === "slow" ? { status: 200, delayMs: 1500 } : r.text === "stuck" ? "hang" : { status: 200 };
      const first = await TestServer.start({ database });
      cleanup.push(() => first.stop());
      const s = await space(first);
      const wh = await createWebhook(first, s.key, receiver.url);
      idsOf(
        await ingest(
          first,
          s,
          texts(s, [
            [1, "slow"],
            [2, "stuck"],
          ]),
        ),
      );
      await waitFor(() => receiver.requests.length === 2, "both deliveries in flight");

      const t0 = Date.now();
      const exited = new Promise<number | null>((resolve) => first.child.once("exit", (code) => resolve(code)));
      first.child.kill("SIGTERM");
      const code = await exited;
      const took = Date.now() - t0;
      assert.ok(took < 10_000, `exited after ${took} ms`);
      assert.ok(took >= 1_400, `waited for the delivery in flight (${took} ms)`);
      assert.equal(code, 0, first.output);

      // After the restart: the hung delivery is sent again with the same webhook-id; the
      // one that finished during the shutdown was recorded and is not sent again.
      const slowId = receiver.requests.find((r) => r.text === "slow")!.id;
      const stuckId = receiver.requests.find((r) => r.text === "stuck")!.id;
      receiver.answer({ status: 200 });
      const second = await first.restart();
      cleanup.push(() => second.stop());
      await waitFor(() => receiver.accepted.has(stuckId), "the handed-back delivery after restart");
      await sleep(1200);
      assert.deepEqual(
        receiver.requests.map((r) => r.text),
        ["slow", "stuck", "stuck"],
        "after the restart only the hung message is sent again",
      );
      assert.equal(receiver.requests.filter((r) => r.id === slowId).length, 1);

      const log = await getLog(second, s.key, wh.id);
      const stuck = log.filter((e) => e.delivery_id === stuckId);
      assert.deepEqual(
        stuck.map((e) => e.error?.code ?? e.response?.status),
        [200, "SHUTDOWN"],
        "the cut attempt is logged as a shutdown, then delivered",
      );
      assert.deepEqual(
        log.filter((e) => e.delivery_id === slowId).map((e) => e.response?.status),
        [200],
        "the delivery that finished during shutdown is in the log",
      );
      // A shutdown is not the receiver's error.
      const view = await getWebhook(second, s.key, wh.id);
      assert.equal(view.consecutive_failures, 0);
      assert.equal(view.enabled, true);
    });
  });
