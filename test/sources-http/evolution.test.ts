/**
 * Evolution API through the real HTTP routes: `messages.upsert` events (both directions)
 * POSTed to the account's inbound_url with the instance token in the body's `apikey`;
 * sending from Threadline goes to a local server that plays /message/sendText/{instance}.
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
  fixtureJson,
  fixtureText,
  flushWith,
  gatewayAnswers,
  inbound,
  payloadTime,
  startHarness,
  type Harness,
} from "./helpers.js";
import { assertError } from "../helpers/workspace.js";

const ACCOUNT_PHONE = "+15557654321"; // the fixtures' sender
const INSTANCE = "sales-1";
const API_KEY = String(fixtureJson("evolution/messages-upsert-text-direct.json").apikey); // the instance token the fixtures carry
const GROUP = "120363041234567890@g.us";

let h: Harness;
let inboundUrl: string;

function post(body: string | object) {
  return inbound(h, inboundUrl, { body: typeof body === "string" ? body : JSON.stringify(body) });
}

/** A messages.upsert event as Evolution v2 sends it for this instance. */
function upsert(data: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    event: "messages.upsert",
    instance: INSTANCE,
    date_time: "2025-10-01T10:10:00.000Z",
    sender: "15557654321@s.whatsapp.net",
    server_url: "http://localhost:8081",
    apikey: API_KEY,
    data: { status: "DELIVERY_ACK", messageTimestamp: 1759313400, instanceId: "6f1c2a9e-4b7d-4e38-9f1a-2c3d4e5f6a7b", source: "android", ...data },
    ...extra,
  };
}

let seq = 0;
function receivedText(jid: string, name: string, text: string) {
  return upsert({ key: { remoteJid: jid, fromMe: false, id: `3EB0EVO${++seq}${Date.now()}` }, pushName: name, messageType: "conversation", message: { conversation: text } });
}

async function sentinel() {
  await flushWith(h, async (text) => {
    const r = await post(receivedText("15550000002@s.whatsapp.net", "Sentinel", text));
    assert.equal(r.status, 200, r.text);
  });
}

async function chatBy(pred: (c: any) => boolean) {
  const c = (await chats(h)).find(pred);
  assert.ok(c, "chat not found");
  return c;
}

for (const database of DATABASES) describe(`Evolution API through the HTTP routes (${database})`, () => {
  before(async () => {
    h = await startHarness({ database });
    const acc = await createAccount(h, { phone: ACCOUNT_PHONE, source: "evolution", source_config: { base_url: h.gatewayBase, api_key: API_KEY, instance: INSTANCE } });
    assert.match(acc.inbound_url!, /^https:\/\/threadline\.example\.test\/inbound\/evolution\/[A-Za-z0-9_-]{20,}$/);
    assert.equal(acc.source_config.instance, INSTANCE);
    assertNoSecret(acc, [API_KEY]);
    inboundUrl = acc.inbound_url!;
  });
  after(async () => {
    await h?.close();
  });

  it("messages-upsert-text-direct fixture → received delivery named by pushName, is_new_chat", async () => {
    const r = await post(fixtureText("evolution/messages-upsert-text-direct.json"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 1);
    const p = await delivered(h, "Can you send me the price list?");
    assert.deepEqual(p.whatsapp_account, { phone: ACCOUNT_PHONE, full_name: "Amnon Haha", email: "amnon@acme.com" });
    assert.equal(p.chat.full_name, "Jane Roe");
    assert.equal(p.chat.phone, "+15551234567");
    assert.equal(p.chat.is_group, false);
    assert.equal(p.chat.is_new_chat, true);
    assert.equal(p.message.direction, "received");
    assert.equal(p.message.timestamp, payloadTime(1759312800));
    assert.deepEqual(p.message.sender, { full_name: "Jane Roe", phone: "+15551234567" });
    assert.deepEqual(p.message.recipient, { full_name: "Amnon Haha", phone: ACCOUNT_PHONE });
  });

  it("messages-upsert-group-text fixture → group chat, phones empty, participant as sender, emoji kept", async () => {
    const r = await post(fixtureText("evolution/messages-upsert-group-text.json"));
    assert.equal(r.status, 200, r.text);
    const p = await delivered(h, "ok 👍");
    assert.equal(p.chat.is_group, true);
    assert.equal(p.chat.phone, "");
    assert.equal(p.chat.is_new_chat, true);
    assert.equal(p.message.direction, "received");
    assert.equal(p.message.timestamp, payloadTime(1759313100));
    assert.deepEqual(p.message.sender, { full_name: "Jane Roe", phone: "" });
    assert.equal(p.message.recipient.phone, "");
  });

  it("messages-upsert-image fixture (fromMe) → stored as skipped in the direct chat, never delivered", async () => {
    const r = await post(fixtureText("evolution/messages-upsert-image.json"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.skipped, 1);
    const chat = await chatBy((c) => c.phone === "+15551234567");
    const image = (await chatMessages(h, chat.chat_id)).find((m) => m.type === "image");
    assert.ok(image);
    assert.equal(image.status, "skipped");
    assert.equal(image.direction, "sent");
    await sentinel();
    assert.equal(deliveriesOf(h, "our catalogue").length, 0);
    assert.ok(![...h.receiver.unique().values()].some((d) => d.json?.message?.message_id === image.message_id));
  });

  it("a sent extendedTextMessage (documented shape, fromMe) → sent delivery from the account to the named contact", async () => {
    const body = upsert({
      key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "3EB0EXTENDED0001" },
      pushName: "Acme Sales",
      messageType: "extendedTextMessage",
      message: { extendedTextMessage: { text: "Here it is: https://acme.example/prices 📎" } },
      messageTimestamp: 1759313200,
    });
    const r = await post(body);
    assert.equal(r.status, 200, r.text);
    const p = await delivered(h, "Here it is: https://acme.example/prices 📎");
    assert.equal(p.message.direction, "sent");
    assert.equal(p.message.sender.phone, ACCOUNT_PHONE);
    assert.deepEqual(p.message.recipient, { full_name: "Jane Roe", phone: "+15551234567" });
    assert.equal(p.chat.is_new_chat, false);
  });

  it("a repeated event is a duplicate: stored once, delivered once", async () => {
    const before = (await allMessages(h)).length;
    const r = await post(fixtureText("evolution/messages-upsert-text-direct.json"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.duplicates, 1);
    await sentinel();
    assert.equal(deliveriesOf(h, "Can you send me the price list?").length, 1);
    assert.equal((await allMessages(h)).length, before + 1);
  });

  it("other events, other instances, reactions and status broadcasts are acknowledged (2xx) and ignored", async () => {
    const before = (await allMessages(h)).length;
    const bodies = [
      { ...upsert({}), event: "messages.update", data: { keyId: "3EB0F5A1B2C3D4E5F6A7", remoteJid: "15551234567@s.whatsapp.net", fromMe: false, status: "READ" } },
      { ...upsert({}), event: "connection.update", data: { instance: INSTANCE, state: "open", statusReason: 200 } },
      { ...upsert({}), event: "send.message", data: { key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "X" } } },
      { ...receivedText("15551234567@s.whatsapp.net", "Jane Roe", "for another instance"), instance: "sales-2" },
      upsert({ key: { remoteJid: "status@broadcast", fromMe: false, id: "3EB0STATUS0001", participant: "15551234567@s.whatsapp.net" }, pushName: "Jane Roe", messageType: "conversation", message: { conversation: "my status" } }),
      upsert({ key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: false, id: "3EB0REACT0001" }, pushName: "Jane Roe", messageType: "reactionMessage", message: { reactionMessage: { text: "❤️", key: { id: "3EB0EXTENDED0001" } } } }),
    ];
    for (const b of bodies) {
      const r = await post(b);
      assert.ok(r.status >= 200 && r.status < 300, `${b.event} → ${r.status} ${r.text}`);
    }
    assert.equal((await allMessages(h)).length, before);
    await sentinel();
    for (const t of ["for another instance", "my status"]) assert.equal(deliveriesOf(h, t).length, 0, t);
  });

  it("sending from Threadline: Evolution gets POST /message/sendText/{instance} with apikey, the message is stored with key.id, delivered once, and the upsert echo is a duplicate", async () => {
    const chat = await chatBy((c) => c.phone === "+15551234567");
    h.gateway.requests.length = 0;
    gatewayAnswers(
      h,
      {
        key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "BAE594145F4C59B4" },
        pushName: "",
        status: "PENDING",
        message: { conversation: "x" },
        messageType: "conversation",
        messageTimestamp: 1759313500,
        instanceId: "6f1c2a9e-4b7d-4e38-9f1a-2c3d4e5f6a7b",
        source: "unknown",
      },
      201,
    );
    const text = "Price list attached soon 📄✨";
    const r = await h.server.api("POST", `/api/v1/chats/${chat.chat_id}/messages`, { token: h.key, body: { text } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.direction, "sent");

    assert.equal(h.gateway.requests.length, 1);
    const g = h.gateway.requests[0]!;
    assert.equal(g.method, "POST");
    assert.equal(g.url, `/message/sendText/${INSTANCE}`);
    assert.equal(g.headers.apikey, API_KEY);
    assert.deepEqual(g.json, { number: "15551234567", text });

    const p = await delivered(h, text);
    assert.equal(p.message.message_id, r.json.message_id);
    assert.deepEqual(p.message.recipient, { full_name: "Jane Roe", phone: "+15551234567" });
    assert.equal(p.message.sender.full_name, "Amnon Haha");

    const echo = upsert({ key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "BAE594145F4C59B4" }, pushName: "Acme Sales", messageType: "conversation", message: { conversation: text } });
    const e = await post(echo);
    assert.equal(e.status, 200, e.text);
    assert.equal(e.json.duplicates, 1);
    await sentinel();
    assert.equal(deliveriesOf(h, text).length, 1);
    assert.equal((await chatMessages(h, chat.chat_id)).filter((m) => m.text === text).length, 1);
  });

  it("sending to a group: number is the group JID", async () => {
    const group = await chatBy((c) => c.is_group === true);
    h.gateway.requests.length = 0;
    gatewayAnswers(h, { key: { remoteJid: GROUP, fromMe: true, id: "BAE5GROUP0000001" }, status: "PENDING", messageType: "conversation", messageTimestamp: 1759313600 }, 201);
    const text = "Noted, thanks 👌";
    const r = await h.server.api("POST", `/api/v1/chats/${group.chat_id}/messages`, { token: h.key, body: { text } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(h.gateway.requests[0]?.json, { number: GROUP, text });
    const p = await delivered(h, text);
    assert.equal(p.chat.is_group, true);
    assert.deepEqual(p.message.sender, { full_name: "Amnon Haha", phone: "" });
  });

  it("Evolution answering 500 → the API answers 5xx with an error, nothing stored or delivered", async () => {
    const chat = await chatBy((c) => c.phone === "+15551234567");
    const before = (await chatMessages(h, chat.chat_id)).length;
    gatewayAnswers(h, { status: 500, error: "Internal Server Error", response: { message: "Connection Closed" } }, 500);
    const text = "evolution is down, do not store";
    const r = await h.server.api("POST", `/api/v1/chats/${chat.chat_id}/messages`, { token: h.key, body: { text } });
    const err = assertError(r, (s) => s >= 500 && s < 600);
    assert.ok(!err.message.includes(API_KEY));
    assert.equal((await chatMessages(h, chat.chat_id)).length, before);
    await sentinel();
    assert.equal(deliveriesOf(h, text).length, 0);
  });

  it("a missing or wrong apikey → 401, nothing stored; a Threadline API key is no substitute", async () => {
    const before = (await allMessages(h)).length;
    const good = receivedText("15551234567@s.whatsapp.net", "Jane Roe", "forged evolution message");
    const attempts: Array<[object, Record<string, string>]> = [
      [{ ...good, apikey: undefined }, {}],
      [{ ...good, apikey: null }, {}],
      [{ ...good, apikey: "B6D711FCDE4D4FD5936544120E713977" }, {}],
      [{ ...good, apikey: API_KEY.toLowerCase() }, {}],
      [{ ...good, apikey: h.key }, {}],
      [{ ...good, apikey: undefined }, { authorization: `Bearer ${h.key}` }],
      [{ ...good, apikey: undefined }, { apikey: API_KEY }], // the header is what Evolution's own API takes, not what its webhooks send
    ];
    for (const [body, headers] of attempts) {
      const r = await inbound(h, inboundUrl, { body: JSON.stringify(body), headers });
      assertError(r, 401);
    }
    assert.equal((await allMessages(h)).length, before);
    await sentinel();
    assert.equal(deliveriesOf(h, "forged evolution message").length, 0);
  });

  it("garbage bodies: not JSON → 400, no apikey → 401, the rest (authenticated) → 200 stored as unrecognised, no message", async () => {
    const before = (await allMessages(h)).length;
    const good = receivedText("15551234567@s.whatsapp.net", "Jane Roe", "never stored") as any;
    const edit = (f: (b: any) => void) => {
      const b = structuredClone(good);
      f(b);
      return b;
    };
    assertError(await post("apikey=B6D711FCDE4D4FD5936544120E713976"), 400); // not JSON at all
    assertError(await post(JSON.stringify([good])), 401); // no apikey to check
    const cases: Array<[string, string | object, RegExp]> = [
      ["no event", edit((b) => delete b.event), /\bevent\b/],
      ["no data", edit((b) => delete b.data), /\bdata\b/],
      ["no data.key", edit((b) => delete b.data.key), /data\.key\b/],
      ["no data.key.remoteJid", edit((b) => delete b.data.key.remoteJid), /data\.key\.remoteJid/],
      ["no data.key.fromMe", edit((b) => delete b.data.key.fromMe), /data\.key\.fromMe/],
      ["no message nor messageType", edit((b) => (delete b.data.messageType, delete b.data.message)), /data\.message/],
    ];
    for (const [what, body, names] of cases) {
      const r = await post(body);
      assert.equal(r.status, 200, `${what}: ${r.text}`);
      assert.equal(r.json.unrecognised, 1, what);
      const accounts = await h.server.api("GET", "/api/v1/accounts", { token: h.key });
      const acc = accounts.json.items.find((a: any) => a.source === "evolution");
      const events = await h.server.api("GET", `/api/v1/accounts/${acc.id}/inbound-events?limit=1`, { token: h.key });
      assert.match(events.json.items[0].reason, names, what);
    }
    assert.equal((await allMessages(h)).length, before);
  });
});
