/**
 * Recovering a failing webhook (issue 24, items 1 and 9), both databases: `POST …/retry`
 * tries what waits at once instead of at the next retry (minutes away); a resend that
 * succeeds does the same; each change of state is one line in the server log, without the
 * URL or a secret.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import {
  assertError,
  getWebhook,
  idsOf,
  ingest,
  space,
  texts,
  waitFailures,
  type Space,
  type WebhookRef,
} from "../helpers/workspace.js";

for (const database of DATABASES) {
  describe(`retry now (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let s: Space & { webhook: WebhookRef };
    let other: Space;

    before(async () => {
      [server, receiver] = await Promise.all([
        TestServer.start({ database, env: { LOG_LEVEL: "info" } }),
        Receiver.start(),
      ]);
      s = await space(server, { receiver });
      other = await space(server);
    });
    after(async () => Promise.all([server?.stop(), receiver?.close()]));

    const retry = (id: string, token: string = s.key) => server.api("POST", `/api/v1/webhooks/${id}/retry`, { token });
    const delivered = (id: string) => [...receiver.accepted.values()].some((r) => r.messageId === id);

    it("a failing webhook whose receiver is back delivers what waits at once, not at the next retry", async () => {
      assert.deepEqual((await retry(s.webhook.id)).json, { retrying: false }, "nothing to retry while healthy");
      receiver.answer({ status: 500, body: "down" });
      const [first, second] = idsOf(
        await ingest(
          server,
          s,
          texts(s, [
            [1, "one"],
            [2, "two"],
          ]),
        ),
      );
      await waitFailures(server, s.key, s.webhook.id, 1);
      // A second error: the next retry is now 30 s away, longer than this test waits.
      await server.advance(6_000);
      await waitFailures(server, s.key, s.webhook.id, 2);
      receiver.answer({ status: 200, body: "ok" });
      const r = await retry(s.webhook.id);
      assert.equal(r.status, 202, r.text);
      assert.deepEqual(r.json, { retrying: true });
      await waitFor(
        () => delivered(first!) && delivered(second!),
        "what waited, delivered before its next retry",
        20_000,
      );
      assert.equal((await getWebhook(server, s.key, s.webhook.id)).consecutive_failures, 0);
      await waitFor(
        () => /webhook failing: /.test(server.output) && /webhook recovered/.test(server.output),
        "a log line each for failing and recovered",
      );
      assert.ok(
        !server.output.includes(receiver.url),
        "the log never carries the webhook's URL (receivers put secrets in it)",
      );
    });

    it("a resend that succeeds while failing also tries what waits at once", async () => {
      receiver.answer({ status: 503, body: "down" });
      const [a, b] = idsOf(
        await ingest(
          server,
          s,
          texts(s, [
            [1, "three"],
            [3, "four"],
          ]),
        ),
      );
      await waitFailures(server, s.key, s.webhook.id, 1);
      await server.advance(6_000);
      await waitFailures(server, s.key, s.webhook.id, 2);
      receiver.answer({ status: 200, body: "ok" });
      const deliveries = (
        await server.api("GET", `/api/v1/webhooks/${s.webhook.id}/deliveries?status=failed`, { token: s.key })
      ).json.items;
      const failed = deliveries[0].delivery_id as string;
      const resent = await server.api("POST", `/api/v1/webhooks/${s.webhook.id}/deliveries/${failed}/resend`, {
        token: s.key,
      });
      assert.equal(resent.status, 200, resent.text);
      await waitFor(
        () => delivered(a!) && delivered(b!),
        "what waited, delivered after the resend, before its next retry",
        20_000,
      );
    });

    it("refuses what it cannot do: switched off (409 naming enabled), another workspace's webhook (404), no key (401)", async () => {
      assertError(await retry(s.webhook.id, ""), 401, "UNAUTHORIZED");
      assertError(await retry(s.webhook.id, other.key), 404, "NOT_FOUND");
      const off = await server.api("PATCH", `/api/v1/webhooks/${s.webhook.id}`, {
        token: s.key,
        body: { enabled: false },
      });
      assert.equal(off.status, 200, off.text);
      assertError(await retry(s.webhook.id), 409, "CONFLICT", "enabled");
    });
  });
}
