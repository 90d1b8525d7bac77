// An aggregated webhook whose receiver blips for a second while a window's bundles are in
// flight: one error, still enabled, every bundle delivered once, speed ramping up after.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { advanceTo, HOUR, MINUTE, nextBoundary, serverNow } from "../helpers/clock.js";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { entry, ingest, space } from "../helpers/workspace.js";

const CHATS = 400;

for (const database of DATABASES)
  describe(`aggregated delivery through a receiver blip (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    before(async () => {
      [server, receiver] = await Promise.all([TestServer.start({ database }), Receiver.start()]);
      receiver.answer({ status: 200, delayMs: 100 });
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    it(
      "a window's bundles in flight when the receiver errors for a second count as one error",
      { timeout: 120_000 },
      async () => {
        const B = nextBoundary(await serverNow(server), 1);
        await advanceTo(server, B + 5 * MINUTE);
        const s = await space(server, { webhookUrl: receiver.url, aggregation: "1h" });
        const messages = Array.from({ length: CHATS }, (_, i) =>
          entry(s, { contact: `97254${String(700000 + i)}`, text: `bundle ${i}` }),
        );
        for (let i = 0; i < messages.length; i += 200) await ingest(server, s, messages.slice(i, i + 200));

        // The window closes: its bundles go out, many at once.
        await advanceTo(server, B + HOUR + 1000);
        await waitFor(() => receiver.inFlight >= 32, "many bundles in flight");
        await receiver.blip("error", 1000);
        const blipEnd = receiver.requests.length;

        let polls = 0;
        await waitFor(
          async () => {
            if (receiver.accepted.size === CHATS) return true;
            if (polls++ % 40 === 0) await server.advance(6_000);
            return false;
          },
          "every bundle delivered after the blip",
          60_000,
        );
        const view = (await server.api("GET", `/api/v1/webhooks/${s.webhook.id}`, { token: s.key })).json;
        assert.equal(view.enabled, true);
        assert.equal(view.consecutive_failures, 0);
        const mails = (await server.api("GET", "/api/v1/notifications", { token: s.key })).json.items as {
          subject: string;
        }[];
        assert.equal(
          mails.filter((m) => /failing|disabled/i.test(m.subject)).length,
          0,
          "no warning: the blip was one error",
        );
        // One bundle per chat, each with its one message.
        assert.deepEqual([...receiver.accepted.values()].map((a) => a.text).sort(), messages.map((m) => m.text).sort());
        const back = receiver.requests.slice(blipEnd);
        assert.equal(back[0]!.concurrency, 1, "the first bundle after the blip is alone");
        for (const [i, a] of back.slice(0, 10).entries())
          assert.ok(a.concurrency <= i + 1, `bundle ${i + 1} after the blip arrived into ${a.concurrency} in flight`);
      },
    );
  });
