// A receiver that blips for about a second while many deliveries are in flight: the run of
// errors counts as one (the attempts in flight when it began are re-queued, not counted),
// the webhook stays enabled, every message arrives in per-chat order, and the speed comes
// back gradually (the receiver is not hit with 64 requests the moment it is back).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { createWebhook, getWebhook, idsOf, ingest, notifications, space, texts } from "../helpers/workspace.js";

const CHATS = 100;
const PER_CHAT = 10;

for (const database of DATABASES)
  describe(`a receiver that blips under load (${database})`, () => {
    let server: TestServer;
    before(async () => {
      server = await TestServer.start({ database });
    });
    after(async () => {
      await server?.stop();
    });

    for (const mode of ["error", "reset", "closed"] as const)
      it(
        `${mode} for a second: one error, still enabled, everything delivered in order, speed ramps up`,
        { timeout: 120_000 },
        async () => {
          const receiver = await Receiver.start();
          // Slow enough answers that many requests are in flight at once.
          receiver.answer({ status: 200, delayMs: 100 });
          try {
            const s = await space(server);
            const wh = await createWebhook(server, s.key, receiver.url);
            const items: [number, string][] = [];
            for (let i = 0; i < PER_CHAT; i++) for (let c = 1; c <= CHATS; c++) items.push([c, `c${c}-${i}`]);
            idsOf(await ingest(server, s, texts(s, items)));

            // At full speed: many requests in flight at once.
            await waitFor(() => receiver.inFlight >= 32, "many deliveries in flight");
            const inFlightAtBlip = receiver.inFlight;
            await receiver.blip(mode, 1000);
            const blipEnd = receiver.requests.length;

            // Past the first backoff (5 s) by the test clock, as often as needed, until all arrived.
            let polls = 0;
            await waitFor(
              async () => {
                if (receiver.accepted.size === items.length) return true;
                if (polls++ % 40 === 0) await server.advance(6_000);
                return false;
              },
              "every message delivered after the blip",
              60_000,
            );

            const view = await getWebhook(server, s.key, wh.id);
            assert.equal(
              view.enabled,
              true,
              `still enabled (${inFlightAtBlip} requests were in flight when it blipped)`,
            );
            assert.equal(view.disabled_reason, null);
            assert.equal(view.consecutive_failures, 0);
            // The run never reached the warning: it counted as one error, not one per request in flight.
            assert.equal(
              (await notifications(server, s.key)).filter((n) => /failing|disabled/i.test(n.subject)).length,
              0,
            );

            // Every message once (by webhook-id), each chat in order of ingestion.
            const byChat = new Map<string, string[]>();
            for (const a of receiver.accepted.values()) byChat.set(a.chat, [...(byChat.get(a.chat) ?? []), a.text]);
            assert.equal(byChat.size, CHATS);
            for (const texts of byChat.values()) {
              const c = texts[0]!.split("-")[0]!;
              assert.deepEqual(
                texts,
                Array.from({ length: PER_CHAT }, (_, i) => `${c}-${i}`),
              );
            }

            // Ramp-up: the first request after the blip is alone, and the n-th arrives into at most n in flight.
            const back = receiver.requests.slice(blipEnd);
            assert.ok(back.length > 0);
            assert.equal(back[0]!.concurrency, 1, "the first request after the blip is alone");
            for (const [i, a] of back.slice(0, 10).entries())
              assert.ok(
                a.concurrency <= i + 1,
                `request ${i + 1} after the blip arrived into ${a.concurrency} in flight`,
              );
            assert.ok(Math.max(...back.map((a) => a.concurrency)) > 10, "and speed comes back");
          } finally {
            await receiver.close();
          }
        },
      );
  });
