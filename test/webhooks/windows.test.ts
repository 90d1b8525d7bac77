import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { windowEndAfter, windowStartOf } from "../../src/webhooks/windows.js";
import { advanceTo, HOUR, MINUTE, minuteAt, nextBoundary, serverNow } from "../helpers/clock.js";
import { assertSigned, validateBundle } from "../helpers/contract.js";
import { received, type ReceivedRequest, Receiver, waitForCount } from "../helpers/receiver.js";
import { DATABASES, sleep, TestServer } from "../helpers/server.js";
import { entry, ingest, space, type Space, type WebhookRef } from "../helpers/workspace.js";
import { ownerCookie } from "../helpers/people.js";

describe("window alignment (unit)", () => {
  const iso = (ms: number) => new Date(ms).toISOString();
  it("aligns 1h, 6h, 12h and 24h windows to the workspace's wall clock", () => {
    const t = Date.parse("2021-02-24T16:25:29Z");
    assert.equal(iso(windowEndAfter(t, "UTC", 1)), "2021-02-24T17:00:00.000Z");
    assert.equal(iso(windowStartOf(t, "UTC", 1)), "2021-02-24T16:00:00.000Z");
    assert.equal(iso(windowEndAfter(t, "UTC", 6)), "2021-02-24T18:00:00.000Z");
    assert.equal(iso(windowEndAfter(t, "UTC", 12)), "2021-02-25T00:00:00.000Z");
    assert.equal(iso(windowEndAfter(t, "UTC", 24)), "2021-02-25T00:00:00.000Z");
    // Kolkata is +05:30: hours start at :30 UTC, local midnight is 18:30 UTC.
    assert.equal(iso(windowEndAfter(t, "Asia/Kolkata", 1)), "2021-02-24T16:30:00.000Z");
    assert.equal(iso(windowStartOf(t, "Asia/Kolkata", 1)), "2021-02-24T15:30:00.000Z");
    assert.equal(iso(windowEndAfter(t, "Asia/Kolkata", 6)), "2021-02-24T18:30:00.000Z");
    assert.equal(iso(windowStartOf(t, "Asia/Kolkata", 6)), "2021-02-24T12:30:00.000Z");
    assert.equal(
      iso(windowEndAfter(Date.parse("2021-02-24T19:00:00Z"), "Asia/Kolkata", 12)),
      "2021-02-25T06:30:00.000Z",
    );
    assert.equal(iso(windowEndAfter(t, "Asia/Kolkata", 24)), "2021-02-24T18:30:00.000Z");
    assert.equal(iso(windowStartOf(t, "Asia/Kolkata", 24)), "2021-02-23T18:30:00.000Z");
    // A boundary itself starts the next window.
    assert.equal(iso(windowEndAfter(Date.parse("2021-02-24T17:00:00Z"), "UTC", 1)), "2021-02-24T18:00:00.000Z");
    assert.equal(iso(windowStartOf(Date.parse("2021-02-24T17:00:00Z"), "UTC", 1)), "2021-02-24T17:00:00.000Z");
  });

  it("follows daylight saving time (24h windows end at local midnight)", () => {
    // New York switched to EDT on 2021-03-14 at 02:00 local.
    assert.equal(
      iso(windowEndAfter(Date.parse("2021-03-14T03:00:00Z"), "America/New_York", 24)),
      "2021-03-14T05:00:00.000Z",
    );
    assert.equal(
      iso(windowEndAfter(Date.parse("2021-03-14T12:00:00Z"), "America/New_York", 24)),
      "2021-03-15T04:00:00.000Z",
    );
    assert.equal(
      iso(windowEndAfter(Date.parse("2021-03-14T06:30:00Z"), "America/New_York", 1)),
      "2021-03-14T07:00:00.000Z",
    );
    assert.equal(
      iso(windowEndAfter(Date.parse("2021-03-14T07:00:00Z"), "America/New_York", 1)),
      "2021-03-14T08:00:00.000Z",
    );
  });
});

for (const database of DATABASES)
  describe(`aggregated webhooks with the test clock (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    before(async () => {
      [server, receiver] = await Promise.all([TestServer.start({ database }), Receiver.start()]);
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    const byChat = (reqs: ReceivedRequest[], chatName: string) => {
      const r = reqs.find((x) => x.json?.chat?.full_name === chatName);
      assert.ok(r, `no bundle for chat ${chatName}`);
      return r;
    };
    const permalinkOf = async (s: Space & { webhook: WebhookRef }, chatId: string, messageId: string) => {
      const r = await server.api("GET", `/api/v1/chats/${chatId}/messages?limit=200`, { token: s.key });
      assert.equal(r.status, 200, r.text);
      const m = r.json.items.find((x: { message_id: string }) => x.message_id === messageId);
      assert.ok(m, `message ${messageId} not in chat ${chatId}`);
      return m.permalink as string;
    };

    it("sends exactly the expected bundles of two windows and two chats, only once each window closes", async () => {
      const B = nextBoundary(await serverNow(server), 1);
      await advanceTo(server, B + 5 * MINUTE);
      const s = await space(server, { webhookUrl: `${receiver.url}?t=utc`, aggregation: "1h" });
      const evil = `<script>alert("x")</script> & 'q'\nline2 👋`;
      const tom = `Tom & "Jerry"`;
      // Window 1: chat A gets its messages out of timestamp order (and a tie), chat B the hostile text and an attachment.
      const w1 = await ingest(server, s, [
        entry(s, { contact: "972540000001", text: "second", name: tom, timestamp: "2021-02-24T16:30:00Z" }),
        entry(s, { contact: "972540000001", text: "first", name: tom, timestamp: "2021-02-24T16:25:29Z" }),
        entry(s, { contact: "972540000001", text: "tie", name: tom, timestamp: 1614184200 }),
        entry(s, { contact: "972540000002", text: evil, name: "Bea", timestamp: "2021-02-24T17:00:00Z" }),
        entry(s, { contact: "972540000002", text: "", name: "Bea", type: "image", timestamp: "2021-02-24T17:01:00Z" }),
      ]);
      assert.deepEqual(
        w1.results.map((r) => r.status),
        ["accepted", "accepted", "accepted", "accepted", "skipped"],
      );

      await advanceTo(server, B + 59 * MINUTE);
      await sleep(1200);
      assert.equal(received(receiver, "t=utc").length, 0, "nothing is sent before the window closes");

      const closedAt = Date.now();
      await advanceTo(server, B + HOUR + 1000);
      const first = await waitForCount(receiver, "t=utc", 2, "window 1 bundles");
      assert.ok(
        Date.now() - closedAt < 3000,
        `bundles arrive within seconds of the close (${Date.now() - closedAt} ms)`,
      );
      await sleep(300);
      assert.equal(received(receiver, "t=utc").length, 2, "one bundle per chat");
      for (const r of first) {
        validateBundle(r.json);
        assertSigned(r, s.webhook.secret);
        assert.equal(r.headers["content-type"], "application/json");
        assert.match(String(r.headers["user-agent"]), /^Threadline\//);
        assert.equal(r.json.whatsapp_account.phone, s.phone);
        assert.equal(r.json.whatsapp_account.full_name, s.owner.full_name);
        assert.equal(r.json.whatsapp_account.email, s.owner.email);
        assert.equal(r.json.chat.is_new_chat, true, "both chats were created in window 1");
      }
      assert.notEqual(first[0]!.headers["webhook-id"], first[1]!.headers["webhook-id"]);

      const a = byChat(first, tom).json;
      assert.deepEqual(
        a.messages.map((m: { text: string }) => m.text),
        ["first", "second", "tie"],
        "timestamp order, ties in storage order",
      );
      assert.deepEqual(
        a.messages.map((m: { message_id: string }) => m.message_id),
        [w1.results[1]!.message_id, w1.results[0]!.message_id, w1.results[2]!.message_id],
      );
      assert.equal(a.first_message_timestamp, "2021-02-24T16:25:29+0000");
      assert.equal(a.last_message_timestamp, "2021-02-24T16:30:00+0000");
      const linkA = await permalinkOf(s, a.chat.chat_id, w1.results[1]!.message_id);
      const who = "Tom &amp; &quot;Jerry&quot;";
      assert.equal(
        a.aggregation,
        `from ${who} on 2021-02-24 16:25: first<br/>from ${who} on 2021-02-24 16:30: second<br/>from ${who} on 2021-02-24 16:30: tie` +
          `<br/>Click <a href='${linkA}'>here</a> to open the conversation in Threadline`,
      );

      const b = byChat(first, "Bea").json;
      assert.equal(b.messages.length, 1, "the attachment is skipped");
      assert.equal(b.messages[0].text, evil, "the JSON text is the text as it is");
      const linkB = await permalinkOf(s, b.chat.chat_id, w1.results[3]!.message_id);
      assert.equal(
        b.aggregation,
        `from Bea on 2021-02-24 17:00: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;<br/>line2 👋` +
          `<br/>Click <a href='${linkB}'>here</a> to open the conversation in Threadline`,
      );
      assert.doesNotMatch(b.aggregation, /<script|"x"|'q'/);

      // Window 2: more of chat A, a late message (its timestamp is in window 1) in chat B, a new chat C.
      const lateTs = new Date(B + 10 * MINUTE).toISOString();
      const w2 = await ingest(server, s, [
        entry(s, { contact: "972540000001", text: "third", name: tom, timestamp: "2021-02-24T18:00:00Z" }),
        entry(s, { contact: "972540000002", text: "late one", name: "Bea", timestamp: lateTs }),
        entry(s, { contact: "972540000003", text: "hello from C", name: "Cy", timestamp: "2021-02-24T18:05:00Z" }),
      ]);
      await advanceTo(server, B + HOUR + 59 * MINUTE);
      await sleep(1000);
      assert.equal(received(receiver, "t=utc").length, 2, "window 2 is still open");
      await advanceTo(server, B + 2 * HOUR + 1000);
      const all = await waitForCount(receiver, "t=utc", 5, "window 2 bundles");
      await sleep(300);
      assert.equal(received(receiver, "t=utc").length, 5);
      const second = all.slice(2);
      for (const r of second) {
        validateBundle(r.json);
        assertSigned(r, s.webhook.secret);
      }
      assert.equal(new Set(all.map((r) => r.headers["webhook-id"])).size, 5, "every bundle has its own webhook-id");
      const a2 = byChat(second, tom).json;
      assert.deepEqual(
        a2.messages.map((m: { text: string }) => m.text),
        ["third"],
      );
      assert.equal(a2.chat.is_new_chat, false);
      const b2 = byChat(second, "Bea").json;
      assert.deepEqual(
        b2.messages.map((m: { message_id: string }) => m.message_id),
        [w2.results[1]!.message_id],
        "the late message lands in the window open when it was stored",
      );
      assert.equal(b2.first_message_timestamp, lateTs.slice(0, 19) + "+0000");
      assert.equal(b2.chat.is_new_chat, false);
      const c2 = byChat(second, "Cy").json;
      assert.equal(c2.chat.is_new_chat, true);
      assert.equal(c2.chat.phone, "+972540000003");

      // The permalink of the first message opens the conversation with that message highlighted.
      const href = /href='([^']+)'/.exec(a.aggregation)![1]!;
      const pagePath = new URL(href).pathname;
      assert.match(pagePath, /^\/permalink\/[0-9a-f-]{36}\/$/);
      const anon = await fetch(server.url + pagePath);
      const anonHtml = await anon.text();
      assert.match(anonHtml, /<form[^>]*action="\/signin"/, "a signed-out visitor gets a sign-in form");
      assert.match(anonHtml, /name="password"/);
      assert.doesNotMatch(anonHtml, /data-highlighted/);
      const cookie = await ownerCookie(server, s.workspace);
      const page = await fetch(server.url + pagePath, { headers: { cookie } });
      assert.equal(page.status, 200);
      const html = await page.text();
      const highlighted = [...html.matchAll(/<li [^>]*data-highlighted="true"[^>]*>/g)].map((m) => m[0]);
      assert.equal(highlighted.length, 1, "exactly one message is highlighted");
      assert.match(highlighted[0]!, new RegExp(`data-message-id="${w1.results[1]!.message_id}"`));
      assert.match(html, /first/);
    });

    it("aligns to a non-UTC workspace (Asia/Kolkata, +05:30): 1h at :30 UTC, 24h at local midnight, times shown locally", async () => {
      const offset = 330;
      let K = nextBoundary(await serverNow(server), 1, offset);
      // The local midnight must come after the hourly part below, whatever the real time of day.
      while (nextBoundary(K + 2 * MINUTE, 24, offset) <= K + HOUR + 2 * MINUTE) K += HOUR;
      assert.equal(new Date(K).getUTCMinutes(), 30);
      await advanceTo(server, K + 2 * MINUTE);
      const hourly = await space(server, {
        webhookUrl: `${receiver.url}?t=kol1h`,
        aggregation: "1h",
        timezone: "Asia/Kolkata",
      });
      const daily = await space(server, {
        webhookUrl: `${receiver.url}?t=kol24`,
        aggregation: "24h",
        timezone: "Asia/Kolkata",
      });
      const r1 = await ingest(server, hourly, [
        entry(hourly, { contact: "919800000001", text: "namaste", name: "Ravi", timestamp: "2021-02-24T16:25:29Z" }),
        entry(hourly, {
          contact: "919800000001",
          text: "late night",
          name: "Ravi",
          timestamp: "2021-02-24T20:00:00Z",
          direction: "sent",
        }),
      ]);
      await ingest(server, daily, [
        entry(daily, { contact: "919800000002", text: "daily hello", name: "Dev", timestamp: "2021-02-24T16:25:29Z" }),
      ]);

      // A UTC-aligned hour would close at K+30min.
      await advanceTo(server, K + 59 * MINUTE);
      await sleep(1200);
      assert.equal(received(receiver, "t=kol1h").length, 0, "the local hour has not ended");
      await advanceTo(server, K + HOUR + 1000);
      const [h] = await waitForCount(receiver, "t=kol1h", 1, "Kolkata hourly bundle");
      validateBundle(h!.json);
      assertSigned(h!, hourly.webhook.secret);
      const link = await permalinkOf(hourly, h!.json.chat.chat_id, r1.results[0]!.message_id);
      assert.equal(minuteAt(Date.parse("2021-02-24T16:25:29Z"), offset), "2021-02-24 21:55");
      assert.equal(
        h!.json.aggregation,
        `from Ravi on 2021-02-24 21:55: namaste<br/>from Amnon Haha on 2021-02-25 01:30: late night` +
          `<br/>Click <a href='${link}'>here</a> to open the conversation in Threadline`,
      );
      assert.equal(h!.json.messages[1].sender.full_name, "Amnon Haha");

      // 24h: exactly at local midnight (18:30 UTC), not UTC midnight.
      const M = nextBoundary(K + 2 * MINUTE, 24, offset);
      assert.equal(new Date(M).toISOString().slice(11, 16), "18:30");
      await advanceTo(server, M - MINUTE);
      await sleep(1200);
      assert.equal(received(receiver, "t=kol24").length, 0, "the local day has not ended");
      await advanceTo(server, M + 1000);
      const [d] = await waitForCount(receiver, "t=kol24", 1, "Kolkata daily bundle");
      validateBundle(d!.json);
      assert.equal(d!.json.messages[0].text, "daily hello");
      assert.match(
        d!.json.aggregation,
        /^from Dev on 2021-02-24 21:55: daily hello<br\/>Click <a href='http[^']+\/permalink\/[0-9a-f-]{36}\/'>here<\/a> to open the conversation in Threadline$/,
      );
      assert.equal(received(receiver, "t=kol1h").length, 1, "quiet hours send nothing");
    });
  });
