/**
 * WAHA through the real HTTP routes: `message.any` events (both directions) POSTed to the
 * account's inbound_url, signed with X-Webhook-Hmac (sha512) when the account has an
 * hmac_key; sending from Threadline goes to a local server that plays WAHA's /api/sendText.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES } from "../helpers/server.js";
import {
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

const ACCOUNT_PHONE = "+15557654321"; // the fixtures' me.id
const API_KEY = "waha-api-key-5d1e8f20c4";
const HMAC_KEY = "waha-hmac-key-a81c3e77f0";
const GROUP = "120363041234567890@g.us";

let h: Harness;
let inboundUrl: string;

function sign(raw: string, key = HMAC_KEY): Record<string, string> {
  return { "x-webhook-hmac": hmacHex("sha512", key, raw), "x-webhook-hmac-algorithm": "sha512" };
}

function send(body: string | object, headers: Record<string, string> = {}, url = inboundUrl) {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  return inbound(h, url, { body: raw, headers: { ...sign(raw), ...headers } });
}

/** A message.any event as WAHA sends it for the "default" session. */
function messageAny(payload: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    id: `evt_${Math.random().toString(36).slice(2)}`,
    timestamp: 1710000400000,
    event: "message.any",
    session: "default",
    engine: "NOWEB",
    me: { id: "15557654321@c.us", pushName: "Acme Sales" },
    payload: { timestamp: 1710000400, hasMedia: false, ack: 1, ackName: "SERVER", _data: {}, ...payload },
    ...extra,
  };
}

let seq = 0;
function received(from: string, name: string, body: string) {
  return messageAny({ id: `false_${from}_3EB0TEST${++seq}${Date.now()}`, from, fromMe: false, to: "15557654321@c.us", body, _data: { notifyName: name } });
}

async function sentinel() {
  await flushWith(h, async (text) => {
    const r = await send(received("15550000001@c.us", "Sentinel", text));
    assert.equal(r.status, 200, r.text);
  });
}

async function chatByExternal(pred: (c: any) => boolean) {
  const c = (await chats(h)).find(pred);
  assert.ok(c, "chat not found");
  return c;
}

for (const database of DATABASES) describe(`WAHA through the HTTP routes (${database})`, () => {
  before(async () => {
    h = await startHarness({ database });
    const acc = await createAccount(h, {
      phone: ACCOUNT_PHONE,
      source: "waha",
      source_config: { base_url: h.gatewayBase, api_key: API_KEY, session: "default", hmac_key: HMAC_KEY },
    });
    assert.match(acc.inbound_url!, /^https:\/\/threadline\.example\.test\/inbound\/waha\/[A-Za-z0-9_-]{20,}$/);
    assert.equal(acc.source_config.session, "default");
    assertNoSecret(acc, [API_KEY, HMAC_KEY]);
    inboundUrl = acc.inbound_url!;
  });
  after(async () => {
    await h?.close();
  });

  it("message-any-received-direct fixture → received delivery named by notifyName, is_new_chat", async () => {
    const r = await send(fixtureText("waha/message-any-received-direct.json"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 1);
    const p = await delivered(h, "Hello, is the offer still valid?");
    assert.deepEqual(p.whatsapp_account, { phone: ACCOUNT_PHONE, full_name: "Amnon Haha", email: "amnon@acme.com" });
    assert.equal(p.chat.full_name, "Jane Roe");
    assert.equal(p.chat.phone, "+15551234567");
    assert.equal(p.chat.is_group, false);
    assert.equal(p.chat.is_new_chat, true);
    assert.equal(p.message.direction, "received");
    assert.equal(p.message.timestamp, payloadTime(1710000000));
    assert.deepEqual(p.message.sender, { full_name: "Jane Roe", phone: "+15551234567" });
    assert.equal(p.message.recipient.phone, ACCOUNT_PHONE);
    assert.ok(p.message.recipient.full_name, "recipient named");
  });

  it("message-any-sent-direct fixture (fromMe) → sent delivery to the same chat, emoji kept, contact named", async () => {
    const r = await send(fixtureText("waha/message-any-sent-direct.json"));
    assert.equal(r.status, 200, r.text);
    const p = await delivered(h, "Yes, until Friday 👍");
    assert.equal(p.message.direction, "sent");
    assert.equal(p.message.timestamp, payloadTime(1710000060));
    assert.equal(p.message.sender.phone, ACCOUNT_PHONE);
    assert.deepEqual(p.message.recipient, { full_name: "Jane Roe", phone: "+15551234567" });
    assert.equal(p.chat.is_new_chat, false);
    assert.equal(p.chat.phone, "+15551234567");
    assert.equal((await delivered(h, "Hello, is the offer still valid?")).chat.chat_id, p.chat.chat_id);
  });

  it("a repeated event is a duplicate: stored once, delivered once", async () => {
    const before = (await allMessages(h)).length;
    const r = await send(fixtureText("waha/message-any-received-direct.json"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.duplicates, 1);
    await sentinel();
    assert.equal(deliveriesOf(h, "Hello, is the offer still valid?").length, 1);
    assert.equal((await allMessages(h)).length, before + 1); // the sentinel
  });

  it("message-any-group-media fixture → a group chat with the document stored as skipped, never delivered", async () => {
    const r = await send(fixtureText("waha/message-any-group-media.json"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.skipped, 1);
    const group = await chatByExternal((c) => c.is_group === true);
    assert.equal(group.phone, "");
    const msgs = await chatMessages(h, group.chat_id);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0].status, "skipped");
    assert.equal(msgs[0].type, "document");
    await sentinel();
    assert.equal(deliveriesOf(h, "see attached").length, 0);
    assert.ok(![...h.receiver.unique().values()].some((d) => d.json?.chat?.is_group === true), "a group message was delivered");
  });

  it("a group text (documented message.any with participant) → is_group, phones empty, sender is the participant", async () => {
    const body = messageAny({
      id: "false_120363041234567890@g.us_3EB0GROUPTEXT01_15551234567@c.us",
      timestamp: 1710000200,
      from: GROUP,
      fromMe: false,
      to: "15557654321@c.us",
      participant: "15551234567@c.us",
      body: "Team, the order shipped 🚚📦",
      _data: { notifyName: "Jane Roe" },
    });
    const r = await send(body);
    assert.equal(r.status, 200, r.text);
    const p = await delivered(h, "Team, the order shipped 🚚📦");
    assert.equal(p.chat.is_group, true);
    assert.equal(p.chat.phone, "");
    assert.equal(p.chat.is_new_chat, false); // the media message created it
    assert.equal(p.message.direction, "received");
    assert.deepEqual(p.message.sender, { full_name: "Jane Roe", phone: "" });
    assert.equal(p.message.recipient.phone, "");
  });

  it("other events, other sessions and status broadcasts are acknowledged (2xx) and ignored", async () => {
    const before = (await allMessages(h)).length;
    const bodies = [
      { event: "session.status", session: "default", payload: { status: "WORKING" } },
      { event: "message.ack", session: "default", payload: { id: "true_15551234567@c.us_3EB0A9F1E2D3C4B5A6F7", ack: 3, ackName: "READ" } },
      { ...received("15551234567@c.us", "Jane Roe", "another session"), session: "other-session" },
      messageAny({ id: "false_status@broadcast_3EB0STATUS01", from: "status@broadcast", fromMe: false, participant: "15551234567@c.us", body: "my status" }),
      { event: "future.event.kind", session: "default", payload: { anything: true } },
    ];
    for (const b of bodies) {
      const r = await send(b);
      assert.ok(r.status >= 200 && r.status < 300, `${b.event} → ${r.status} ${r.text}`);
    }
    assert.equal((await allMessages(h)).length, before);
    await sentinel();
    for (const t of ["another session", "my status"]) assert.equal(deliveriesOf(h, t).length, 0, t);
  });

  it("sending from Threadline: WAHA gets POST /api/sendText with X-Api-Key, the message is stored with WAHA's id, delivered once, and the message.any echo is a duplicate", async () => {
    const chat = await chatByExternal((c) => c.phone === "+15551234567");
    h.gateway.requests.length = 0;
    // NOWEB answers sendText with the Baileys message (key.remoteJid in @s.whatsapp.net form).
    gatewayAnswers(h, {
      key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "3EB0SENDNOWEB0001" },
      message: { extendedTextMessage: { text: "x" } },
      messageTimestamp: "1710000500",
      status: "PENDING",
    });
    const text = "Sure, see you Friday 🙌";
    const r = await h.server.api("POST", `/api/v1/chats/${chat.chat_id}/messages`, { token: h.key, body: { text } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.direction, "sent");
    assert.equal(r.json.sender.full_name, "Amnon Haha");

    assert.equal(h.gateway.requests.length, 1);
    const g = h.gateway.requests[0]!;
    assert.equal(g.method, "POST");
    assert.equal(g.url, "/api/sendText");
    assert.equal(g.headers["x-api-key"], API_KEY);
    assert.deepEqual(g.json, { session: "default", chatId: "15551234567@c.us", text });

    const p = await delivered(h, text);
    assert.equal(p.message.message_id, r.json.message_id);
    assert.equal(p.message.direction, "sent");
    assert.equal(p.message.sender.full_name, "Amnon Haha");

    const echo = messageAny({ id: "true_15551234567@c.us_3EB0SENDNOWEB0001", timestamp: 1710000500, from: "15557654321@c.us", fromMe: true, to: "15551234567@c.us", body: text });
    const e = await send(echo);
    assert.equal(e.status, 200, e.text);
    assert.equal(e.json.duplicates, 1);
    await sentinel();
    assert.equal(deliveriesOf(h, text).length, 1);
    assert.equal((await chatMessages(h, chat.chat_id)).filter((m) => m.text === text).length, 1);
  });

  it("sending to a group (WEBJS answer with id._serialized): chatId is the group, the echo is a duplicate", async () => {
    const group = await chatByExternal((c) => c.is_group === true);
    h.gateway.requests.length = 0;
    const serialized = "true_120363041234567890@g.us_3EB0GROUPWEBJS01_15557654321@c.us";
    gatewayAnswers(h, {
      id: { fromMe: true, remote: GROUP, id: "3EB0GROUPWEBJS01", participant: "15557654321@c.us", _serialized: serialized },
      body: "x",
      type: "chat",
      timestamp: 1710000600,
      from: "15557654321@c.us",
      to: GROUP,
      ack: 0,
    });
    const text = "Thanks all 🙏";
    const r = await h.server.api("POST", `/api/v1/chats/${group.chat_id}/messages`, { token: h.key, body: { text } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(h.gateway.requests[0]?.json, { session: "default", chatId: GROUP, text });
    const p = await delivered(h, text);
    assert.equal(p.chat.is_group, true);
    assert.deepEqual(p.message.sender, { full_name: "Amnon Haha", phone: "" });
    const e = await send(messageAny({ id: serialized, from: "15557654321@c.us", fromMe: true, to: GROUP, body: text }));
    assert.equal(e.json.duplicates, 1, e.text);
    await sentinel();
    assert.equal(deliveriesOf(h, text).length, 1);
  });

  it("WAHA answering 500 → the API answers 5xx with an error, nothing stored or delivered", async () => {
    const chat = await chatByExternal((c) => c.phone === "+15551234567");
    const before = (await chatMessages(h, chat.chat_id)).length;
    gatewayAnswers(h, { statusCode: 500, message: "Session status is not as expected", error: "Internal Server Error" }, 500);
    const text = "waha is down, do not store";
    const r = await h.server.api("POST", `/api/v1/chats/${chat.chat_id}/messages`, { token: h.key, body: { text } });
    const err = assertError(r, (s) => s >= 500 && s < 600);
    assert.ok(!err.message.includes(API_KEY));
    assert.equal((await chatMessages(h, chat.chat_id)).length, before);
    await sentinel();
    assert.equal(deliveriesOf(h, text).length, 0);
  });

  it("a missing or wrong X-Webhook-Hmac → 401, nothing stored; a Threadline API key is no substitute", async () => {
    const before = (await allMessages(h)).length;
    const raw = JSON.stringify(received("15551234567@c.us", "Jane Roe", "forged waha message"));
    const attempts: Array<Record<string, string>> = [
      {},
      sign(raw, "not-the-hmac-key"),
      sign(`${raw}\n`),
      { "x-webhook-hmac": hmacHex("sha256", HMAC_KEY, raw), "x-webhook-hmac-algorithm": "sha256" },
      { authorization: `Bearer ${h.key}` },
      { "x-api-key": API_KEY },
    ];
    for (const headers of attempts) {
      const r = await inbound(h, inboundUrl, { body: raw, headers });
      assertError(r, 401);
    }
    assert.equal((await allMessages(h)).length, before);
    await sentinel();
    assert.equal(deliveriesOf(h, "forged waha message").length, 0);
  });

  it("garbage bodies (properly signed): not JSON → 400; anything else is acknowledged and stored as an unrecognised event, no message", async () => {
    const before = (await allMessages(h)).length;
    const good = received("15551234567@c.us", "Jane Roe", "never stored");
    const without = (key: string) => {
      const b = structuredClone(good) as any;
      delete b.payload[key];
      return b;
    };
    const cases: Array<[string, string | object, RegExp]> = [
      ["a JSON array", JSON.stringify([good]), /object/],
      ["no event", { session: "default", payload: good.payload }, /\bevent\b/],
      ["no payload", { event: "message.any", session: "default" }, /\bpayload\b/],
      ["no payload.id", without("id"), /payload\.id/],
      ["no payload.timestamp", without("timestamp"), /payload\.timestamp/],
    ];
    assert.match(assertError(await send("<xml/>"), 400).message, /JSON/);
    const accounts = await h.server.api("GET", "/api/v1/accounts", { token: h.key });
    const accountId = accounts.json.items.find((a: any) => a.inbound_url === inboundUrl).id;
    for (const [what, body, names] of cases) {
      const r = await send(body);
      assert.equal(r.status, 200, `${what}: ${r.text}`);
      assert.equal(r.json.unrecognised, 1, what);
      const events = await h.server.api("GET", `/api/v1/accounts/${accountId}/inbound-events?limit=1`, { token: h.key });
      assert.match(events.json.items[0].reason, names, what);
    }
    assert.equal((await allMessages(h)).length, before);
  });

  it("an account without hmac_key takes unsigned events (its URL token is the only secret)", async () => {
    const acc = await createAccount(h, { phone: "+15557650000", source: "waha", source_config: { base_url: h.gatewayBase, api_key: API_KEY, session: "second" } });
    const body = { ...received("15559990000@c.us", "Unsigned Sender", "unsigned but fine ✅"), session: "second", me: { id: "15557650000@c.us", pushName: "Second" } };
    const r = await inbound(h, acc.inbound_url!, { body: JSON.stringify(body) });
    assert.equal(r.status, 200, r.text);
    const p = await delivered(h, "unsigned but fine ✅");
    assert.equal(p.whatsapp_account.phone, "+15557650000");
  });
});
