import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, OPERATOR_TOKEN, TestServer } from "../helpers/server.js";
import {
  assertError,
  deliveriesOf,
  entry,
  type Entry,
  ingest,
  space,
  type Space,
  waitForDelivery,
} from "../helpers/workspace.js";
import { ownerCookie } from "../helpers/people.js";

for (const database of DATABASES)
  describe(`ingest, auth, isolation and validation (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let s: Space;

    before(async () => {
      [server, receiver] = await Promise.all([TestServer.start({ database }), Receiver.start()]);
      s = await space(server, { receiver });
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    const chats = async (key = s.key) => {
      const r = await server.api("GET", "/api/v1/chats?limit=200", { token: key });
      assert.equal(r.status, 200, r.text);
      return r.json.items as { chat_id: string; full_name: string; phone: string }[];
    };
    const messagesOf = async (chatId: string, key = s.key) => {
      const r = await server.api("GET", `/api/v1/chats/${chatId}/messages?limit=200`, { token: key });
      assert.equal(r.status, 200, r.text);
      return r.json.items as { message_id: string; status: string; type: string; text: string; timestamp: string }[];
    };
    const chatOf = async (contact: string) => {
      const c = (await chats()).find((x) => x.phone === `+${contact}`);
      assert.ok(c, `chat of +${contact}`);
      return c;
    };
    /**
     * Sends a text message after everything else in `contact`'s chat and waits for it: a chat's
     * deliveries are in order, so anything that was going to be delivered before it has been.
     */
    const sentinel = async (contact: string) => {
      const id = (await ingest(server, s.key, [entry(s, { contact, text: "sentinel" })])).results[0]!.message_id;
      await waitForDelivery(receiver, id);
    };

    it("a duplicate within a batch and across requests answers duplicate, is stored once and delivered once", async () => {
      const contact = "972541000001";
      const m = entry(s, { contact, text: "only once" });
      const r1 = await ingest(server, s.key, [m, { ...m, text: "same id again" }]);
      assert.equal(r1.accepted, 1);
      assert.equal(r1.duplicates, 1);
      assert.equal(r1.skipped, 0);
      assert.deepEqual(
        r1.results.map((x) => x.status),
        ["accepted", "duplicate"],
      );
      const id = r1.results[0]!.message_id;
      assert.equal(r1.results[1]!.message_id, id);

      const r2 = await ingest(server, s.key, [entry(s, { contact }), m]);
      assert.deepEqual(
        r2.results.map((x) => x.status),
        ["accepted", "duplicate"],
      );
      assert.equal(r2.results[1]!.message_id, id);
      assert.deepEqual([r2.accepted, r2.duplicates, r2.skipped], [1, 1, 0]);

      await sentinel(contact);
      assert.equal(deliveriesOf(receiver, id).length, 1);
      assert.equal(deliveriesOf(receiver, id)[0]!.json.message.text, "only once");
      const stored = await messagesOf((await chatOf(contact)).chat_id);
      assert.equal(stored.filter((x) => x.message_id === id).length, 1);
      assert.equal(stored.filter((x) => x.text === "same id again").length, 0);
      assert.equal(stored.length, 3);
    });

    it("the same external_id on another account of the workspace is a different message", async () => {
      const other = await server.api("POST", "/api/v1/accounts", {
        token: s.key,
        body: { phone: "+972509999999", owner_email: s.workspace.owner.email, source: "api" },
      });
      assert.equal(other.status, 201, other.text);
      const m = entry(s, { contact: "972541000009" });
      const r = await ingest(server, s.key, [m, { ...m, account_phone: "+972509999999" }]);
      assert.deepEqual(
        r.results.map((x) => x.status),
        ["accepted", "accepted"],
      );
      assert.notEqual(r.results[0]!.message_id, r.results[1]!.message_id);
    });

    it("attachments are stored as skipped, listed with status skipped, never delivered", async () => {
      const contact = "972541000002";
      const image = entry(s, { contact, type: "image", text: undefined });
      const doc = entry(s, { contact, type: "document", text: "invoice.pdf" });
      const text = entry(s, { contact, text: "see attached 📎" });
      const r = await ingest(server, s.key, [image, doc, text]);
      assert.deepEqual(
        r.results.map((x) => x.status),
        ["skipped", "skipped", "accepted"],
      );
      assert.deepEqual([r.accepted, r.duplicates, r.skipped], [1, 0, 2]);
      // A repeat of a skipped message is a duplicate.
      const again = await ingest(server, s.key, [image]);
      assert.deepEqual(again.results, [{ status: "duplicate", message_id: r.results[0]!.message_id }]);

      await sentinel(contact);
      for (const x of r.results.slice(0, 2))
        assert.equal(deliveriesOf(receiver, x.message_id).length, 0, "a skipped message was delivered");
      assert.equal(deliveriesOf(receiver, r.results[2]!.message_id).length, 1);
      const stored = await messagesOf((await chatOf(contact)).chat_id);
      const byId = new Map(stored.map((x) => [x.message_id, x]));
      assert.equal(byId.get(r.results[0]!.message_id)?.status, "skipped");
      assert.equal(byId.get(r.results[0]!.message_id)?.type, "image");
      assert.equal(byId.get(r.results[1]!.message_id)?.status, "skipped");
      assert.notEqual(byId.get(r.results[2]!.message_id)?.status, "skipped");
    });

    it("timestamps as Unix seconds and ISO 8601 with an offset", async () => {
      const contact = "972541000003";
      const r = await ingest(server, s.key, [
        entry(s, { contact, timestamp: 1614183929 }),
        entry(s, { contact, timestamp: "2021-02-24T21:55:29+05:30" }),
      ]);
      const [a, b] = await Promise.all(r.results.map((x) => waitForDelivery(receiver, x.message_id)));
      assert.equal(a!.json.message.timestamp, "2021-02-24T16:25:29+0000");
      assert.equal(b!.json.message.timestamp, "2021-02-24T16:25:29+0000");
      const stored = await messagesOf((await chatOf(contact)).chat_id);
      assert.deepEqual(
        stored.map((x) => Date.parse(x.timestamp)),
        [Date.UTC(2021, 1, 24, 16, 25, 29), Date.UTC(2021, 1, 24, 16, 25, 29)],
      );
    });

    it("one invalid entry rejects the whole batch with 400 naming messages[i].field, and stores nothing", async () => {
      const known = "972541000004";
      await ingest(server, s.key, [entry(s, { contact: known })]);
      const chatsBefore = await chats();
      const knownChat = (await chatOf(known)).chat_id;
      const msgsBefore = await messagesOf(knownChat);
      const good = () => [entry(s, { contact: known }), entry(s, { contact: "972541000005", name: "Never Stored" })];
      const cases: { bad: (e: Entry) => unknown; field: string }[] = [
        { bad: (e) => ({ ...e, timestamp: "yesterday" }), field: "messages[2].timestamp" },
        { bad: (e) => ({ ...e, timestamp: "2021-02-24T16:25:29" }), field: "messages[2].timestamp" },
        { bad: (e) => ({ ...e, timestamp: "2021-02-30T16:25:29Z" }), field: "messages[2].timestamp" },
        { bad: (e) => ({ ...e, direction: "sideways" }), field: "messages[2].direction" },
        { bad: (e) => ({ ...e, text: undefined }), field: "messages[2].text" },
        { bad: (e) => ({ ...e, account_phone: "+15550000000" }), field: "messages[2].account_phone" },
        { bad: ({ external_id: _x, ...e }) => e, field: "messages[2].external_id" },
        { bad: (e) => ({ ...e, chat: { full_name: "no id" } }), field: "messages[2].chat.external_id" },
        { bad: (e) => ({ ...e, chat: { ...e.chat, phone: "12345" } }), field: "messages[2].chat.phone" },
      ];
      for (const c of cases) {
        const r = await server.api("POST", "/api/v1/messages", {
          token: s.key,
          body: { messages: [...good(), c.bad(entry(s, { contact: "972541000006" })), ...good()] },
        });
        assertError(r, 400, "VALIDATION_ERROR", c.field);
      }
      assert.deepEqual(await chats(), chatsBefore);
      assert.deepEqual(await messagesOf(knownChat), msgsBefore);
    });

    it("an empty batch and a batch over 1000 messages answer 400; exactly 1000 is accepted", async () => {
      assertError(
        await server.api("POST", "/api/v1/messages", { token: s.key, body: { messages: [] } }),
        400,
        "VALIDATION_ERROR",
        "messages",
      );
      assertError(
        await server.api("POST", "/api/v1/messages", { token: s.key, body: {} }),
        400,
        "VALIDATION_ERROR",
        "messages",
      );
      // A workspace without a webhook, so the 1000 are not delivered.
      const quiet = await space(server);
      const many = (n: number) =>
        Array.from({ length: n }, (_, i) => entry(quiet, { contact: `97254200${String(i % 50).padStart(4, "0")}` }));
      const over = await server.api("POST", "/api/v1/messages", { token: quiet.key, body: { messages: many(1001) } });
      assertError(over, 400, "VALIDATION_ERROR", "messages");
      assert.equal((await chats(quiet.key)).length, 0);
      const ok = await ingest(server, quiet.key, many(1000));
      assert.equal(ok.accepted, 1000);
      assert.equal(ok.results.length, 1000);
      assert.equal(new Set(ok.results.map((x) => x.message_id)).size, 1000);
      assert.equal((await chats(quiet.key)).length, 50);
    });

    it("a wrong or missing token answers 401 with the error body", async () => {
      for (const token of ["tlk_not_a_real_key", OPERATOR_TOKEN, undefined]) {
        const r = await server.api("POST", "/api/v1/messages", { token, body: { messages: [entry(s)] } });
        assertError(r, 401, "UNAUTHORIZED");
        assertError(await server.api("GET", "/api/v1/chats", { token }), 401, "UNAUTHORIZED");
        assertError(await server.api("GET", "/api/v1/webhooks", { token }), 401, "UNAUTHORIZED");
      }
      // The operator route refuses a workspace key.
      assertError(
        await server.api("POST", "/api/v1/workspaces", {
          token: s.key,
          body: { name: "x", owner: { full_name: "a", email: "a@b.co" } },
        }),
        403,
        "FORBIDDEN",
      );
    });

    it("a second workspace's key gets 404 for the first's webhook, chat and account, exactly like a missing id", async () => {
      const chatId = (await chats())[0]!.chat_id;
      const other = await space(server, { webhookUrl: receiver.url + "?other" });
      const k = other.key;
      const pairs: [string, string, string, unknown?][] = [
        ["GET", `/api/v1/webhooks/${s.webhook!.id}`, `/api/v1/webhooks/wh_01aaaaaaaaaaaaaaaaaaaaaaaa`],
        [
          "PATCH",
          `/api/v1/webhooks/${s.webhook!.id}`,
          `/api/v1/webhooks/wh_01aaaaaaaaaaaaaaaaaaaaaaaa`,
          { enabled: false },
        ],
        [
          "GET",
          `/api/v1/webhooks/${s.webhook!.id}/activity`,
          `/api/v1/webhooks/wh_01aaaaaaaaaaaaaaaaaaaaaaaa/activity`,
        ],
        ["GET", `/api/v1/webhooks/${s.webhook!.id}/log`, `/api/v1/webhooks/wh_01aaaaaaaaaaaaaaaaaaaaaaaa/log`],
        ["POST", `/api/v1/webhooks/${s.webhook!.id}/test`, `/api/v1/webhooks/wh_01aaaaaaaaaaaaaaaaaaaaaaaa/test`],
        [
          "GET",
          `/api/v1/webhooks/${s.webhook!.id}/deliveries`,
          `/api/v1/webhooks/wh_01aaaaaaaaaaaaaaaaaaaaaaaa/deliveries`,
        ],
        [
          "POST",
          `/api/v1/webhooks/${s.webhook!.id}/deliveries/msg_x/resend`,
          `/api/v1/webhooks/wh_01aaaaaaaaaaaaaaaaaaaaaaaa/deliveries/msg_x/resend`,
        ],
        ["DELETE", `/api/v1/webhooks/${s.webhook!.id}`, `/api/v1/webhooks/wh_01aaaaaaaaaaaaaaaaaaaaaaaa`],
        ["GET", `/api/v1/chats/${chatId}`, `/api/v1/chats/999999999`],
        ["GET", `/api/v1/chats/${chatId}/messages`, `/api/v1/chats/999999999/messages`],
        ["PATCH", `/api/v1/chats/${chatId}`, `/api/v1/chats/999999999`, { responsible_email: null }],
        ["POST", `/api/v1/chats/${chatId}/messages`, `/api/v1/chats/999999999/messages`, { text: "hello" }],
        ["GET", `/api/v1/accounts/${s.accountId}`, `/api/v1/accounts/acc_01aaaaaaaaaaaaaaaaaaaaaaaa`],
      ];
      for (const [method, foreign, missing, body] of pairs) {
        const a = await server.api(method, foreign, { token: k, body });
        const b = await server.api(method, missing, { token: k, body });
        assertError(a, 404, "NOT_FOUND");
        assert.deepEqual(a.json, b.json, `${method} ${foreign}: a foreign id must answer like a missing one`);
      }
      // Nothing of the first workspace shows in the second's lists, and ingest cannot use its account.
      assert.deepEqual((await server.api("GET", "/api/v1/chats", { token: k })).json.items, []);
      const hooks = (await server.api("GET", "/api/v1/webhooks", { token: k })).json.items as { id: string }[];
      assert.deepEqual(
        hooks.map((h) => h.id),
        [other.webhook!.id],
      );
      const accounts = (await server.api("GET", "/api/v1/accounts", { token: k })).json.items as { id: string }[];
      assert.deepEqual(
        accounts.map((a) => a.id),
        [other.accountId],
      );
      assertError(
        await server.api("POST", "/api/v1/messages", { token: k, body: { messages: [entry(s)] } }),
        400,
        "VALIDATION_ERROR",
        "messages[0].account_phone",
      );
      // The first workspace's objects are untouched by the attempts.
      const wh = await server.api("GET", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key });
      assert.equal(wh.status, 200);
      assert.equal(wh.json.enabled, true);
      assert.equal((await server.api("GET", `/api/v1/chats/${chatId}`, { token: s.key })).status, 200);
    });

    it("validation errors everywhere answer {error:{code,message}} naming the field", async () => {
      const k = s.key;
      const cases: [string, string, unknown, string, string?][] = [
        ["POST", "/api/v1/webhooks", { url: "ftp://x" }, "url"],
        ["POST", "/api/v1/webhooks", { url: "not a url" }, "url"],
        ["POST", "/api/v1/webhooks", { url: receiver.url, aggregation: "2h" }, "aggregation"],
        ["POST", "/api/v1/webhooks", {}, "url"],
        ["PATCH", `/api/v1/webhooks/${s.webhook!.id}`, { aggregation: "2h" }, "aggregation"],
        ["PATCH", `/api/v1/webhooks/${s.webhook!.id}`, { url: "ftp://x" }, "url"],
        [
          "POST",
          "/api/v1/workspaces",
          { name: "W", owner: { full_name: "A", email: "a@b.co" }, timezone: "Mars/Base" },
          "timezone",
          OPERATOR_TOKEN,
        ],
        [
          "POST",
          "/api/v1/workspaces",
          { name: "W", owner: { full_name: "A", email: "not-an-email" } },
          "owner.email",
          OPERATOR_TOKEN,
        ],
        ["POST", "/api/v1/workspaces", { name: "W" }, "owner", OPERATOR_TOKEN],
        ["POST", "/api/v1/teammates", { full_name: "B", email: "nope" }, "email"],
        [
          "POST",
          "/api/v1/accounts",
          { phone: "0500000000", owner_email: s.workspace.owner.email, source: "api" },
          "phone",
        ],
        [
          "POST",
          "/api/v1/accounts",
          { phone: "+972501234567", owner_email: "ghost@acme.com", source: "api" },
          "owner_email",
        ],
        [
          "POST",
          "/api/v1/accounts",
          { phone: "+972501234567", owner_email: s.workspace.owner.email, source: "telegram" },
          "source",
        ],
        ["POST", `/api/v1/webhooks/${s.webhook!.id}/replay`, { since: "last tuesday" }, "since"],
      ];
      for (const [method, p, body, field, token] of cases) {
        const r = await server.api(method, p, { token: token ?? k, body });
        assertError(r, 400, "VALIDATION_ERROR", field);
        assert.deepEqual(Object.keys(r.json).sort(), ["error"]);
      }
      // The owner's route, with the owner's session.
      const tz = await server.api("PATCH", "/api/v1/workspace", {
        body: { timezone: "Mars/Base" },
        headers: { cookie: await ownerCookie(server, s.workspace), origin: new URL(server.url).origin },
      });
      assertError(tz, 400, "VALIDATION_ERROR", "timezone");
      // A choice names what is allowed.
      const agg = await server.api("POST", "/api/v1/webhooks", {
        token: k,
        body: { url: receiver.url, aggregation: "2h" },
      });
      for (const a of ["none", "1h", "6h", "12h", "24h"])
        assert.ok(agg.json.error.message.includes(`"${a}"`), agg.text);
      assertError(await server.api("GET", "/api/v1/chats?limit=500", { token: k }), 400, "VALIDATION_ERROR", "limit");
      // Malformed JSON is a 400 with the same shape.
      const res = await fetch(server.url + "/api/v1/messages", {
        method: "POST",
        headers: { authorization: `Bearer ${k}`, "content-type": "application/json" },
        body: "{not json",
      });
      const text = await res.text();
      assertError({ status: res.status, json: JSON.parse(text), text }, 400, "INVALID_JSON");
      // Nothing changed on the webhook.
      const wh = await server.api("GET", `/api/v1/webhooks/${s.webhook!.id}`, { token: k });
      assert.equal(wh.json.url, receiver.url);
      assert.equal(wh.json.aggregation, "none");
      assert.equal((await server.api("GET", "/api/v1/workspace", { token: k })).json.timezone, "UTC");
    });
  });
