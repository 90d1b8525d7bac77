// One deadline per attempt (10 s from connect to the last byte kept): a receiver that
// answers its headers at once and then trickles its body, and one that never answers at all,
// are cut at 10 s and counted as a timeout; a large body is kept up to 64 KiB and the rest is
// not read.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { createWebhook, getLog, getWebhook, idsOf, ingest, space, texts } from "../helpers/workspace.js";

/** A receiver whose answer to the `n`-th request is decided by `answer`. */
async function startReceiver(answer: (res: http.ServerResponse, n: number) => void) {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => answer(res, ++n));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

for (const database of DATABASES)
  describe(`one deadline per attempt (${database})`, () => {
    let server: TestServer;
    before(async () => {
      server = await TestServer.start({ database });
    });
    after(async () => {
      await server?.stop();
    });

    it(
      "a body trickled a byte every 200 ms, and an answer that never comes, are cut at 10 s and counted as a timeout",
      { timeout: 60_000 },
      async () => {
        const timers = new Set<NodeJS.Timeout>();
        let closedAt = 0;
        const receiver = await startReceiver((res) => {
          res.writeHead(200, { "content-type": "text/plain" });
          const t = setInterval(() => res.write("."), 200);
          timers.add(t);
          res.on("close", () => {
            clearInterval(t);
            closedAt = Date.now();
          });
        });
        // Never answers: no status line, no headers (the two waits overlap, so the test takes 10 s once).
        const silent = await startReceiver(() => {});
        try {
          const s = await space(server);
          const wh = await createWebhook(server, s.key, receiver.url);
          const quiet = await space(server);
          const quietHook = await createWebhook(server, quiet.key, silent.url);
          const sentAt = Date.now();
          idsOf(await ingest(server, s, texts(s, [[1, "slow"]])));
          idsOf(await ingest(server, quiet, texts(quiet, [[1, "no answer"]])));
          const view = await waitFor(
            async () => {
              const v = await getWebhook(server, s.key, wh.id);
              return v.consecutive_failures === 1 ? v : undefined;
            },
            "the timeout counted",
            30_000,
          );
          assert.equal(view.enabled, true);
          const [entry] = await getLog(server, s.key, wh.id);
          assert.equal(entry!.error?.code, "TIMEOUT");
          assert.match(entry!.error!.message, /within 10 s/);
          assert.ok(entry!.duration_ms >= 9_900 && entry!.duration_ms < 12_000, `cut after ${entry!.duration_ms} ms`);
          // Threadline closed the connection: the receiver saw it end, about 10 s in.
          await waitFor(() => closedAt > 0, "the connection closed by Threadline");
          assert.ok(closedAt - sentAt < 13_000, `closed ${closedAt - sentAt} ms after the message was sent`);

          await waitFor(
            async () => (await getWebhook(server, quiet.key, quietHook.id)).consecutive_failures === 1,
            "the silent receiver's timeout counted",
            30_000,
          );
          const [unanswered] = await getLog(server, quiet.key, quietHook.id);
          assert.equal(unanswered!.error?.code, "TIMEOUT");
          assert.match(unanswered!.error!.message, /within 10 s/);
          assert.equal(unanswered!.response, null);
          assert.ok(
            unanswered!.duration_ms >= 9_900 && unanswered!.duration_ms < 12_000,
            `cut after ${unanswered!.duration_ms} ms`,
          );
        } finally {
          for (const t of timers) clearInterval(t);
          await receiver.close();
          await silent.close();
        }
      },
    );

    it("a large answer is kept up to 64 KiB and the rest is not read", { timeout: 60_000 }, async () => {
      let written = 0;
      let ended = false;
      const receiver = await startReceiver((res) => {
        res.writeHead(200, { "content-type": "text/plain" });
        // 64 MiB offered, in 64 KiB writes as fast as the client reads them.
        const chunk = Buffer.alloc(64 * 1024, "x");
        const pump = () => {
          while (written < 64 * 1024 * 1024) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once("drain", pump);
          }
          ended = true;
          res.end();
        };
        res.on("close", () => res.removeAllListeners("drain"));
        pump();
      });
      try {
        const s = await space(server);
        const wh = await createWebhook(server, s.key, receiver.url);
        idsOf(await ingest(server, s, texts(s, [[2, "big"]])));
        const entry = await waitFor(async () => (await getLog(server, s.key, wh.id))[0], "the attempt in the log");
        assert.equal(entry.error, null, JSON.stringify(entry.error));
        assert.equal(entry.response?.status, 200);
        assert.equal((entry.response as unknown as { body: string }).body.length, 64 * 1024);
        assert.equal(ended, false, "the receiver never got to write all of it");
        assert.ok(written < 16 * 1024 * 1024, `${written} bytes written before the client went away`);
      } finally {
        await receiver.close();
      }
    });
  });
