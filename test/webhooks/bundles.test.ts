// Aggregated webhooks in-process (test/helpers/consumers.ts): which bundles a window's close
// sends, what they hold, and windows aligned to the workspace's time zone; open bundles sent
// once by a flush, an aggregation change or a disable; one bundle at a time while the receiver
// fails; what was acknowledged one by one is not bundled again; a blip with many bundles in
// flight is one error. (A real receiver's reset or closed connection: consumer.blip.test.ts;
// bundles across a crash: bundles.crash.test.ts; a flush through another process:
// signals.remote-flush.postgres.test.ts; the flush route's answer: deliveries.test.ts.) The signature and
// headers a real receiver sees: payload.test.ts (user-agent, content-type, signature) and
// bundles.crash.test.ts (bundles signed); the permalink page a bundle links to: test/http/pages.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BY_THREADLINE } from "../../src/audit/index.js";
import { RETRY_SCHEDULE_MS } from "../../src/webhooks/policy.js";
import { updateWorkspace } from "../../src/workspaces/service.js";
import { HOUR, MINUTE, minuteAt, nextBoundary } from "../helpers/clock.js";
import { InProcessConsumers, type ScriptedCall } from "../helpers/consumers.js";
import { validateBundle } from "../helpers/contract.js";
import { DATABASES, sleep, waitFor } from "../helpers/server.js";
import { entry } from "../helpers/workspace.js";

for (const database of DATABASES)
  describe(`aggregated webhooks (${database})`, () => {
    let h: InProcessConsumers;
    before(async () => {
      h = await InProcessConsumers.open(database);
      await h.start();
    });
    after(async () => h?.close());

    const sentTo = (workspaceId: string) => () => h.deliverer.callsOf(workspaceId);
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

    describe("windows and their bundles", () => {
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
          entry(ws, {
            contact: "972540000002",
            text: "",
            name: "Bea",
            type: "image",
            timestamp: "2021-02-24T17:01:00Z",
          }),
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
          entry(daily, {
            contact: "919800000002",
            text: "daily hello",
            name: "Dev",
            timestamp: "2021-02-24T16:25:29Z",
          }),
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

    describe("open bundles go out once: flush, aggregation change, disable", () => {
      it("a flush sends the open bundles now (answering how many) and not again when the window closes", async () => {
        const B = nextBoundary(h.clock.now(), 1);
        h.advanceTo(B + 5 * MINUTE);
        const ws = await h.workspace("Flush");
        const wh = await h.webhook(ws.id, { aggregation: "1h" });
        const sent = sentTo(ws.id);
        await h.ingestEntries(ws, [
          entry(ws, { contact: "972541000001", text: "a1" }),
          entry(ws, { contact: "972541000001", text: "a2", timestamp: "2021-02-24T16:26:00Z" }),
          entry(ws, { contact: "972541000002", text: "b1" }),
        ]);
        assert.equal(await h.webhooks.flushOpen(ws.id, wh.id), 2);
        assert.equal(sent().length, 2, "the bundles were delivered before the answer");
        for (const c of sent()) {
          validateBundle(c.json);
          assert.deepEqual(c.secrets, [wh.secret]);
          assert.equal(c.json.chat.is_new_chat, true);
        }
        assert.deepEqual(
          sent()
            .map((c) => c.json.messages.length)
            .sort(),
          [1, 2],
        );

        // The rest of the window: one more message in chat A, sent alone at the close.
        await h.ingestEntries(ws, [
          entry(ws, { contact: "972541000001", text: "a3", timestamp: "2021-02-24T16:40:00Z" }),
        ]);
        h.advanceTo(B + HOUR + 1000);
        const all = await exactly(sent, 3, "the rest of the window; flushed bundles are not sent again at the close");
        const rest = all[2]!.json;
        assert.deepEqual(
          rest.messages.map((m: { text: string }) => m.text),
          ["a3"],
        );
        assert.equal(rest.chat.is_new_chat, false, "the chat was new in the flushed part, not in this one");
        assert.equal(new Set(all.map((c) => c.id)).size, 3);
        assert.equal(await h.webhooks.flushOpen(ws.id, wh.id), 0, "nothing is open");
        assert.deepEqual(h.errors, []);
      });

      it("changing the aggregation first sends the open bundles under the old setting, once", async () => {
        const B = nextBoundary(h.clock.now(), 6);
        h.advanceTo(B + 5 * MINUTE);
        const ws = await h.workspace("Aggregation change");
        const wh = await h.webhook(ws.id, { aggregation: "1h" });
        const sent = sentTo(ws.id);
        await h.ingestEntries(ws, [
          entry(ws, { contact: "972542000001", text: "before the change" }),
          entry(ws, { contact: "972542000001", text: "also before", timestamp: "2021-02-24T16:27:00Z" }),
        ]);
        const changed = await h.webhooks.update(ws.id, wh.id, { aggregation: "6h" });
        assert.equal(changed.aggregation, "6h");
        const [old] = sent();
        assert.ok(old, "the open bundle went out before the change");
        validateBundle(old.json);
        assert.deepEqual(
          old.json.messages.map((m: { text: string }) => m.text),
          ["before the change", "also before"],
        );

        await h.ingestEntries(ws, [entry(ws, { contact: "972542000001", text: "after the change" })]);
        h.advanceTo(B + HOUR + 1000);
        await sleep(300);
        assert.equal(sent().length, 1, "no 1h bundle any more, and the flushed one is not repeated");
        h.advanceTo(B + 6 * HOUR + 1000);
        const all = await exactly(sent, 2, "the 6h bundle");
        validateBundle(all[1]!.json);
        assert.deepEqual(
          all[1]!.json.messages.map((m: { text: string }) => m.text),
          ["after the change"],
        );
        assert.deepEqual(h.errors, []);
      });

      it("disabling first sends the open bundles, once", async () => {
        const B = nextBoundary(h.clock.now(), 1);
        h.advanceTo(B + 5 * MINUTE);
        const ws = await h.workspace("Disable");
        const wh = await h.webhook(ws.id, { aggregation: "1h" });
        const sent = sentTo(ws.id);
        await h.ingestEntries(ws, [
          entry(ws, { contact: "972543000001", text: "sent on disable" }),
          entry(ws, { contact: "972543000002", text: "this one too" }),
        ]);
        const off = await h.webhooks.update(ws.id, wh.id, { enabled: false });
        assert.equal(off.enabled, 0);
        assert.equal(off.disabled_reason, "manual");
        assert.equal(sent().length, 2);
        for (const c of sent()) validateBundle(c.json);
        h.advanceTo(B + HOUR + 1000);
        await sleep(300);
        assert.equal(sent().length, 2, "nothing more after the window ends");
        assert.deepEqual(h.errors, []);
      });
    });

    describe("under receiver errors", () => {
      /** Past the backoff after the n-th consecutive error, jitter included. */
      const pastBackoff = (n: number) => RETRY_SCHEDULE_MS[Math.min(n, RETRY_SCHEDULE_MS.length) - 1]! * 1.1 + 1000;

      it("retries one bundle at a time at the backoff, then sends the rest; the window is acknowledged only when all succeed", async () => {
        const B = nextBoundary(h.clock.now(), 1);
        h.advanceTo(B + 5 * MINUTE);
        const ws = await h.workspace("Failing");
        const wh = await h.webhook(ws.id, { aggregation: "1h" });
        const sent = sentTo(ws.id);
        let failing = true;
        h.deliverer.answer = (c) => (c.workspaceId === ws.id && failing ? { status: 500 } : { status: 200 });
        const failures = async () => (await h.stored(ws.id, wh.id)).consecutive_failures;
        await h.ingestEntries(ws, [
          entry(ws, { contact: "972546000001", text: "one" }),
          entry(ws, { contact: "972546000002", text: "two" }),
          entry(ws, { contact: "972546000003", text: "three" }),
        ]);

        h.advanceTo(B + HOUR + 1000);
        await exactly(sent, 3, "the three bundles went out together, then nothing until the backoff");
        // While failing, a flush does not wait for the backoff, and sends nothing.
        assert.equal(await h.webhooks.flushOpen(ws.id, wh.id), 0);

        // The backoff follows the consecutive errors so far (in-flight failures count too).
        const n0 = await waitFor(async () => (await failures()) || undefined, "the errors counted");
        assert.ok(n0 >= 1 && n0 <= 3, `errors counted: ${n0}`);
        h.advance(pastBackoff(n0));
        await exactly(sent, 4, "one probe after the backoff: one attempt at a time while failing");
        await waitFor(async () => (await failures()) === n0 + 1, "the probe's error counted");

        failing = false;
        h.advance(pastBackoff(n0 + 1));
        const all = await exactly(sent, 7, "the probe, then the other two");
        const ok = all.slice(4);
        for (const c of ok) validateBundle(c.json);
        assert.deepEqual(ok.map((c) => c.json.messages[0].text).sort(), ["one", "three", "two"]);
        // Each chat's retries carry its first attempt's webhook-id.
        const ids = new Map<string, Set<string>>();
        for (const c of all) ids.set(c.chat, (ids.get(c.chat) ?? new Set()).add(c.id));
        assert.equal(ids.size, 3);
        for (const set of ids.values()) assert.equal(set.size, 1);
        await waitFor(async () => (await failures()) === 0, "healed");

        // The cursor moved past the whole window: the next one has only what came after.
        await h.ingestEntries(ws, [entry(ws, { contact: "972546000001", text: "four" })]);
        h.advanceTo(B + 2 * HOUR + 1000);
        const next = await exactly(sent, 8, "the next window");
        assert.deepEqual(
          next[7]!.json.messages.map((m: { text: string }) => m.text),
          ["four"],
        );
        assert.deepEqual(h.errors, []);
      });

      it("a workspace time zone change applies from the next window on", async () => {
        h.deliverer.answer = () => ({ status: 200 });
        const B = nextBoundary(h.clock.now(), 1);
        h.advanceTo(B + 5 * MINUTE);
        const ws = await h.workspace("Moving");
        await h.webhook(ws.id, { aggregation: "1h" });
        const sent = sentTo(ws.id);
        await h.ingestEntries(ws, [
          entry(ws, { contact: "972547000001", text: "in UTC", timestamp: "2021-02-24T16:25:29Z" }),
        ]);
        await updateWorkspace(h.db, h.clock, ws.id, BY_THREADLINE, { timezone: "Asia/Kolkata" });
        // The open window keeps its end (a UTC hour); its digest is written in the zone of the moment.
        h.advanceTo(B + HOUR + 1000);
        const [first] = await exactly(sent, 1, "the window opened in UTC");
        assert.match(first!.json.aggregation, /^from Contact 972547000001 on 2021-02-24 21:55: in UTC<br\/>/);
        // The next window is a Kolkata hour: it ends at :30 UTC.
        await h.ingestEntries(ws, [
          entry(ws, { contact: "972547000001", text: "in Kolkata", timestamp: "2021-02-24T16:25:29Z" }),
        ]);
        h.advanceTo(B + HOUR + 29 * MINUTE);
        await sleep(300);
        assert.equal(sent().length, 1, "the Kolkata hour has not ended");
        h.advanceTo(B + HOUR + 30 * MINUTE + 1000);
        const all = await exactly(sent, 2, "the Kolkata-aligned window");
        assert.deepEqual(
          all[1]!.json.messages.map((m: { text: string }) => m.text),
          ["in Kolkata"],
        );
        assert.deepEqual(h.errors, []);
      });
    });

    describe("an aggregation change with deliveries in flight", () => {
      it("what was acknowledged one by one while the change was made is not sent again in the first bundle", async () => {
        const ws = await h.workspace("In flight");
        const wh = await h.webhook(ws.id);
        const sent = sentTo(ws.id);
        h.deliverer.answer = () => ({ status: 200, delayMs: 1000 });
        const ids = await h.ingest(
          ws,
          Array.from({ length: 5 }, (_, i) => [i + 1, `in flight ${i}`] as [number, string]),
        );
        await waitFor(() => sent().length === 5, "five deliveries in flight");
        assert.equal(h.deliverer.running, 5);

        await h.webhooks.update(ws.id, wh.id, { aggregation: "1h" });
        h.deliverer.answer = () => ({ status: 200 });
        await waitFor(() => h.deliverer.running === 0, "the five answers (200)");
        assert.equal(
          [...h.deliverer.accepted.values()].filter((c) => ids.includes(c.messageId)).length,
          5,
          "the five were acknowledged one by one",
        );

        const [later] = await h.ingest(ws, [[9, "after the change"]]);
        assert.ok((await h.webhooks.flushOpen(ws.id, wh.id)) >= 1);
        const bundles = sent().filter((c) => Array.isArray(c.json?.messages));
        const bundled = bundles.flatMap((c) => c.json.messages.map((m: { message_id: string }) => m.message_id));
        assert.ok(bundled.includes(later), "the bundle of the later message");
        assert.deepEqual(
          ids.filter((id) => bundled.includes(id)),
          [],
          "messages acknowledged one by one were sent again in a bundle",
        );
        assert.deepEqual(h.errors, []);
      });
    });

    describe("through a receiver blip", () => {
      const CHATS = 400;
      it("a window's bundles in flight when the receiver errors for a second count as one error", async () => {
        const B = nextBoundary(h.clock.now(), 1);
        h.advanceTo(B + 5 * MINUTE);
        const ws = await h.workspace("Blip");
        const wh = await h.webhook(ws.id, { aggregation: "1h" });
        const sent = sentTo(ws.id);
        // Slow enough answers that many bundles are in flight at once; what is answered during the blip gets a 500.
        let blipping = false;
        let blipped = 0;
        h.deliverer.answer = async () => {
          await sleep(100);
          return blipping ? (blipped++, { status: 500 }) : { status: 200 };
        };
        const messages = Array.from({ length: CHATS }, (_, i) =>
          entry(ws, { contact: `97254${String(700000 + i)}`, text: `bundle ${i}` }),
        );
        for (let i = 0; i < messages.length; i += 200) await h.ingestEntries(ws, messages.slice(i, i + 200));

        // The window closes: its bundles go out, many at once.
        h.advanceTo(B + HOUR + 1000);
        await waitFor(() => h.deliverer.running >= 32, "many bundles in flight");
        blipping = true;
        await sleep(1000);
        blipping = false;
        const blipEnd = sent().length;
        assert.ok(blipped > 1, `bundles answered 500 during the blip: ${blipped}`);

        const accepted = () => h.deliverer.acceptedOf(ws.id);
        let polls = 0;
        await waitFor(() => {
          if (accepted().length === CHATS) return true;
          if (polls++ % 40 === 0) h.advance(6_000);
          return false;
        }, "every bundle delivered after the blip");
        const row = await h.stored(ws.id, wh.id);
        assert.equal(row.enabled, 1);
        assert.equal(row.consecutive_failures, 0);
        assert.deepEqual(
          h.events.warnings.filter((w) => w.webhookId === wh.id),
          [],
          "no warning: the blip was one error",
        );
        const mails = await h.notifications(ws.id);
        assert.equal(mails.filter((m) => /failing|disabled/i.test(m.subject)).length, 0);
        // One bundle per chat, each with its one message.
        assert.deepEqual(
          accepted()
            .map((c) => c.text)
            .sort(),
          messages.map((m) => m.text).sort(),
        );
        const back = sent().slice(blipEnd);
        assert.equal(back[0]!.concurrency, 1, "the first bundle after the blip is alone");
        for (const [i, c] of back.slice(0, 10).entries())
          assert.ok(c.concurrency <= i + 1, `bundle ${i + 1} after the blip went out into ${c.concurrency} in flight`);
        h.deliverer.answer = () => ({ status: 200 });
        assert.deepEqual(h.errors, []);
      });
    });
  });
