// Aggregated webhooks in-process (test/helpers/consumers.ts): which bundles a window's close
// sends, what they hold, and windows aligned to the workspace's time zone. The signature and
// headers a real receiver sees: payload.test.ts (user-agent, content-type, signature) and
// bundles.crash.test.ts (bundles signed); the permalink page a bundle links to: test/http/pages.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HOUR, MINUTE, minuteAt, nextBoundary } from "../helpers/clock.js";
import { InProcessConsumers, type ScriptedCall } from "../helpers/consumers.js";
import { validateBundle } from "../helpers/contract.js";
import { DATABASES, sleep, waitFor } from "../helpers/server.js";
import { entry } from "../helpers/workspace.js";

for (const database of DATABASES)
  describe(`aggregated webhooks: windows and their bundles (${database})`, () => {
    let h: InProcessConsumers;
    before(async () => {
      h = await InProcessConsumers.open(database);
      await h.start();
    });
    after(async () => h?.close());

    const sentTo = (workspaceId: string) => () => h.deliverer.calls.filter((c) => c.workspaceId === workspaceId);
    /** Exactly `n` bundles sent: waited for, then none more a moment later. */
    const exactly = async (sent: () => ScriptedCall[], n: number, what: string) => {
      await waitFor(() => sent().length >= n, what);
      await sleep(200);
      assert.equal(sent().length, n, what);
      return sent();
    };
    const byChat = (calls: ScriptedCall[], chatName: string) => {
      const c = calls.find((x) => x.json?.chat?.full_name === chatName);
      assert.ok(c, `no bundle for chat ${chatName}`);
      return c;
    };

    it("sends exactly the expected bundles of two windows and two chats, only once each window closes", async () => {
      const B = nextBoundary(h.clock.now(), 1);
      h.advanceTo(B + 5 * MINUTE);
      const ws = await h.workspace("Windows");
      const wh = await h.webhook(ws.id, { aggregation: "1h" });
      const sent = sentTo(ws.id);
      const evil = `<script>alert("x")</script> & 'q'\nline2 👋`;
      const tom = `Tom & "Jerry"`;
      // Window 1: chat A gets its messages out of timestamp order (and a tie), chat B the hostile text and an attachment.
      const w1 = await h.ingestEntries(ws, [
        entry(ws, { contact: "972540000001", text: "second", name: tom, timestamp: "2021-02-24T16:30:00Z" }),
        entry(ws, { contact: "972540000001", text: "first", name: tom, timestamp: "2021-02-24T16:25:29Z" }),
        entry(ws, { contact: "972540000001", text: "tie", name: tom, timestamp: 1614184200 }),
        entry(ws, { contact: "972540000002", text: evil, name: "Bea", timestamp: "2021-02-24T17:00:00Z" }),
        entry(ws, { contact: "972540000002", text: "", name: "Bea", type: "image", timestamp: "2021-02-24T17:01:00Z" }),
      ]);
      assert.deepEqual(
        w1.map((r) => r.status),
        ["accepted", "accepted", "accepted", "accepted", "skipped"],
      );

      h.advanceTo(B + 59 * MINUTE);
      await sleep(300);
      assert.equal(sent().length, 0, "nothing is sent before the window closes");

      // The close itself sends them: no later clock move is needed.
      h.advanceTo(B + HOUR + 1000);
      const first = await exactly(sent, 2, "window 1: one bundle per chat");
      for (const c of first) {
        validateBundle(c.json);
        assert.deepEqual(c.secrets, [wh.secret], "signed with the webhook's secret");
        assert.equal(c.url, wh.url);
        assert.equal(c.json.whatsapp_account.phone, ws.phone);
        assert.equal(c.json.whatsapp_account.full_name, ws.owner.full_name);
        assert.equal(c.json.whatsapp_account.email, ws.owner.email);
        assert.equal(c.json.chat.is_new_chat, true, "both chats were created in window 1");
      }
      assert.notEqual(first[0]!.id, first[1]!.id);

      const a = byChat(first, tom).json;
      assert.deepEqual(
        a.messages.map((m: { text: string }) => m.text),
        ["first", "second", "tie"],
        "timestamp order, ties in storage order",
      );
      assert.deepEqual(
        a.messages.map((m: { message_id: string }) => m.message_id),
        [w1[1]!.message_id, w1[0]!.message_id, w1[2]!.message_id],
      );
      assert.equal(a.first_message_timestamp, "2021-02-24T16:25:29+0000");
      assert.equal(a.last_message_timestamp, "2021-02-24T16:30:00+0000");
      // The link opens the conversation at its first message: that message's permalink, as the API shows it.
      const linkA = await h.permalinkOf(ws.id, w1[1]!.message_id);
      assert.match(new URL(linkA).pathname, /^\/permalink\/[0-9a-f-]{36}\/$/);
      const who = "Tom &amp; &quot;Jerry&quot;";
      assert.equal(
        a.aggregation,
        `from ${who} on 2021-02-24 16:25: first<br/>from ${who} on 2021-02-24 16:30: second<br/>from ${who} on 2021-02-24 16:30: tie` +
          `<br/>Click <a href='${linkA}'>here</a> to open the conversation in Threadline`,
      );

      const b = byChat(first, "Bea").json;
      assert.equal(b.messages.length, 1, "the attachment is skipped");
      assert.equal(b.messages[0].text, evil, "the JSON text is the text as it is");
      const linkB = await h.permalinkOf(ws.id, w1[3]!.message_id);
      assert.equal(
        b.aggregation,
        `from Bea on 2021-02-24 17:00: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;<br/>line2 👋` +
          `<br/>Click <a href='${linkB}'>here</a> to open the conversation in Threadline`,
      );
      assert.doesNotMatch(b.aggregation, /<script|"x"|'q'/);

      // Window 2: more of chat A, a late message (its timestamp is in window 1) in chat B, a new chat C.
      const lateTs = new Date(B + 10 * MINUTE).toISOString();
      const w2 = await h.ingestEntries(ws, [
        entry(ws, { contact: "972540000001", text: "third", name: tom, timestamp: "2021-02-24T18:00:00Z" }),
        entry(ws, { contact: "972540000002", text: "late one", name: "Bea", timestamp: lateTs }),
        entry(ws, { contact: "972540000003", text: "hello from C", name: "Cy", timestamp: "2021-02-24T18:05:00Z" }),
      ]);
      h.advanceTo(B + HOUR + 59 * MINUTE);
      await sleep(300);
      assert.equal(sent().length, 2, "window 2 is still open");
      h.advanceTo(B + 2 * HOUR + 1000);
      const all = await exactly(sent, 5, "window 2 bundles");
      const second = all.slice(2);
      for (const c of second) {
        validateBundle(c.json);
        assert.deepEqual(c.secrets, [wh.secret]);
      }
      assert.equal(new Set(all.map((c) => c.id)).size, 5, "every bundle has its own webhook-id");
      const a2 = byChat(second, tom).json;
      assert.deepEqual(
        a2.messages.map((m: { text: string }) => m.text),
        ["third"],
      );
      assert.equal(a2.chat.is_new_chat, false);
      const b2 = byChat(second, "Bea").json;
      assert.deepEqual(
        b2.messages.map((m: { message_id: string }) => m.message_id),
        [w2[1]!.message_id],
        "the late message lands in the window open when it was stored",
      );
      assert.equal(b2.first_message_timestamp, lateTs.slice(0, 19) + "+0000");
      assert.equal(b2.chat.is_new_chat, false);
      const c2 = byChat(second, "Cy").json;
      assert.equal(c2.chat.is_new_chat, true);
      assert.equal(c2.chat.phone, "+972540000003");
      assert.deepEqual(h.errors, []);
    });

    it("aligns to a non-UTC workspace (Asia/Kolkata, +05:30): 1h at :30 UTC, 24h at local midnight, times shown locally", async () => {
      const offset = 330;
      let K = nextBoundary(h.clock.now(), 1, offset);
      // The local midnight must come after the hourly part below, whatever the time of day.
      while (nextBoundary(K + 2 * MINUTE, 24, offset) <= K + HOUR + 2 * MINUTE) K += HOUR;
      assert.equal(new Date(K).getUTCMinutes(), 30);
      h.advanceTo(K + 2 * MINUTE);
      const hourly = await h.workspace("Kolkata hourly", { timezone: "Asia/Kolkata" });
      const hourlyHook = await h.webhook(hourly.id, { aggregation: "1h" });
      const daily = await h.workspace("Kolkata daily", { timezone: "Asia/Kolkata" });
      await h.webhook(daily.id, { aggregation: "24h" });
      const sentHourly = sentTo(hourly.id);
      const sentDaily = sentTo(daily.id);
      const r1 = await h.ingestEntries(hourly, [
        entry(hourly, { contact: "919800000001", text: "namaste", name: "Ravi", timestamp: "2021-02-24T16:25:29Z" }),
        entry(hourly, {
          contact: "919800000001",
          text: "late night",
          name: "Ravi",
          timestamp: "2021-02-24T20:00:00Z",
          direction: "sent",
        }),
      ]);
      await h.ingestEntries(daily, [
        entry(daily, { contact: "919800000002", text: "daily hello", name: "Dev", timestamp: "2021-02-24T16:25:29Z" }),
      ]);

      // A UTC-aligned hour would close at K+30min.
      h.advanceTo(K + 59 * MINUTE);
      await sleep(300);
      assert.equal(sentHourly().length, 0, "the local hour has not ended");
      h.advanceTo(K + HOUR + 1000);
      const [hb] = await exactly(sentHourly, 1, "Kolkata hourly bundle");
      validateBundle(hb!.json);
      assert.deepEqual(hb!.secrets, [hourlyHook.secret]);
      const link = await h.permalinkOf(hourly.id, r1[0]!.message_id);
      assert.equal(minuteAt(Date.parse("2021-02-24T16:25:29Z"), offset), "2021-02-24 21:55");
      assert.equal(
        hb!.json.aggregation,
        `from Ravi on 2021-02-24 21:55: namaste<br/>from Amnon Haha on 2021-02-25 01:30: late night` +
          `<br/>Click <a href='${link}'>here</a> to open the conversation in Threadline`,
      );
      assert.equal(hb!.json.messages[1].sender.full_name, "Amnon Haha");

      // 24h: exactly at local midnight (18:30 UTC), not UTC midnight.
      const M = nextBoundary(K + 2 * MINUTE, 24, offset);
      assert.equal(new Date(M).toISOString().slice(11, 16), "18:30");
      h.advanceTo(M - MINUTE);
      await sleep(300);
      assert.equal(sentDaily().length, 0, "the local day has not ended");
      h.advanceTo(M + 1000);
      const [d] = await exactly(sentDaily, 1, "Kolkata daily bundle");
      validateBundle(d!.json);
      assert.equal(d!.json.messages[0].text, "daily hello");
      assert.match(
        d!.json.aggregation,
        /^from Dev on 2021-02-24 21:55: daily hello<br\/>Click <a href='http[^']+\/permalink\/[0-9a-f-]{36}\/'>here<\/a> to open the conversation in Threadline$/,
      );
      assert.equal(sentHourly().length, 1, "quiet hours send nothing");
      assert.deepEqual(h.errors, []);
    });
  });
