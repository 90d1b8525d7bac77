// Deleting a WhatsApp account (issue 24, item 5): its inbound URL answers 404 at once while
// another account's keeps working; without purge its chats and messages stay in the Timeline,
// the export and the webhooks' reads; with ?purge=true they are deleted (another account's are
// untouched) and a webhook whose open window held some of them sends the rest. On both databases.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES, OPERATOR_TOKEN, createWorkspace, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { invite, ownerOf } from "../helpers/people.js";
import {
  createAccount,
  delivered,
  fixtureText,
  flushWith,
  inbound,
  startHarness,
  type Harness,
} from "../helpers/inbound.js";

const WAHA_A = "+15557654321";
const WAHA_B = "+15557654322";
/** A real WAHA body (WEBJS engine): Maya Cohen writes to the account. */
const FIXTURE = "waha/webjs-received-direct.json";
const MAYA_TEXT = "Hi! Is the blue one in stock?";

/** The fixture as a different message (its id and text changed), so a second account stores it too. */
function variant(raw: string, tag: string, text: string): string {
  const body = JSON.parse(raw);
  body.payload.id = `${body.payload.id}_${tag}`;
  body.payload.body = text;
  return JSON.stringify(body);
}

const apiEntry = (phone: string, contact: string, text: string) => ({
  account_phone: phone,
  chat: {
    external_id: `${contact}@s.whatsapp.net`,
    full_name: `Contact ${contact}`,
    is_group: false,
    phone: `+${contact}`,
  },
  external_id: `wamid.${text.replace(/\W/g, "_")}.${Date.now()}`,
  direction: "received",
  timestamp: Math.floor(Date.now() / 1000),
  type: "text",
  text,
});

for (const database of DATABASES) {
  describe(`deleting a WhatsApp account (${database})`, () => {
    let h: Harness;
    let a: { id: string; inbound_url: string | null };
    let b: { id: string; inbound_url: string | null };
    let config: Record<string, unknown>;
    const del = (id: string, query = "", token = h.key) =>
      h.server.api("DELETE", `/api/v1/accounts/${id}${query}`, { token });

    before(async () => {
      h = await startHarness({ database });
      config = { base_url: h.gatewayBase, api_key: "waha-key", session: "default" };
      a = await createAccount(h, { phone: WAHA_A, source: "waha", source_config: config });
      b = await createAccount(h, { phone: WAHA_B, source: "waha", source_config: config });
    });
    after(async () => h?.close());

    it("refuses no credential (401), the operator token (401), a member (403), another workspace's id (404) and a bad purge (400 naming purge)", async () => {
      assert.equal((await h.server.api("DELETE", `/api/v1/accounts/${a.id}`)).status, 401);
      assert.equal((await del(a.id, "", OPERATOR_TOKEN)).status, 401);
      const other = await createWorkspace(h.server);
      const owner = await ownerOf(h.server, other);
      const member = await invite(h.server, owner, "milo@delete-accounts.example", "member");
      const otherAccount = await h.server.api("POST", "/api/v1/accounts", {
        token: other.api_key,
        body: { phone: "+15557650000", owner_email: other.owner.email, source: "api" },
      });
      assert.equal(otherAccount.status, 201, otherAccount.text);
      const asMember = await h.server.request("DELETE", `/api/v1/accounts/${otherAccount.json.id}`, {
        headers: { cookie: member.cookie, origin: h.server.url },
      });
      assert.equal(asMember.status, 403, asMember.text);
      assert.match(asMember.json.error.message, /needs the admin role/);
      // Another workspace's account is not found from here, and is still there.
      assert.equal((await del(otherAccount.json.id)).status, 404);
      assert.equal(
        (await h.server.api("GET", `/api/v1/accounts/${otherAccount.json.id}`, { token: other.api_key })).status,
        200,
      );
      for (const bad of ["yes", "1", "TRUE"]) {
        const r = await del(a.id, `?purge=${bad}`);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error.code, "VALIDATION_ERROR");
        assert.equal(r.json.error.field, "purge");
      }
      const nul = await del(a.id, "?purge=%00");
      assert.equal(nul.status, 400, nul.text);
      assert.equal((await del("x".repeat(300))).status, 414, "a path id over its length");
      // Nothing was deleted by the refused calls.
      assert.equal((await h.server.api("GET", `/api/v1/accounts/${a.id}`, { token: h.key })).status, 200);
    });

    it("without purge: its inbound URL answers 404 at once, another account's still works, its chat and messages stay and are still delivered", async () => {
      const raw = fixtureText(FIXTURE);
      const first = await inbound(h, a.inbound_url!, { body: raw });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.json.accepted, 1, first.text);
      const p = await delivered(h, MAYA_TEXT);
      assert.equal(p.whatsapp_account.phone, WAHA_A);
      const chatId = String(p.chat.chat_id);

      const r = await del(a.id);
      assert.equal(r.status, 204, r.text);
      assert.equal(r.text, "");

      const refused = await inbound(h, a.inbound_url!, { body: variant(raw, "after", "after the delete") });
      assert.equal(refused.status, 404, refused.text);
      const other = await inbound(h, b.inbound_url!, { body: variant(raw, "b", "to the other account") });
      assert.equal(other.status, 200, other.text);
      assert.equal(other.json.accepted, 1);
      await delivered(h, "to the other account");

      // Gone from the accounts, not from the Timeline.
      assert.equal((await h.server.api("GET", `/api/v1/accounts/${a.id}`, { token: h.key })).status, 404);
      const accounts = await h.server.api("GET", "/api/v1/accounts", { token: h.key });
      assert.deepEqual(
        accounts.json.items.map((x: { id: string }) => x.id),
        [b.id],
      );
      const chat = await h.server.api("GET", `/api/v1/chats/${chatId}`, { token: h.key });
      assert.equal(chat.status, 200, chat.text);
      assert.equal(chat.json.account_phone, WAHA_A);
      const chats = await h.server.api("GET", "/api/v1/chats", { token: h.key });
      assert.ok(chats.json.items.some((c: { chat_id: string }) => c.chat_id === chatId));
      const messages = await h.server.api("GET", `/api/v1/chats/${chatId}/messages`, { token: h.key });
      assert.deepEqual(
        messages.json.items.map((m: { text: string }) => m.text),
        [MAYA_TEXT],
      );
      const exported = await h.server.request("GET", "/api/v1/messages/export", {
        headers: { authorization: `Bearer ${h.key}` },
      });
      assert.ok(
        exported.text.split("\n").some((line) => line.includes(MAYA_TEXT)),
        "the export keeps its messages",
      );
      // A chat of a deleted account cannot send.
      const send = await h.server.api("POST", `/api/v1/chats/${chatId}/messages`, {
        token: h.key,
        body: { text: "hello?" },
      });
      assert.equal(send.status, 409, send.text);
      // Still deliverable: a replay sends it again.
      const since = new Date(Date.now() - 3600_000).toISOString();
      const before = h.receiver.requests.length;
      const replay = await h.server.api("POST", `/api/v1/webhooks/${h.webhookId}/replay`, {
        token: h.key,
        body: { since },
      });
      assert.equal(replay.status, 202, replay.text);
      await waitFor(
        () => h.receiver.requests.slice(before).some((q) => q.json?.message?.text === MAYA_TEXT),
        "the replay of the deleted account's message",
      );

      // The second delete is a 404; the audit log says who deleted it.
      assert.equal((await del(a.id)).status, 404);
      const audit = await h.server.api("GET", `/api/v1/audit?object=${a.id}`, { token: h.key });
      const entry = audit.json.items.find((e: { action: string }) => e.action === "account.deleted");
      assert.ok(entry, audit.text);
      assert.deepEqual(entry.before, { phone: WAHA_A, source: "waha", owner_email: h.owner.email });
      assert.deepEqual(entry.after, { purge: false });
    });

    it("connecting the deleted phone again brings the account back with its chats and a new inbound URL", async () => {
      const again = await createAccount(h, { phone: WAHA_A, source: "waha", source_config: config });
      assert.equal(again.id, a.id);
      assert.notEqual(again.inbound_url, a.inbound_url);
      assert.equal(
        (await inbound(h, a.inbound_url!, { body: fixtureText(FIXTURE) })).status,
        404,
        "the old URL stays dead",
      );
      const raw = variant(fixtureText(FIXTURE), "back", "back again");
      const r = await inbound(h, again.inbound_url!, { body: raw });
      assert.equal(r.status, 200, r.text);
      const p = await delivered(h, "back again");
      const messages = await h.server.api("GET", `/api/v1/chats/${p.chat.chat_id}/messages`, { token: h.key });
      assert.deepEqual(
        messages.json.items.map((m: { text: string }) => m.text),
        [MAYA_TEXT, "back again"],
        "the contact's old chat",
      );
      a = again;
    });

    it("its messages still queued to be sent fail, and nothing more can be queued through it", async () => {
      // The gateway is down: the send waits in the queue for a retry.
      h.gateway.respond = () => ({ status: 503, body: "down" });
      const calls = h.gateway.requests.length;
      const queued = await h.server.api("POST", "/api/v1/messages/send", {
        token: h.key,
        body: { account_phone: WAHA_B, phone: "+15551239999", text: "never sent" },
      });
      assert.equal(queued.status, 202, queued.text);
      await waitFor(() => h.gateway.requests.length > calls || undefined, "the first attempt at the gateway");
      assert.equal((await del(b.id)).status, 204);
      const msg = await h.server.api("GET", `/api/v1/messages/${queued.json.message_id}`, { token: h.key });
      assert.equal(msg.json.send_status, "failed", msg.text);
      assert.match(msg.json.send_error, /account was deleted/);
      h.gateway.respond = () => ({ status: 200, body: JSON.stringify({ id: "true_15551239999@c.us_X" }) });
      const refused = await h.server.api("POST", "/api/v1/messages/send", {
        token: h.key,
        body: { account_phone: WAHA_B, phone: "+15551239999", text: "nor this" },
      });
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.json.error.field, "account_phone");
    });

    it("with purge: its chats and messages are deleted, another account's stay, and an open window sends the rest", async () => {
      const window = await Receiver.start();
      try {
        const hook = await h.server.api("POST", "/api/v1/webhooks", {
          token: h.key,
          body: { url: window.url, aggregation: "24h" },
        });
        assert.equal(hook.status, 201, hook.text);
        const c = await createAccount(h, { phone: "+15557654323", source: "api" });
        const d = await createAccount(h, { phone: "+15557654324", source: "api" });
        const ingest = await h.server.api("POST", "/api/v1/messages", {
          token: h.key,
          body: {
            messages: [
              apiEntry(c.phone, "15551110001", "purged one"),
              apiEntry(d.phone, "15551110002", "kept one"),
              apiEntry(c.phone, "15551110003", "purged two"),
            ],
          },
        });
        assert.equal(ingest.status, 202, ingest.text);
        const [p1, k1] = ingest.json.results.map((x: { message_id: string }) => x.message_id);
        const purgedChat = (await h.server.api("GET", "/api/v1/chats?limit=200", { token: h.key })).json.items.find(
          (x: { account_phone: string }) => x.account_phone === c.phone,
        ).chat_id;
        // The unaggregated webhook delivers them (it is behind nothing); the aggregated one holds them in its open window.
        await delivered(h, "purged two");
        // Its request log rows are written (batched every 200 ms) before the purge, so the purge is what removes them.
        await waitFor(
          async () =>
            (
              await h.server.api("GET", `/api/v1/webhooks/${h.webhookId}/deliveries?chat_id=${purgedChat}`, {
                token: h.key,
              })
            ).json.items.length >= 1 || undefined,
          "the request log of the purged chat",
        );

        const r = await del(c.id, "?purge=true");
        assert.equal(r.status, 204, r.text);
        assert.equal((await h.server.api("GET", `/api/v1/chats/${purgedChat}`, { token: h.key })).status, 404);
        assert.equal((await h.server.api("GET", `/api/v1/messages/${p1}`, { token: h.key })).status, 404);
        assert.equal((await h.server.api("GET", `/api/v1/messages/${k1}`, { token: h.key })).status, 200);
        const chats = await h.server.api("GET", "/api/v1/chats?limit=200", { token: h.key });
        assert.ok(!chats.json.items.some((x: { account_phone: string }) => x.account_phone === c.phone));
        assert.ok(chats.json.items.some((x: { account_phone: string }) => x.account_phone === d.phone));
        const exported = await h.server.request("GET", "/api/v1/messages/export", {
          headers: { authorization: `Bearer ${h.key}` },
        });
        assert.ok(
          !exported.text.includes("purged one") && exported.text.includes("kept one"),
          exported.text.slice(0, 300),
        );
        // The webhooks' kept requests about its chats are gone too.
        const deliveries = await h.server.api(
          "GET",
          `/api/v1/webhooks/${h.webhookId}/deliveries?chat_id=${purgedChat}`,
          { token: h.key },
        );
        assert.deepEqual(deliveries.json.items, []);

        // The open window had three messages, two of the purged account: one bundle goes, of the kept one.
        const flushed = await h.server.api("POST", `/api/v1/webhooks/${hook.json.id}/flush`, { token: h.key });
        assert.equal(flushed.status, 200, flushed.text);
        await waitFor(() => window.requests.length >= 1, "the window's bundle");
        const texts = window.requests.flatMap((q) => (q.json?.messages ?? []).map((m: { text: string }) => m.text));
        assert.deepEqual(texts, ["kept one"]);
        // Both webhooks go on delivering.
        await flushWith(h, async (text) => {
          const more = await h.server.api("POST", "/api/v1/messages", {
            token: h.key,
            body: { messages: [apiEntry(d.phone, "15551110002", text)] },
          });
          assert.equal(more.status, 202, more.text);
        });
        const health = await h.server.api("GET", `/api/v1/webhooks/${hook.json.id}`, { token: h.key });
        assert.equal(health.json.state, "ok", health.text);
        // The purged account's row is gone: its phone connects as a new account.
        const again = await createAccount(h, { phone: c.phone, source: "api" });
        assert.notEqual(again.id, c.id);
        assert.equal((await del(c.id, "?purge=true")).status, 404);
      } finally {
        await window.close();
      }
    });
  });
}
