import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RETRY_SCHEDULE_MS } from "../../src/webhooks/policy.js";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, sleep, TestServer, waitFor } from "../helpers/server.js";
import { startSmtp } from "../helpers/smtp.js";
import {
  createWebhook,
  getLog,
  getWebhook,
  idsOf,
  ingest,
  notifications,
  space,
  texts,
  waitFailures,
} from "../helpers/workspace.js";

/** The backoff after the n-th consecutive error, without and with its ±10 % jitter. */
const base = (n: number) => RETRY_SCHEDULE_MS[Math.min(n, RETRY_SCHEDULE_MS.length) - 1]!;

for (const database of DATABASES)
  describe(`failing webhook: warning at the 5th error, disabled after the 11th, e-mail through SMTP (${database})`, () => {
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    let receiver: Receiver;
    let server: TestServer;

    before(async () => {
      smtp = await startSmtp();
      receiver = await Receiver.start();
      receiver.answer({ status: 500 });
      server = await TestServer.start({
        database,
        env: { THREADLINE_SMTP_URL: smtp.url, THREADLINE_MAIL_FROM: "Threadline Alerts <alerts@threadline.test>" },
      });
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
      await smtp?.close();
    });

    it("backs off between attempts, stays enabled through 10 errors, disables at the 11th and mails the owner", async () => {
      const s = await space(server);
      const wh = await createWebhook(server, s.key, receiver.url);
      const [messageId] = idsOf(await ingest(server, s, texts(s, [[1, "Is anyone there?"]])));
      await waitFailures(server, s.key, wh.id, 1);

      for (let n = 1; n <= 10; n++) {
        const view = await getWebhook(server, s.key, wh.id);
        assert.equal(view.enabled, true, `still enabled after ${n} errors`);
        assert.equal(view.consecutive_failures, n);
        assert.equal(receiver.requests.length, n, "one attempt per backoff step");
        // Not before the backoff (at least 90 % of the schedule's delay) ...
        await server.advance(Math.floor(base(n) * 0.9) - 1000);
        await sleep(250);
        assert.equal(receiver.requests.length, n, `no retry before the backoff after error ${n}`);
        // ... and at once after it (at most 110 %).
        await server.advance(Math.ceil(base(n) * 0.2) + 2000);
        if (n < 10) await waitFailures(server, s.key, wh.id, n + 1);
      }

      const disabled = await waitFor(async () => {
        const v = await getWebhook(server, s.key, wh.id);
        return v.enabled ? undefined : v;
      }, "the webhook to be disabled");
      assert.equal(disabled.disabled_reason, "consecutive_failures");
      assert.equal(disabled.consecutive_failures, 11);
      assert.equal(receiver.requests.length, 11);
      assert.equal(new Set(receiver.requests.map((r) => r.id)).size, 1, "every retry carries the same webhook-id");
      assert.equal(receiver.requests[0]!.messageId, messageId);

      // Every attempt is in the log, numbered, with the receiver's answer.
      const log = await getLog(server, s.key, wh.id);
      assert.equal(log.length, 11);
      assert.deepEqual(log.map((e) => e.attempt).reverse(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      for (const e of log) {
        assert.equal(e.response?.status, 500);
        assert.equal(e.error?.code, "HTTP_ERROR");
      }
      const activity = (await server.api("GET", `/api/v1/webhooks/${wh.id}/activity`, { token: s.key })).json.items as {
        kind: string;
      }[];
      assert.equal(activity[0]!.kind, "disabled");

      // Disabled means disabled: the clock moving on sends nothing.
      await server.advance(3 * 3600_000);
      await sleep(1200);
      assert.equal(receiver.requests.length, 11);

      // The SMTP server got the warning, then the disable e-mail, both to the owner.
      await waitFor(() => smtp.mails.length >= 2, "two e-mails");
      await sleep(300);
      assert.equal(smtp.mails.length, 2, smtp.mails.map((m) => m.subject).join(" | "));
      const [warning, off] = smtp.mails as [(typeof smtp.mails)[0], (typeof smtp.mails)[0]];
      for (const m of [warning, off]) {
        assert.deepEqual(m.to, [s.owner.email]);
        assert.equal(m.from, "alerts@threadline.test");
        assert.match(m.text, new RegExp(wh.id));
        assert.ok(m.text.includes(receiver.url), "names the webhook's URL");
        assert.match(m.text, /HTTP_ERROR: The receiver answered 500/);
      }
      assert.match(warning.subject, /failing/i);
      assert.match(warning.text, /failed 5 times in a row/);
      assert.match(off.subject, /disabled/i);
      assert.match(off.text, /was disabled on \d{4}-\d\d-\d\dT/);
      assert.match(off.text, /failing since \d{4}-\d\d-\d\dT/);
      assert.match(off.text, /more than 10 consecutive errors/);
      assert.match(off.text, new RegExp(`PATCH \\S+/api/v1/webhooks/${wh.id} with`));
      assert.match(off.text, /\{"enabled": true\}/, "says how to re-enable");

      // The outbox keeps both, marked delivered.
      await waitFor(
        async () => (await notifications(server, s.key)).filter((n) => n.delivered).length === 2,
        "both notifications delivered",
      );
      const kept = await notifications(server, s.key);
      assert.deepEqual(
        kept.map((n) => [n.subject, n.to, n.delivered]),
        [
          [off.subject, s.owner.email, true],
          [warning.subject, s.owner.email, true],
        ],
      );
    });
  });

for (const database of DATABASES)
  describe(`failing webhook without SMTP: the e-mails wait in the notifications outbox; 410 Gone disables at once (${database})`, () => {
    let receiver: Receiver;
    let server: TestServer;

    before(async () => {
      receiver = await Receiver.start();
      receiver.answer({ status: 503, headers: { "retry-after": "120" } });
      server = await TestServer.start({ database, env: { THREADLINE_SMTP_URL: undefined } });
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    it("keeps the warning and the disable e-mail undelivered in GET /api/v1/notifications", async () => {
      const s = await space(server);
      const wh = await createWebhook(server, s.key, receiver.url);
      idsOf(await ingest(server, s, texts(s, [[7, "hello"]])));
      await waitFailures(server, s.key, wh.id, 1);
      // 503 with Retry-After: 120 s is honoured instead of the 5 s backoff.
      await server.advance(20_000);
      await sleep(300);
      assert.equal(receiver.requests.length, 1, "Retry-After is honoured");
      receiver.answer({ status: 500 });
      await server.advance(101_000);
      await waitFailures(server, s.key, wh.id, 2);
      // Any error counts: a redirect (not followed), a 4xx, a 5xx.
      const answers = [{ status: 302, headers: { location: "http://example.com/" } }, { status: 404 }, { status: 500 }];
      for (let n = 2; n < 5; n++) {
        receiver.answer(answers[n - 2]!);
        await server.advance(Math.ceil(base(n) * 1.1) + 1000);
        await waitFailures(server, s.key, wh.id, n + 1);
      }
      const codes = (await getLog(server, s.key, wh.id)).map((e) => `${e.response?.status} ${e.error?.code}`).reverse();
      assert.deepEqual(codes, ["503 HTTP_ERROR", "500 HTTP_ERROR", "302 REDIRECT", "404 HTTP_ERROR", "500 HTTP_ERROR"]);
      const warning = await waitFor(
        async () => (await notifications(server, s.key)).find((n) => /failing/i.test(n.subject)),
        "the warning in the outbox",
      );
      assert.equal(warning.delivered, false);
      assert.equal(warning.to, s.owner.email);
      assert.ok(warning.text.includes(wh.id) && warning.text.includes(receiver.url));
      assert.match(warning.text, /The receiver answered 500/);

      // The receiver says the endpoint is gone: disabled on that answer, not after 11.
      receiver.answer({ status: 410 });
      await server.advance(Math.ceil(base(5) * 1.1) + 1000);
      const off = await waitFor(async () => {
        const v = await getWebhook(server, s.key, wh.id);
        return v.enabled ? undefined : v;
      }, "disabled by 410");
      assert.equal(off.consecutive_failures, 6);
      assert.equal(off.disabled_reason, "gone");
      const mail = await waitFor(
        async () => (await notifications(server, s.key)).find((n) => /disabled/i.test(n.subject)),
        "the disable e-mail in the outbox",
      );
      assert.equal(mail.delivered, false);
      assert.equal(mail.to, s.owner.email);
      assert.match(mail.text, /410 Gone/);
      assert.match(mail.text, /\{"enabled": true\}/);
      assert.equal((await notifications(server, s.key)).length, 2);
      // ... and the log says where they are (the line may reach this process after the row is read).
      await waitFor(() => /notifications outbox/.test(server.output), "the log line naming the outbox");
    });
  });
