/**
 * Meta WhatsApp Cloud API through the real HTTP routes: the account's inbound_url gets
 * Meta's notifications (signed with X-Hub-Signature-256) and the verification handshake;
 * sending from Threadline goes to a local server that plays the Graph API.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES } from "../helpers/server.js";
import {
  PUBLIC_URL,
  allMessages,
  assertNoSecret,
  chatMessages,
  chats,
  createAccount,
  delivered,
  deliveriesOf,
  fixtureText,
  flushWith,
  gatewayAnswers,
  hmacHex,
  inbound,
  payloadTime,
  startHarness,
  type Harness,
} from "./helpers.js";
import { assertError } from "../helpers/workspace.js";

const PHONE_NUMBER_ID = "106540352242922"; // the fixtures' metadata.phone_number_id
const ACCOUNT_PHONE = "+15550783881"; // the fixtures' metadata.display_phone_number
const APP_SECRET = "cloud-app-secret-7f3a9c01d2e4b5a6";
const VERIFY_TOKEN = "verify-token-3b9e51c7";
const ACCESS_TOKEN = "EAAGcloudAccessToken0123456789abcdef";

let h: Harness;
let inboundUrl: string;
let accountId: string;

function sign(body: string, secret = APP_SECRET): Record<string, string> {
  return { "x-hub-signature-256": `sha256=${hmacHex("sha256", secret, body)}` };
}

/** POSTs a body to the inbound URL signed with the app secret. */
function notify(body: string | object, headers: Record<string, string> = {}) {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  return inbound(h, inboundUrl, { body: raw, headers: { ...sign(raw), ...headers } });
}

/** A `messages` notification as Meta sends it, for this account's number. */
function notification(value: Record<string, unknown>, field = "messages") {
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            field,
            value: { messaging_product: "whatsapp", metadata: { display_phone_number: "15550783881", phone_number_id: PHONE_NUMBER_ID }, ...value },
          },
        ],
      },
    ],
  };
}

let seq = 0;
function textFrom(waId: string, name: string, text: string, id = `wamid.test.${++seq}.${Date.now()}`) {
  return notification({
    contacts: [{ profile: { name }, wa_id: waId }],
    messages: [{ from: waId, id, timestamp: "1749417000", type: "text", text: { body: text } }],
  });
}

async function sentinel() {
  await flushWith(h, async (text) => {
    const r = await notify(textFrom("16505550000", "Sentinel Contact", text));
    assert.equal(r.status, 200, r.text);
  });
}

async function chatIdByPhone(phone: string): Promise<string> {
  const c = (await chats(h)).find((x) => x.phone === phone);
  assert.ok(c, `no chat with phone ${phone}`);
  return c.chat_id;
}

for (const database of DATABASES) describe(`Cloud API through the HTTP routes (${database})`, () => {
  before(async () => {
    h = await startHarness({ database });
    const acc = await createAccount(h, {
      phone: ACCOUNT_PHONE,
      source: "cloud_api",
      source_config: {
        phone_number_id: PHONE_NUMBER_ID,
        app_secret: APP_SECRET,
        verify_token: VERIFY_TOKEN,
        access_token: ACCESS_TOKEN,
        graph_base_url: h.gatewayBase,
      },
    });
    inboundUrl = acc.inbound_url!;
    accountId = acc.id;
  });
  after(async () => {
    await h?.close();
  });

  it("the account answers an unguessable inbound_url under {PUBLIC_URL}/inbound/cloud_api/ and never its secrets in full", async () => {
    assert.match(inboundUrl, new RegExp(`^${PUBLIC_URL.replace(/\./g, "\\.")}/inbound/cloud_api/[A-Za-z0-9_-]{20,}$`));
    const one = await h.server.api("GET", `/api/v1/accounts/${accountId}`, { token: h.key });
    assert.equal(one.status, 200);
    assert.equal(one.json.inbound_url, inboundUrl);
    assert.equal(one.json.source, "cloud_api");
    assert.equal(one.json.source_config.phone_number_id, PHONE_NUMBER_ID);
    const list = await h.server.api("GET", "/api/v1/accounts", { token: h.key });
    assert.equal(list.json.items.find((a: any) => a.id === accountId)?.inbound_url, inboundUrl);
    assertNoSecret([one.json, list.json], [APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN]);
  });

  it("GET verification handshake: the right verify token answers 200 with the challenge as the body", async () => {
    const challenge = "1158201444";
    const r = await inbound(h, inboundUrl, {
      method: "GET",
      query: `?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(VERIFY_TOKEN)}&hub.challenge=${challenge}`,
    });
    assert.equal(r.status, 200);
    assert.equal(r.text, challenge);
    assert.match(r.contentType, /^text\/plain/);
  });

  it("GET verification handshake: a wrong or missing verify token is refused and the challenge never echoed", async () => {
    const challenge = "987654321";
    for (const query of [
      `?hub.mode=subscribe&hub.verify_token=not-the-token&hub.challenge=${challenge}`,
      `?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(VERIFY_TOKEN.slice(0, -1))}&hub.challenge=${challenge}`,
      `?hub.mode=subscribe&hub.challenge=${challenge}`,
    ]) {
      const r = await inbound(h, inboundUrl, { method: "GET", query });
      assert.ok(r.status === 401 || r.status === 403, `${query}: ${r.status} ${r.text}`);
      assert.ok(!r.text.includes(challenge), r.text);
    }
    // The verify token belongs to this account only: the right token under another token path is not found.
    const other = await inbound(h, `${PUBLIC_URL}/inbound/cloud_api/in_not_a_real_token_000000000000`, {
      method: "GET",
      query: `?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(VERIFY_TOKEN)}&hub.challenge=${challenge}`,
    });
    assert.equal(other.status, 404);
    assert.ok(!other.text.includes(challenge));
  });

  it("text-received fixture → one received delivery: contact name and phone, account side, emoji, is_new_chat", async () => {
    const r = await notify(fixtureText("cloud-api/text-received.json"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 1);
    const p = await delivered(h, "Does it come in another color? 😊");
    assert.deepEqual(p.whatsapp_account, { phone: ACCOUNT_PHONE, full_name: "Amnon Haha", email: "amnon@acme.com" });
    assert.equal(p.chat.full_name, "Sheena Nelson");
    assert.equal(p.chat.phone, "+16505551234");
    assert.equal(p.chat.is_group, false);
    assert.equal(p.chat.is_new_chat, true);
    assert.equal(p.chat.chat_url, `${PUBLIC_URL}/chat/${p.chat.chat_id}/messages/`);
    assert.equal(p.message.direction, "received");
    assert.equal(p.message.timestamp, payloadTime(1749416383));
    assert.deepEqual(p.message.sender, { full_name: "Sheena Nelson", phone: "+16505551234" });
    assert.deepEqual(p.message.recipient, { full_name: "Amnon Haha", phone: ACCOUNT_PHONE });
  });

  it("the same notification again (Meta retries) is a duplicate: stored once, delivered once", async () => {
    const before = (await allMessages(h)).length;
    const r = await notify(fixtureText("cloud-api/text-received.json"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.duplicates, 1);
    assert.equal(r.json.accepted, 0);
    await sentinel();
    assert.equal(deliveriesOf(h, "Does it come in another color? 😊").length, 1);
    assert.equal((await allMessages(h)).length, before + 1); // only the sentinel
  });

  it("status-delivered fixture → acknowledged, nothing stored, nothing delivered", async () => {
    const before = (await allMessages(h)).length;
    const deliveries = h.receiver.requests.length;
    const r = await notify(fixtureText("cloud-api/status-delivered.json"));
    assert.ok(r.status >= 200 && r.status < 300, r.text);
    assert.equal((await allMessages(h)).length, before);
    await sentinel();
    assert.equal(h.receiver.requests.length, deliveries + 1); // the sentinel only
  });

  it("image-received fixture → stored as skipped in the chat, never delivered", async () => {
    const r = await notify(fixtureText("cloud-api/image-received.json"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.skipped, 1);
    const msgs = await chatMessages(h, await chatIdByPhone("+16505551234"));
    const image = msgs.find((m) => m.type === "image");
    assert.ok(image, JSON.stringify(msgs));
    assert.equal(image.status, "skipped");
    assert.equal(image.direction, "received");
    await sentinel();
    const all = [...h.receiver.unique().values()];
    assert.ok(!all.some((d) => d.json?.message?.message_id === image.message_id), "the image was delivered");
    assert.ok(!all.some((d) => d.json?.message?.text === "this one"), "the caption was delivered");
  });

  it("smb_message_echoes fixture (sent from the Business app) → sent delivery from the account to the contact, chat not new", async () => {
    const r = await notify(fixtureText("cloud-api/echo-sent-from-app.json"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 1);
    const p = await delivered(h, "Yes, in red and blue.");
    assert.equal(p.message.direction, "sent");
    assert.equal(p.message.timestamp, payloadTime(1749416600));
    assert.deepEqual(p.message.sender, { full_name: "Amnon Haha", phone: ACCOUNT_PHONE });
    assert.deepEqual(p.message.recipient, { full_name: "Sheena Nelson", phone: "+16505551234" });
    assert.equal(p.chat.phone, "+16505551234");
    assert.equal(p.chat.full_name, "Sheena Nelson");
    assert.equal(p.chat.is_new_chat, false);
    assert.equal(p.chat.chat_id, await chatIdByPhone("+16505551234"));
  });

  it("one notification with several messages and contacts (as documented) → each text delivered with its own contact; unsupported kinds skipped, reactions are not messages", async () => {
    const body = notification({
      contacts: [
        { profile: { name: "Kofi Mensah" }, wa_id: "233241234567" },
        { profile: { name: "Ana Souza" }, wa_id: "5511987654321" },
      ],
      messages: [
        { from: "233241234567", id: "wamid.multi.1", timestamp: "1749418000", type: "text", text: { body: "Akwaaba 👨‍👩‍👧 family pack?" } },
        { from: "5511987654321", id: "wamid.multi.2", timestamp: "1749418001", type: "text", text: { body: "Olá! Preço? 🇧🇷" } },
        { from: "5511987654321", id: "wamid.multi.3", timestamp: "1749418002", type: "reaction", reaction: { message_id: "wamid.multi.2", emoji: "👍" } },
        { from: "233241234567", id: "wamid.multi.4", timestamp: "1749418003", type: "unsupported", errors: [{ code: 131051, title: "Message type unknown" }] },
      ],
    });
    const r = await notify(body);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.accepted, r.json.skipped, r.json.duplicates], [2, 1, 0]);
    const kofi = await delivered(h, "Akwaaba 👨‍👩‍👧 family pack?");
    assert.deepEqual(kofi.message.sender, { full_name: "Kofi Mensah", phone: "+233241234567" });
    assert.equal(kofi.chat.is_new_chat, true);
    const ana = await delivered(h, "Olá! Preço? 🇧🇷");
    assert.deepEqual(ana.message.sender, { full_name: "Ana Souza", phone: "+5511987654321" });
    assert.equal(ana.chat.full_name, "Ana Souza");
    assert.notEqual(ana.chat.chat_id, kofi.chat.chat_id);
    const anaMsgs = await chatMessages(h, ana.chat.chat_id);
    assert.deepEqual(anaMsgs.map((m) => m.type), ["text"], "a reaction is not a message");
    assert.notEqual(anaMsgs[0].status, "skipped");
    const kofiMsgs = await chatMessages(h, kofi.chat.chat_id);
    assert.deepEqual(kofiMsgs.map((m) => [m.type, m.status === "skipped"]), [["text", false], ["unsupported", true]]);
  });

  it("unknown objects, fields and errors-only changes are acknowledged (2xx) and ignored", async () => {
    const before = (await allMessages(h)).length;
    const bodies = [
      { object: "page", entry: [{ id: "1", changes: [{ field: "feed", value: { item: "status" } }] }] },
      notification({ event: "VERIFIED_ACCOUNT", ban_info: {} }, "account_update"),
      notification({ event: "APPROVED", message_template_id: 123, message_template_name: "hello" }, "message_template_status_update"),
      notification({ errors: [{ code: 130429, title: "Rate limit hit" }] }),
    ];
    for (const b of bodies) {
      const r = await notify(b);
      assert.ok(r.status >= 200 && r.status < 300, `${JSON.stringify(b)} → ${r.status} ${r.text}`);
    }
    assert.equal((await allMessages(h)).length, before);
  });

  it("a notification for another phone number of the same Meta app is ignored", async () => {
    const body = textFrom("16505551234", "Sheena Nelson", "for the other number");
    body.entry[0]!.changes[0]!.value.metadata.phone_number_id = "999999999999999";
    const r = await notify(body);
    assert.ok(r.status >= 200 && r.status < 300, r.text);
    await sentinel();
    assert.equal(deliveriesOf(h, "for the other number").length, 0);
  });

  it("sending from Threadline: the Graph API gets the documented request, the message is stored as sent with Meta's wamid, delivered once, and its echo is a duplicate", async () => {
    const chatId = await chatIdByPhone("+16505551234");
    const wamid = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJBQkNERUYwMTIzNDU2Nzg5AA==";
    h.gateway.requests.length = 0;
    gatewayAnswers(h, { messaging_product: "whatsapp", contacts: [{ input: "16505551234", wa_id: "16505551234" }], messages: [{ id: wamid }] });
    const text = "We have it in green too 💚";
    const r = await h.server.api("POST", `/api/v1/chats/${chatId}/messages`, { token: h.key, body: { text } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.direction, "sent");
    assert.equal(r.json.text, text);
    assert.deepEqual(r.json.sender, { full_name: "Amnon Haha", phone: ACCOUNT_PHONE });

    assert.equal(h.gateway.requests.length, 1);
    const g = h.gateway.requests[0]!;
    assert.equal(g.method, "POST");
    assert.match(g.url, new RegExp(`^/v\\d+\\.\\d+/${PHONE_NUMBER_ID}/messages$`));
    assert.equal(g.headers.authorization, `Bearer ${ACCESS_TOKEN}`);
    assert.match(String(g.headers["content-type"]), /^application\/json/);
    assert.deepEqual(g.json, { messaging_product: "whatsapp", recipient_type: "individual", to: "16505551234", type: "text", text: { body: text } });

    const p = await delivered(h, text);
    assert.equal(p.message.direction, "sent");
    assert.equal(p.message.message_id, r.json.message_id);
    assert.deepEqual(p.message.recipient, { full_name: "Sheena Nelson", phone: "+16505551234" });

    // Meta's echo of the same message (coexistence) carries the same wamid.
    const echo = notification(
      { message_echoes: [{ from: "15550783881", to: "16505551234", id: wamid, timestamp: "1749419000", type: "text", text: { body: text } }] },
      "smb_message_echoes",
    );
    const e = await notify(echo);
    assert.equal(e.status, 200, e.text);
    assert.equal(e.json.duplicates, 1);
    await sentinel();
    assert.equal(deliveriesOf(h, text).length, 1);
    assert.equal((await chatMessages(h, chatId)).filter((m) => m.text === text).length, 1);
  });

  it("sending as a teammate: the delivery's sender is the teammate", async () => {
    const t = await h.server.api("POST", "/api/v1/teammates", { token: h.key, body: { full_name: "Bea Sales", email: "bea@acme.com" } });
    assert.equal(t.status, 201, t.text);
    gatewayAnswers(h, { messaging_product: "whatsapp", contacts: [{ input: "16505551234", wa_id: "16505551234" }], messages: [{ id: "wamid.teammate.1" }] });
    const text = "Bea here, happy to help";
    const r = await h.server.api("POST", `/api/v1/chats/${await chatIdByPhone("+16505551234")}/messages`, {
      token: h.key,
      body: { text, teammate_email: "bea@acme.com" },
    });
    assert.equal(r.status, 201, r.text);
    const p = await delivered(h, text);
    assert.deepEqual(p.message.sender, { full_name: "Bea Sales", phone: ACCOUNT_PHONE });
  });

  it("the Graph API answering 500 → the API answers 5xx with an error, nothing is stored or delivered", async () => {
    const chatId = await chatIdByPhone("+16505551234");
    const before = (await chatMessages(h, chatId)).length;
    h.gateway.requests.length = 0;
    gatewayAnswers(h, { error: { message: "An unknown error has occurred.", type: "OAuthException", code: 1, fbtrace_id: "AbCd" } }, 500);
    const text = "this must not be stored";
    const r = await h.server.api("POST", `/api/v1/chats/${chatId}/messages`, { token: h.key, body: { text } });
    const err = assertError(r, (s) => s >= 500 && s < 600);
    assert.ok(!err.message.includes(ACCESS_TOKEN), err.message);
    assert.equal(h.gateway.requests.length, 1);
    assert.equal((await chatMessages(h, chatId)).length, before);
    await sentinel();
    assert.equal(deliveriesOf(h, text).length, 0);
  });

  it("a missing or wrong X-Hub-Signature-256 → 401 and nothing stored; a Threadline API key is no substitute", async () => {
    const before = (await allMessages(h)).length;
    const raw = JSON.stringify(textFrom("16505551234", "Sheena Nelson", "forged message"));
    const attempts: Array<Record<string, string>> = [
      {},
      sign(raw, "not-the-app-secret"),
      sign(`${raw} `), // a signature of other bytes
      { "x-hub-signature-256": `sha1=${hmacHex("sha256", APP_SECRET, raw)}` },
      { "x-hub-signature-256": "sha256=" },
      { authorization: `Bearer ${h.key}` },
      { authorization: `Bearer ${h.key}`, "x-hub-signature-256": `sha256=${hmacHex("sha256", h.key, raw)}` },
    ];
    for (const headers of attempts) {
      const r = await inbound(h, inboundUrl, { body: raw, headers });
      assertError(r, 401);
    }
    assert.equal((await allMessages(h)).length, before);
    await sentinel();
    assert.equal(deliveriesOf(h, "forged message").length, 0);
  });

  it("garbage bodies (properly signed): only a body that is not JSON is refused (400); the rest is stored as an unrecognised event (200)", async () => {
    const before = (await allMessages(h)).length;
    const good = textFrom("16505551234", "Sheena Nelson", "never stored");
    const msg = (b: any) => b.entry[0].changes[0].value.messages[0];
    for (const [what, body] of [["not JSON", "this is not json{"], ["empty body", ""]] as const) {
      const err = assertError(await notify(body), 400);
      assert.match(err.message, /JSON/, `${what}: ${err.message}`);
    }
    const cases: Array<[string, string | object, RegExp]> = [
      ["a JSON array", "[1,2,3]", /object/],
      ["no entry", { object: "whatsapp_business_account" }, /\bentry\b/],
      ["entry not an array", { object: "whatsapp_business_account", entry: {} }, /\bentry\b/],
      ["message without id", (() => { const b = structuredClone(good); delete msg(b).id; return b; })(), /messages\[0\]\.id/],
      ["text without body", (() => { const b = structuredClone(good); msg(b).text = {}; return b; })(), /messages\[0\]\.text\.body/],
      ["bad timestamp", (() => { const b = structuredClone(good); msg(b).timestamp = "yesterday"; return b; })(), /messages\[0\]\.timestamp/],
    ];
    for (const [what, body, names] of cases) {
      const r = await notify(body);
      assert.equal(r.status, 200, `${what}: ${r.text}`);
      assert.equal(r.json.unrecognised, 1, what);
      const events = await h.server.api("GET", `/api/v1/accounts/${accountId}/inbound-events?limit=1`, { token: h.key });
      assert.equal(events.status, 200, events.text);
      assert.match(events.json.items[0].reason, names, what);
      assert.equal(events.json.items[0].body, typeof body === "string" ? body : JSON.stringify(body), what);
    }
    assert.equal((await allMessages(h)).length, before);
  });
});
