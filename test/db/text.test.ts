/**
 * Stored text, one rule for both databases: a NUL character anywhere, or a value over its
 * limit (ids 256, names 1,024, message text 65,536 characters), is a 400 naming the field on
 * every route that stores or looks up text. PostgreSQL answers exactly what SQLite answers
 * (it used to answer 500), and nothing is stored.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DATABASES, OPERATOR_TOKEN, TestServer } from "../helpers/server.js";
import { fixtureText } from "../helpers/inbound.js";
import { message, send, victim, type Victim } from "../helpers/security.js";

const NUL = "a\u0000b";
const long = (n: number) => "x".repeat(n);

interface Attack {
  what: string;
  method: string;
  path: string;
  /** The owner's session for the owner's routes (a key acts as admin). */
  token: "key" | "operator" | "owner";
  body?: unknown;
  field: string;
}

for (const database of DATABASES) {
  describe(`stored text: NUL and length limits (${database})`, () => {
    let server: TestServer;
    let v: Victim;
    let webhookId: string;
    before(async () => {
      server = await TestServer.start({ database });
      v = await victim(server);
      webhookId = (
        await server.api("POST", "/api/v1/webhooks", {
          token: v.key,
          body: { url: "http://127.0.0.1:9/hook", enabled: false },
        })
      ).json.id;
    });
    after(async () => {
      await server?.stop();
    });

    const counts = async () => {
      const [ws, tm, acc, hooks, chats, msgs] = await Promise.all([
        server.api("GET", "/api/v1/workspace", { token: v.key }),
        server.api("GET", "/api/v1/teammates", { token: v.key }),
        server.api("GET", "/api/v1/accounts", { token: v.key }),
        server.api("GET", "/api/v1/webhooks", { token: v.key }),
        server.api("GET", "/api/v1/chats", { token: v.key }),
        server.api("GET", `/api/v1/chats/${v.chatId}/messages`, { token: v.key }),
      ]);
      return {
        name: ws.json.name,
        teammates: tm.json.items.length,
        accounts: acc.json.items.length,
        webhooks: hooks.json.items.map((w: any) => w.url),
        chats: chats.json.items.length,
        messages: msgs.json.items.length,
      };
    };

    const attacks = (): Attack[] => [
      {
        what: "ingest text with NUL",
        method: "POST",
        path: "/api/v1/messages",
        token: "key",
        body: { messages: [message({ text: NUL })] },
        field: "messages[0].text",
      },
      {
        what: "ingest 1 MB external_id",
        method: "POST",
        path: "/api/v1/messages",
        token: "key",
        body: { messages: [message(), message({ external_id: long(1024 * 1024) })] },
        field: "messages[1].external_id",
      },
      {
        what: "ingest 257-character chat id",
        method: "POST",
        path: "/api/v1/messages",
        token: "key",
        body: { messages: [message({ chat: { external_id: long(257) } })] },
        field: "messages[0].chat.external_id",
      },
      {
        what: "ingest chat name with NUL",
        method: "POST",
        path: "/api/v1/messages",
        token: "key",
        body: { messages: [message({ chat: { external_id: "1@s.whatsapp.net", full_name: NUL } })] },
        field: "messages[0].chat.full_name",
      },
      {
        what: "ingest 1,025-character sender name",
        method: "POST",
        path: "/api/v1/messages",
        token: "key",
        body: { messages: [message({ sender: { full_name: long(1025) } })] },
        field: "messages[0].sender.full_name",
      },
      {
        what: "ingest text over 64 KiB",
        method: "POST",
        path: "/api/v1/messages",
        token: "key",
        body: { messages: [message({ text: long(65_537) })] },
        field: "messages[0].text",
      },
      {
        what: "workspace name with NUL",
        method: "POST",
        path: "/api/v1/workspaces",
        token: "operator",
        body: { name: NUL, owner: { full_name: "A", email: "a@b.example" } },
        field: "name",
      },
      {
        what: "workspace owner name too long",
        method: "POST",
        path: "/api/v1/workspaces",
        token: "operator",
        body: { name: "N", owner: { full_name: long(1025), email: "a@b.example" } },
        field: "owner.full_name",
      },
      {
        what: "rename workspace with NUL",
        method: "PATCH",
        path: "/api/v1/workspace",
        token: "owner",
        body: { name: NUL },
        field: "name",
      },
      {
        what: "time zone with NUL",
        method: "PATCH",
        path: "/api/v1/workspace",
        token: "owner",
        body: { timezone: "Europe/Paris\u0000" },
        field: "timezone",
      },
      {
        what: "teammate name with NUL",
        method: "POST",
        path: "/api/v1/teammates",
        token: "key",
        body: { full_name: NUL, email: "t@acme.example" },
        field: "full_name",
      },
      {
        what: "teammate e-mail too long",
        method: "POST",
        path: "/api/v1/teammates",
        token: "key",
        body: { full_name: "T", email: `${long(1100)}@acme.example` },
        field: "email",
      },
      {
        what: "account phone with NUL",
        method: "POST",
        path: "/api/v1/accounts",
        token: "key",
        body: { phone: "+97250000\u00000", owner_email: "owner@acme.example", source: "api" },
        field: "phone",
      },
      {
        what: "account source_config value with NUL",
        method: "POST",
        path: "/api/v1/accounts",
        token: "key",
        body: {
          phone: "+972500000009",
          owner_email: "owner@acme.example",
          source: "waha",
          source_config: { base_url: "http://gw.example", api_key: NUL, session: "default" },
        },
        field: "source_config.api_key",
      },
      {
        what: "account source_config key with NUL",
        method: "POST",
        path: "/api/v1/accounts",
        token: "key",
        body: {
          phone: "+972500000009",
          owner_email: "owner@acme.example",
          source: "waha",
          source_config: { "a\u0000": "x" },
        },
        field: "source_config.a\\u0000",
      },
      {
        what: "webhook URL with NUL",
        method: "POST",
        path: "/api/v1/webhooks",
        token: "key",
        body: { url: "http://hooks.example/\u0000" },
        field: "url",
      },
      {
        what: "webhook URL of 3,000 characters",
        method: "POST",
        path: "/api/v1/webhooks",
        token: "key",
        body: { url: `http://hooks.example/${long(3000)}` },
        field: "url",
      },
      {
        what: "webhook URL update with NUL",
        method: "PATCH",
        path: `/api/v1/webhooks/${webhookId}`,
        token: "key",
        body: { url: "http://hooks.example/\u0000" },
        field: "url",
      },
      {
        what: "replay since with NUL",
        method: "POST",
        path: `/api/v1/webhooks/${webhookId}/replay`,
        token: "key",
        body: { since: "2021-01-01T00:00:00Z\u0000" },
        field: "since",
      },
      {
        what: "responsible e-mail with NUL",
        method: "PATCH",
        path: `/api/v1/chats/${v.chatId}`,
        token: "key",
        body: { responsible_email: `owner@acme.example${NUL}` },
        field: "responsible_email",
      },
      {
        what: "send text with NUL",
        method: "POST",
        path: `/api/v1/chats/${v.chatId}/messages`,
        token: "key",
        body: { text: NUL },
        field: "text",
      },
      {
        what: "send text over 64 KiB",
        method: "POST",
        path: `/api/v1/chats/${v.chatId}/messages`,
        token: "key",
        body: { text: long(65_537) },
        field: "text",
      },
      {
        what: "send with a teammate e-mail holding NUL",
        method: "POST",
        path: `/api/v1/chats/${v.chatId}/messages`,
        token: "key",
        body: { text: "hi", teammate_email: NUL },
        field: "teammate_email",
      },
      {
        what: "sign-in e-mail with NUL",
        method: "POST",
        path: "/api/v1/session",
        token: "key",
        body: { email: NUL, password: "x" },
        field: "email",
      },
      {
        what: "invitation e-mail with NUL",
        method: "POST",
        path: "/api/v1/invitations",
        token: "key",
        body: { email: NUL, full_name: "N", role: "member" },
        field: "email",
      },
      {
        what: "invitation token with NUL",
        method: "POST",
        path: "/api/v1/invitations/accept",
        token: "key",
        body: { token: NUL, password: "a long password" },
        field: "token",
      },
      {
        what: "API key name with NUL",
        method: "POST",
        path: "/api/v1/api-keys",
        token: "key",
        body: { name: NUL },
        field: "name",
      },
      { what: "search with NUL", method: "GET", path: "/api/v1/chats?q=%00", token: "key", field: "q" },
      { what: "cursor with NUL", method: "GET", path: "/api/v1/chats?cursor=a%00", token: "key", field: "cursor" },
      { what: "chat id with NUL", method: "GET", path: "/api/v1/chats/1%00", token: "key", field: "id" },
      { what: "webhook id with NUL", method: "GET", path: "/api/v1/webhooks/wh%00", token: "key", field: "id" },
      { what: "permalink id with NUL", method: "GET", path: "/api/v1/permalinks/x%00", token: "key", field: "id" },
    ];

    it("every route that stores or looks up text answers 400 naming the field; nothing changes", async () => {
      const before = await counts();
      for (const a of attacks()) {
        const r =
          a.token === "owner"
            ? await server.api(a.method, a.path, {
                body: a.body,
                headers: { cookie: v.cookie, origin: new URL(server.url).origin },
              })
            : await server.api(a.method, a.path, {
                token: a.token === "operator" ? OPERATOR_TOKEN : v.key,
                body: a.body,
              });
        assert.equal(r.status, 400, `${a.what}: ${r.status} ${r.text.slice(0, 300)}`);
        assert.equal(r.json.error.code, "VALIDATION_ERROR", a.what);
        assert.equal(r.json.error.field, a.field, `${a.what}: ${r.json.error.message}`);
        assert.ok(
          r.json.error.message.startsWith(a.field),
          `${a.what}: the message names the field: ${r.json.error.message}`,
        );
      }
      assert.deepEqual(await counts(), before, "nothing was stored");
    });

    it("the limits are inclusive: 256-character ids, 1,024-character names and 65,536-character texts are stored", async () => {
      const r = await server.api("POST", "/api/v1/messages", {
        token: v.key,
        body: {
          messages: [
            message({
              external_id: long(256),
              text: long(65_536),
              chat: { external_id: long(256), full_name: long(1024) },
            }),
          ],
        },
      });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.json.accepted, 1);
      const chats = await server.api("GET", "/api/v1/chats", { token: v.key });
      assert.ok(chats.json.items.some((c: { full_name: string }) => c.full_name === long(1024)));
    });

    it("a gateway's inbound message with NUL or an over-long id is not stored as a message, and not refused either: it is kept as an unrecognised event naming the field", async () => {
      const acc = await server.api("POST", "/api/v1/accounts", {
        token: v.key,
        body: {
          phone: "+15557654321",
          owner_email: "owner@acme.example",
          source: "waha",
          source_config: { base_url: "http://gw.example", api_key: "k", session: "default" },
        },
      });
      assert.equal(acc.status, 201, acc.text);
      const inbound = new URL(acc.json.inbound_url).pathname;
      const fixture = JSON.parse(fixtureText("waha/message-any-received-direct.json"));
      const ok = await send(server, "POST", inbound, { "content-type": "application/json" }, JSON.stringify(fixture));
      assert.equal(ok.status, 200, ok.text);
      const messagesBefore = await server.api("GET", "/api/v1/chats?limit=200", { token: v.key });
      // A gateway retries a refused event and then drops it: an authenticated one is answered 2xx (issue 12's rule).
      const withNul = structuredClone(fixture);
      withNul.payload.id = "false_15551234567@c.us_NUL1";
      withNul.payload.body = NUL;
      const nul = await send(server, "POST", inbound, { "content-type": "application/json" }, JSON.stringify(withNul));
      assert.equal(nul.status, 200, nul.text);
      assert.equal(nul.json.accepted, 0);
      assert.equal(nul.json.unrecognised, 1);
      const longId = structuredClone(fixture);
      longId.payload.id = `false_15551234567@c.us_${long(100_000)}`;
      const big = await send(server, "POST", inbound, { "content-type": "application/json" }, JSON.stringify(longId));
      assert.equal(big.status, 200, big.text.slice(0, 300));
      assert.equal(big.json.unrecognised, 1);
      const events = await server.api("GET", `/api/v1/accounts/${acc.json.id}/inbound-events`, { token: v.key });
      assert.equal(events.status, 200, events.text.slice(0, 300));
      const reasons = (events.json.items as { reason: string }[]).map((e) => e.reason).join("\n");
      assert.match(reasons, /text/);
      assert.match(reasons, /external_id/);
      const messagesAfter = await server.api("GET", "/api/v1/chats?limit=200", { token: v.key });
      assert.deepEqual(messagesAfter.json, messagesBefore.json, "nothing was stored as a message");
    });
  });
}
