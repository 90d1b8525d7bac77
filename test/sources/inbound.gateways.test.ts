/**
 * The three gateways through the real HTTP routes, on both databases: Meta's WhatsApp Cloud
 * API (notifications signed with X-Hub-Signature-256, and the GET verification handshake),
 * WAHA (`message.any` events, signed with X-Webhook-Hmac sha512 when the account has an
 * hmac_key) and Evolution API (`messages.upsert` events carrying the instance token in the
 * body's `apikey`). Each gateway's events are POSTed to its account's inbound_url as the
 * gateway sends them; sending from Threadline goes to a local server that plays the
 * gateway's own API. One server per database serves all three (starting servers is where
 * these tests spent their time), each gateway in its own workspace with its own receiver and
 * stand-in gateway, the three side by side.
 *
 * GATEWAYS has one row per gateway; the cases every gateway shares are written once over
 * it, in the order they build on each other (a chat is new, then known; a message is stored,
 * then its repeat is a duplicate). What only one gateway does follows in that gateway's own
 * block, run at the end of its cases.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES } from "../helpers/server.js";
import { assertError } from "../helpers/workspace.js";
import { EVOLUTION_INSTANCE, EVOLUTION_KEY, PHONE_NUMBER_ID, messageAny, notification, upsert } from "./helpers.js";
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
  startHarnesses,
  type Harness,
  type InboundResponse,
} from "../helpers/inbound.js";

/** One gateway's account on the shared server: its workspace's harness, inbound_url and id. */
interface Ctx {
  h: Harness;
  inboundUrl: string;
  accountId: string;
}

type Person = { full_name: string; phone: string };

interface Gateway {
  source: "cloud_api" | "waha" | "evolution";
  /** For titles. */
  name: string;
  accountPhone: string;
  /** The account's source_config, its gateway's API at `gatewayBase`; `shown` is a field the account view shows as given. */
  config(gatewayBase: string): Record<string, unknown>;
  shown: [field: string, value: string];
  /** The config's secrets: never shown in full. */
  secrets: string[];
  /** POSTs a body to the account's inbound_url as the gateway sends it (signed, or with its apikey). */
  post(c: Ctx, body: string | object): Promise<InboundResponse>;
  /** A fresh text received from a contact (`contact` is the gateway's id for them; the main contact by default). */
  received(text: string, contact?: { id: string; name: string }): object;
  /** The main contact, and the one sentinels come from. */
  contact: Person;
  sentinel: { id: string; name: string };
  /** A fixture of a text received from the main contact in a direct chat (a new chat). */
  receivedFixture: { file: string; text: string; timestamp: number };
  /** A text the account sent to the main contact (from the phone or the gateway's app). */
  sent: { what: string; body: string | object; text: string; timestamp: number };
  /** A fixture of a media message: stored as skipped, never delivered. */
  skipped: {
    file: string;
    what: string;
    type: string;
    direction: "received" | "sent";
    chat: (c: any) => boolean;
    caption: string;
  };
  /** A text received in a group. */
  group?: { what: string; body: string | object; text: string; timestamp: number; isNewChat: boolean; sender: string };
  /** Events acknowledged (2xx) and ignored, and texts in them never delivered. */
  ignored: { what: string; bodies: Array<string | object>; texts: string[] };
  /** Sending from Threadline to the main contact: the gateway's answer, the request it must get, and the echo of the sent message. */
  send: {
    what: string;
    text: string;
    answer: object;
    status?: number;
    path: RegExp;
    auth: [header: string, value: string];
    json(text: string): unknown;
    echo(text: string): object;
    /** A 500 answer of the gateway, and the config secret its error must never show. */
    failure: object;
    secret: string;
  };
  /** Sending to a group (the chat of `group` or of the skipped fixture). */
  groupSend?: {
    what: string;
    text: string;
    answer: object;
    status?: number;
    json(text: string): unknown;
    echo(text: string): object;
  };
  /** Requests that are not the gateway's, as [raw body, headers] (`text` is the message they carry). */
  forged: { what: string; requests(c: Ctx, text: string): Array<[body: string, headers: Record<string, string>]> };
  /** Bodies that are not JSON at all (400). */
  notJson: string[];
  /** Authenticated bodies it cannot map (from a good one): 200, stored as an unrecognised event whose reason names the part. */
  unrecognised(good: any): Array<[what: string, body: string | object, reason: RegExp]>;
  /** Cases of this gateway only, run after the shared ones. */
  only(c: Ctx): void;
}

const OWNER = "Amnon Haha";

async function sentinel(g: Gateway, c: Ctx): Promise<void> {
  await flushWith(c.h, async (text) => {
    const r = await g.post(c, g.received(text, g.sentinel));
    assert.equal(r.status, 200, r.text);
  });
}

async function chatBy(c: Ctx, pred: (chat: any) => boolean): Promise<any> {
  const chat = (await chats(c.h)).find(pred);
  assert.ok(chat, "chat not found");
  return chat;
}

/** POSTs raw to the account's inbound URL with exactly these headers. */
function raw(c: Ctx, body: string, headers: Record<string, string> = {}, url = c.inboundUrl) {
  return inbound(c.h, url, { body, headers });
}

const json = (body: string | object) => (typeof body === "string" ? body : JSON.stringify(body));

// ---------------------------------------------------------------- Meta WhatsApp Cloud API

const CLOUD_PHONE = "+15550783881"; // the fixtures' metadata.display_phone_number
const APP_SECRET = "cloud-app-secret-7f3a9c01d2e4b5a6";
const VERIFY_TOKEN = "verify-token-3b9e51c7";
const ACCESS_TOKEN = "EAAGcloudAccessToken0123456789abcdef";

function cloudSign(body: string, secret = APP_SECRET): Record<string, string> {
  return { "x-hub-signature-256": `sha256=${hmacHex("sha256", secret, body)}` };
}

let seq = 0;
function textFrom(waId: string, name: string, text: string, id = `wamid.test.${++seq}.${Date.now()}`) {
  return notification({
    contacts: [{ profile: { name }, wa_id: waId }],
    messages: [{ from: waId, id, timestamp: "1749417000", type: "text", text: { body: text } }],
  });
}

const CLOUD_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJBQkNERUYwMTIzNDU2Nzg5AA==";

const cloudApi: Gateway = {
  source: "cloud_api",
  name: "Cloud API",
  accountPhone: CLOUD_PHONE,
  config: (gatewayBase) => ({
    phone_number_id: PHONE_NUMBER_ID,
    app_secret: APP_SECRET,
    verify_token: VERIFY_TOKEN,
    access_token: ACCESS_TOKEN,
    graph_base_url: gatewayBase,
  }),
  shown: ["phone_number_id", PHONE_NUMBER_ID],
  secrets: [APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN],
  post: (c, body) => raw(c, json(body), cloudSign(json(body))),
  received: (text, contact = { id: "16505551234", name: "Sheena Nelson" }) => textFrom(contact.id, contact.name, text),
  contact: { full_name: "Sheena Nelson", phone: "+16505551234" },
  sentinel: { id: "16505550000", name: "Sentinel Contact" },
  receivedFixture: {
    file: "cloud-api/text-received.json",
    text: "Does it come in another color? 😊",
    timestamp: 1749416383,
  },
  sent: {
    what: "smb_message_echoes fixture (sent from the Business app)",
    body: fixtureText("cloud-api/echo-sent-from-app.json"),
    text: "Yes, in red and blue.",
    timestamp: 1749416600,
  },
  skipped: {
    file: "cloud-api/image-received.json",
    what: "image-received fixture",
    type: "image",
    direction: "received",
    chat: (c) => c.phone === "+16505551234",
    caption: "this one",
  },
  ignored: {
    what: "statuses (status-delivered fixture), unknown objects, fields and errors-only changes",
    bodies: [
      { object: "page", entry: [{ id: "1", changes: [{ field: "feed", value: { item: "status" } }] }] },
      notification({ event: "VERIFIED_ACCOUNT", ban_info: {} }, "account_update"),
      notification(
        { event: "APPROVED", message_template_id: 123, message_template_name: "hello" },
        "message_template_status_update",
      ),
      notification({ errors: [{ code: 130429, title: "Rate limit hit" }] }),
      fixtureText("cloud-api/status-delivered.json"),
    ],
    texts: [],
  },
  send: {
    what: "the Graph API gets the documented request, the message is stored as sent with Meta's wamid",
    text: "We have it in green too 💚",
    answer: {
      messaging_product: "whatsapp",
      contacts: [{ input: "16505551234", wa_id: "16505551234" }],
      messages: [{ id: CLOUD_WAMID }],
    },
    path: new RegExp(`^/v\\d+\\.\\d+/${PHONE_NUMBER_ID}/messages$`),
    auth: ["authorization", `Bearer ${ACCESS_TOKEN}`],
    json: (text) => ({
      messaging_product: "whatsapp",
      recipient_type: "individual",
      to: "16505551234",
      type: "text",
      text: { body: text },
    }),
    // Meta's echo of the same message (coexistence) carries the same wamid.
    echo: (text) =>
      notification(
        {
          message_echoes: [
            {
              from: "15550783881",
              to: "16505551234",
              id: CLOUD_WAMID,
              timestamp: "1749419000",
              type: "text",
              text: { body: text },
            },
          ],
        },
        "smb_message_echoes",
      ),
    failure: {
      error: { message: "An unknown error has occurred.", type: "OAuthException", code: 1, fbtrace_id: "AbCd" },
    },
    secret: ACCESS_TOKEN,
  },
  forged: {
    what: "a missing or wrong X-Hub-Signature-256",
    requests: (c, text) => {
      const body = JSON.stringify(textFrom("16505551234", "Sheena Nelson", text));
      return [
        {},
        cloudSign(body, "not-the-app-secret"),
        cloudSign(`${body} `), // a signature of other bytes
        { "x-hub-signature-256": `sha1=${hmacHex("sha256", APP_SECRET, body)}` },
        { "x-hub-signature-256": "sha256=" },
        { authorization: `Bearer ${c.h.key}` },
        { authorization: `Bearer ${c.h.key}`, "x-hub-signature-256": `sha256=${hmacHex("sha256", c.h.key, body)}` },
      ].map((headers) => [body, headers]);
    },
  },
  notJson: ["this is not json{", ""],
  unrecognised: (good) => {
    const edit = (f: (message: any) => void) => {
      const b = structuredClone(good);
      f(b.entry[0].changes[0].value.messages[0]);
      return b;
    };
    return [
      ["a JSON array", "[1,2,3]", /object/],
      ["no entry", { object: "whatsapp_business_account" }, /\bentry\b/],
      ["entry not an array", { object: "whatsapp_business_account", entry: {} }, /\bentry\b/],
      ["message without id", edit((m) => delete m.id), /messages\[0\]\.id/],
      ["text without body", edit((m) => (m.text = {})), /messages\[0\]\.text\.body/],
      ["bad timestamp", edit((m) => (m.timestamp = "yesterday")), /messages\[0\]\.timestamp/],
    ];
  },
  only: (c) => cloudApiOnly(c),
};

// ---------------------------------------------------------------- WAHA

const WAHA_PHONE = "+15557654321"; // the fixtures' me.id
const WAHA_KEY = "waha-api-key-5d1e8f20c4";
const HMAC_KEY = "waha-hmac-key-a81c3e77f0";
const GROUP = "120363041234567890@g.us";

function wahaSign(body: string, key = HMAC_KEY): Record<string, string> {
  return { "x-webhook-hmac": hmacHex("sha512", key, body), "x-webhook-hmac-algorithm": "sha512" };
}

function wahaReceived(from: string, name: string, body: string) {
  return messageAny({
    id: `false_${from}_3EB0TEST${++seq}${Date.now()}`,
    from,
    fromMe: false,
    to: "15557654321@c.us",
    body,
    _data: { notifyName: name },
  });
}

const WAHA_GROUP_SENT = "true_120363041234567890@g.us_3EB0GROUPWEBJS01_15557654321@c.us";

const waha: Gateway = {
  source: "waha",
  name: "WAHA",
  accountPhone: WAHA_PHONE,
  config: (gatewayBase) => ({ base_url: gatewayBase, api_key: WAHA_KEY, session: "default", hmac_key: HMAC_KEY }),
  shown: ["session", "default"],
  secrets: [WAHA_KEY, HMAC_KEY],
  post: (c, body) => raw(c, json(body), wahaSign(json(body))),
  received: (text, contact = { id: "15551234567@c.us", name: "Jane Roe" }) =>
    wahaReceived(contact.id, contact.name, text),
  contact: { full_name: "Jane Roe", phone: "+15551234567" },
  sentinel: { id: "15550000001@c.us", name: "Sentinel" },
  receivedFixture: {
    file: "waha/message-any-received-direct.json",
    text: "Hello, is the offer still valid?",
    timestamp: 1710000000,
  },
  sent: {
    what: "message-any-sent-direct fixture (fromMe)",
    body: fixtureText("waha/message-any-sent-direct.json"),
    text: "Yes, until Friday 👍",
    timestamp: 1710000060,
  },
  skipped: {
    file: "waha/message-any-group-media.json",
    what: "message-any-group-media fixture (a document in a group)",
    type: "document",
    direction: "received",
    chat: (c) => c.is_group === true,
    caption: "see attached",
  },
  group: {
    what: "a group text (documented message.any with participant)",
    body: messageAny({
      id: "false_120363041234567890@g.us_3EB0GROUPTEXT01_15551234567@c.us",
      timestamp: 1710000200,
      from: GROUP,
      fromMe: false,
      to: "15557654321@c.us",
      participant: "15551234567@c.us",
      body: "Team, the order shipped 🚚📦",
      _data: { notifyName: "Jane Roe" },
    }),
    text: "Team, the order shipped 🚚📦",
    timestamp: 1710000200,
    isNewChat: false, // the media message created it
    sender: "Jane Roe",
  },
  ignored: {
    what: "other events, other sessions and status broadcasts",
    bodies: [
      { event: "session.status", session: "default", payload: { status: "WORKING" } },
      {
        event: "message.ack",
        session: "default",
        payload: { id: "true_15551234567@c.us_3EB0A9F1E2D3C4B5A6F7", ack: 3, ackName: "READ" },
      },
      { ...wahaReceived("15551234567@c.us", "Jane Roe", "another session"), session: "other-session" },
      messageAny({
        id: "false_status@broadcast_3EB0STATUS01",
        from: "status@broadcast",
        fromMe: false,
        participant: "15551234567@c.us",
        body: "my status",
      }),
      { event: "future.event.kind", session: "default", payload: { anything: true } },
    ],
    texts: ["another session", "my status"],
  },
  send: {
    what: "WAHA gets POST /api/sendText with X-Api-Key, the message is stored with WAHA's id",
    text: "Sure, see you Friday 🙌",
    // NOWEB answers sendText with the Baileys message (key.remoteJid in @s.whatsapp.net form).
    answer: {
      key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "3EB0SENDNOWEB0001" },
      message: { extendedTextMessage: { text: "x" } },
      messageTimestamp: "1710000500",
      status: "PENDING",
    },
    path: /^\/api\/sendText$/,
    auth: ["x-api-key", WAHA_KEY],
    json: (text) => ({ session: "default", chatId: "15551234567@c.us", text }),
    echo: (text) =>
      messageAny({
        id: "true_15551234567@c.us_3EB0SENDNOWEB0001",
        timestamp: 1710000500,
        from: "15557654321@c.us",
        fromMe: true,
        to: "15551234567@c.us",
        body: text,
      }),
    failure: { statusCode: 500, message: "Session status is not as expected", error: "Internal Server Error" },
    secret: WAHA_KEY,
  },
  groupSend: {
    what: "a WEBJS answer with id._serialized",
    text: "Thanks all 🙏",
    answer: {
      id: {
        fromMe: true,
        remote: GROUP,
        id: "3EB0GROUPWEBJS01",
        participant: "15557654321@c.us",
        _serialized: WAHA_GROUP_SENT,
      },
      body: "x",
      type: "chat",
      timestamp: 1710000600,
      from: "15557654321@c.us",
      to: GROUP,
      ack: 0,
    },
    json: (text) => ({ session: "default", chatId: GROUP, text }),
    echo: (text) => messageAny({ id: WAHA_GROUP_SENT, from: "15557654321@c.us", fromMe: true, to: GROUP, body: text }),
  },
  forged: {
    what: "a missing or wrong X-Webhook-Hmac",
    requests: (c, text) => {
      const body = JSON.stringify(wahaReceived("15551234567@c.us", "Jane Roe", text));
      return [
        {},
        wahaSign(body, "not-the-hmac-key"),
        wahaSign(`${body}\n`),
        { "x-webhook-hmac": hmacHex("sha256", HMAC_KEY, body), "x-webhook-hmac-algorithm": "sha256" },
        { authorization: `Bearer ${c.h.key}` },
        { "x-api-key": WAHA_KEY },
      ].map((headers) => [body, headers]);
    },
  },
  notJson: ["<xml/>"],
  unrecognised: (good) => {
    const without = (key: string) => {
      const b = structuredClone(good);
      delete b.payload[key];
      return b;
    };
    return [
      ["a JSON array", JSON.stringify([good]), /object/],
      ["no event", { session: "default", payload: good.payload }, /\bevent\b/],
      ["no payload", { event: "message.any", session: "default" }, /\bpayload\b/],
      ["no payload.id", without("id"), /payload\.id/],
      ["no payload.timestamp", without("timestamp"), /payload\.timestamp/],
    ];
  },
  only: (c) => wahaOnly(c),
};

// ---------------------------------------------------------------- Evolution API

const EVOLUTION_PHONE = "+15557654321"; // the fixtures' sender

function evolutionReceived(jid: string, name: string, text: string) {
  return upsert({
    key: { remoteJid: jid, fromMe: false, id: `3EB0EVO${++seq}${Date.now()}` },
    pushName: name,
    messageType: "conversation",
    message: { conversation: text },
  });
}

const evolution: Gateway = {
  source: "evolution",
  name: "Evolution API",
  accountPhone: EVOLUTION_PHONE,
  config: (gatewayBase) => ({ base_url: gatewayBase, api_key: EVOLUTION_KEY, instance: EVOLUTION_INSTANCE }),
  shown: ["instance", EVOLUTION_INSTANCE],
  secrets: [EVOLUTION_KEY],
  post: (c, body) => raw(c, json(body)),
  received: (text, contact = { id: "15551234567@s.whatsapp.net", name: "Jane Roe" }) =>
    evolutionReceived(contact.id, contact.name, text),
  contact: { full_name: "Jane Roe", phone: "+15551234567" },
  sentinel: { id: "15550000002@s.whatsapp.net", name: "Sentinel" },
  receivedFixture: {
    file: "evolution/messages-upsert-text-direct.json",
    text: "Can you send me the price list?",
    timestamp: 1759312800,
  },
  sent: {
    what: "a sent extendedTextMessage (documented shape, fromMe)",
    body: upsert({
      key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "3EB0EXTENDED0001" },
      pushName: "Acme Sales",
      messageType: "extendedTextMessage",
      message: { extendedTextMessage: { text: "Here it is: https://acme.example/prices 📎" } },
      messageTimestamp: 1759313200,
    }),
    text: "Here it is: https://acme.example/prices 📎",
    timestamp: 1759313200,
  },
  skipped: {
    file: "evolution/messages-upsert-image.json",
    what: "messages-upsert-image fixture (fromMe)",
    type: "image",
    direction: "sent",
    chat: (c) => c.phone === "+15551234567",
    caption: "our catalogue",
  },
  group: {
    what: "messages-upsert-group-text fixture",
    body: fixtureText("evolution/messages-upsert-group-text.json"),
    text: "ok 👍",
    timestamp: 1759313100,
    isNewChat: true,
    sender: "Jane Roe",
  },
  ignored: {
    what: "other events, other instances, reactions and status broadcasts",
    bodies: [
      {
        ...upsert({}),
        event: "messages.update",
        data: { keyId: "3EB0F5A1B2C3D4E5F6A7", remoteJid: "15551234567@s.whatsapp.net", fromMe: false, status: "READ" },
      },
      {
        ...upsert({}),
        event: "connection.update",
        data: { instance: EVOLUTION_INSTANCE, state: "open", statusReason: 200 },
      },
      {
        ...upsert({}),
        event: "send.message",
        data: { key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "X" } },
      },
      { ...evolutionReceived("15551234567@s.whatsapp.net", "Jane Roe", "for another instance"), instance: "sales-2" },
      upsert({
        key: {
          remoteJid: "status@broadcast",
          fromMe: false,
          id: "3EB0STATUS0001",
          participant: "15551234567@s.whatsapp.net",
        },
        pushName: "Jane Roe",
        messageType: "conversation",
        message: { conversation: "my status" },
      }),
      upsert({
        key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: false, id: "3EB0REACT0001" },
        pushName: "Jane Roe",
        messageType: "reactionMessage",
        message: { reactionMessage: { text: "❤️", key: { id: "3EB0EXTENDED0001" } } },
      }),
    ],
    texts: ["for another instance", "my status"],
  },
  send: {
    what: "Evolution gets POST /message/sendText/{instance} with apikey, the message is stored with key.id",
    text: "Price list attached soon 📄✨",
    answer: {
      key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "BAE594145F4C59B4" },
      pushName: "",
      status: "PENDING",
      message: { conversation: "x" },
      messageType: "conversation",
      messageTimestamp: 1759313500,
      instanceId: "6f1c2a9e-4b7d-4e38-9f1a-2c3d4e5f6a7b",
      source: "unknown",
    },
    status: 201,
    path: new RegExp(`^/message/sendText/${EVOLUTION_INSTANCE}$`),
    auth: ["apikey", EVOLUTION_KEY],
    json: (text) => ({ number: "15551234567", text }),
    echo: (text) =>
      upsert({
        key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "BAE594145F4C59B4" },
        pushName: "Acme Sales",
        messageType: "conversation",
        message: { conversation: text },
      }),
    failure: { status: 500, error: "Internal Server Error", response: { message: "Connection Closed" } },
    secret: EVOLUTION_KEY,
  },
  groupSend: {
    what: "number is the group JID",
    text: "Noted, thanks 👌",
    answer: {
      key: { remoteJid: GROUP, fromMe: true, id: "BAE5GROUP0000001" },
      status: "PENDING",
      messageType: "conversation",
      messageTimestamp: 1759313600,
    },
    status: 201,
    json: (text) => ({ number: GROUP, text }),
    echo: (text) =>
      upsert({
        key: { remoteJid: GROUP, fromMe: true, id: "BAE5GROUP0000001", participant: "15557654321@s.whatsapp.net" },
        pushName: "Acme Sales",
        messageType: "conversation",
        message: { conversation: text },
      }),
  },
  forged: {
    what: "a missing or wrong apikey, or a body without one",
    requests: (c, text) => {
      const good = evolutionReceived("15551234567@s.whatsapp.net", "Jane Roe", text);
      const requests: Array<[object, Record<string, string>]> = [
        [{ ...good, apikey: undefined }, {}],
        [{ ...good, apikey: null }, {}],
        [{ ...good, apikey: "B6D711FCDE4D4FD5936544120E713977" }, {}],
        [{ ...good, apikey: EVOLUTION_KEY.toLowerCase() }, {}],
        [{ ...good, apikey: c.h.key }, {}],
        [{ ...good, apikey: undefined }, { authorization: `Bearer ${c.h.key}` }],
        [{ ...good, apikey: undefined }, { apikey: EVOLUTION_KEY }], // the header is what Evolution's own API takes, not what its webhooks send
        [[good], {}], // JSON, but no apikey to check
      ];
      return requests.map(([body, headers]) => [JSON.stringify(body), headers]);
    },
  },
  notJson: ["apikey=B6D711FCDE4D4FD5936544120E713976"],
  unrecognised: (good) => {
    const edit = (f: (b: any) => void) => {
      const b = structuredClone(good);
      f(b);
      return b;
    };
    return [
      ["no event", edit((b) => delete b.event), /\bevent\b/],
      ["no data", edit((b) => delete b.data), /\bdata\b/],
      ["no data.key", edit((b) => delete b.data.key), /data\.key\b/],
      ["no data.key.remoteJid", edit((b) => delete b.data.key.remoteJid), /data\.key\.remoteJid/],
      ["no data.key.fromMe", edit((b) => delete b.data.key.fromMe), /data\.key\.fromMe/],
      ["no message nor messageType", edit((b) => (delete b.data.messageType, delete b.data.message)), /data\.message/],
    ];
  },
  only: () => {},
};

const GATEWAYS: Gateway[] = [cloudApi, waha, evolution];

// ---------------------------------------------------------------- every gateway

function sharedCases(g: Gateway, c: Ctx): void {
  const { contact } = g;
  const account = { phone: g.accountPhone, full_name: OWNER };

  it(`the account answers an unguessable inbound_url under {PUBLIC_URL}/inbound/${g.source}/ and never its secrets in full`, async () => {
    assert.match(
      c.inboundUrl,
      new RegExp(`^${PUBLIC_URL.replace(/\./g, "\\.")}/inbound/${g.source}/[A-Za-z0-9_-]{20,}$`),
    );
    const one = await c.h.server.api("GET", `/api/v1/accounts/${c.accountId}`, { token: c.h.key });
    assert.equal(one.status, 200);
    assert.equal(one.json.inbound_url, c.inboundUrl);
    assert.equal(one.json.source, g.source);
    assert.equal(one.json.source_config[g.shown[0]], g.shown[1]);
    const list = await c.h.server.api("GET", "/api/v1/accounts", { token: c.h.key });
    assert.equal(list.json.items.find((a: any) => a.id === c.accountId)?.inbound_url, c.inboundUrl);
    assertNoSecret([one.json, list.json], g.secrets);
  });

  it(`${g.receivedFixture.file} fixture → one received delivery: contact name and phone, account side, chat_url, is_new_chat`, async () => {
    const r = await g.post(c, fixtureText(g.receivedFixture.file));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 1);
    const p = await delivered(c.h, g.receivedFixture.text);
    assert.deepEqual(p.whatsapp_account, { ...account, email: "amnon@acme.com" });
    assert.equal(p.chat.full_name, contact.full_name);
    assert.equal(p.chat.phone, contact.phone);
    assert.equal(p.chat.is_group, false);
    assert.equal(p.chat.is_new_chat, true);
    assert.equal(p.chat.chat_url, `${PUBLIC_URL}/chat/${p.chat.chat_id}/messages/`);
    assert.equal(p.message.direction, "received");
    assert.equal(p.message.timestamp, payloadTime(g.receivedFixture.timestamp));
    assert.deepEqual(p.message.sender, contact);
    assert.deepEqual(p.message.recipient, account);
  });

  it(`${g.sent.what} → sent delivery from the account to the named contact, in the same chat (not new)`, async () => {
    const r = await g.post(c, g.sent.body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 1);
    const p = await delivered(c.h, g.sent.text);
    assert.equal(p.message.direction, "sent");
    assert.equal(p.message.timestamp, payloadTime(g.sent.timestamp));
    assert.deepEqual(p.message.sender, account);
    assert.deepEqual(p.message.recipient, contact);
    assert.equal(p.chat.phone, contact.phone);
    assert.equal(p.chat.full_name, contact.full_name);
    assert.equal(p.chat.is_new_chat, false);
    assert.equal((await delivered(c.h, g.receivedFixture.text)).chat.chat_id, p.chat.chat_id);
    assert.equal((await chatBy(c, (x) => x.phone === contact.phone)).chat_id, p.chat.chat_id);
  });

  it("the same event again (the gateway retries) is a duplicate: stored once, delivered once", async () => {
    const before = (await allMessages(c.h)).length;
    const r = await g.post(c, fixtureText(g.receivedFixture.file));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.duplicates, 1);
    assert.equal(r.json.accepted, 0);
    await sentinel(g, c);
    assert.equal(deliveriesOf(c.h, g.receivedFixture.text).length, 1);
    assert.equal((await allMessages(c.h)).length, before + 1); // only the sentinel
  });

  it(`${g.skipped.what} → stored as skipped in its chat, never delivered`, async () => {
    const r = await g.post(c, fixtureText(g.skipped.file));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.skipped, 1);
    const chat = await chatBy(c, g.skipped.chat);
    const msgs = await chatMessages(c.h, chat.chat_id);
    const media = msgs.filter((m) => m.type === g.skipped.type);
    assert.equal(media.length, 1, JSON.stringify(msgs));
    assert.equal(media[0].status, "skipped");
    assert.equal(media[0].direction, g.skipped.direction);
    await sentinel(g, c);
    const all = [...c.h.receiver.unique().values()];
    assert.ok(!all.some((d) => d.json?.message?.message_id === media[0].message_id), "the media message was delivered");
    assert.equal(deliveriesOf(c.h, g.skipped.caption).length, 0, "the caption was delivered");
  });

  const group = g.group;
  if (group) {
    it(`${group.what} → is_group, phones empty, the participant as sender, emoji kept`, async () => {
      const r = await g.post(c, group.body);
      assert.equal(r.status, 200, r.text);
      const p = await delivered(c.h, group.text);
      assert.equal(p.chat.is_group, true);
      assert.equal(p.chat.phone, "");
      assert.equal(p.chat.is_new_chat, group.isNewChat);
      assert.equal(p.message.direction, "received");
      assert.equal(p.message.timestamp, payloadTime(group.timestamp));
      assert.deepEqual(p.message.sender, { full_name: group.sender, phone: "" });
      assert.equal(p.message.recipient.phone, "");
    });
  }

  it(`${g.ignored.what} are acknowledged (2xx): nothing stored, nothing delivered`, async () => {
    const before = (await allMessages(c.h)).length;
    const deliveries = c.h.receiver.requests.length;
    for (const b of g.ignored.bodies) {
      const r = await g.post(c, b);
      assert.ok(r.status >= 200 && r.status < 300, `${json(b)} → ${r.status} ${r.text}`);
    }
    assert.equal((await allMessages(c.h)).length, before);
    await sentinel(g, c);
    assert.equal(c.h.receiver.requests.length, deliveries + 1); // the sentinel only
    for (const t of g.ignored.texts) assert.equal(deliveriesOf(c.h, t).length, 0, t);
  });

  it(`sending from Threadline: ${g.send.what}, delivered once, and its echo is a duplicate`, async () => {
    const { send } = g;
    const chat = await chatBy(c, (x) => x.phone === contact.phone);
    c.h.gateway.requests.length = 0;
    gatewayAnswers(c.h, send.answer, send.status);
    const r = await c.h.server.api("POST", `/api/v1/chats/${chat.chat_id}/messages`, {
      token: c.h.key,
      body: { text: send.text },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.direction, "sent");
    assert.equal(r.json.text, send.text);
    assert.deepEqual(r.json.sender, account);

    assert.equal(c.h.gateway.requests.length, 1);
    const req = c.h.gateway.requests[0]!;
    assert.equal(req.method, "POST");
    assert.match(req.url, send.path);
    assert.equal(req.headers[send.auth[0]], send.auth[1]);
    assert.match(String(req.headers["content-type"]), /^application\/json/);
    assert.deepEqual(req.json, send.json(send.text));

    const p = await delivered(c.h, send.text);
    assert.equal(p.message.direction, "sent");
    assert.equal(p.message.message_id, r.json.message_id);
    assert.deepEqual(p.message.sender, account);
    assert.deepEqual(p.message.recipient, contact);

    const e = await g.post(c, send.echo(send.text));
    assert.equal(e.status, 200, e.text);
    assert.equal(e.json.duplicates, 1);
    await sentinel(g, c);
    assert.equal(deliveriesOf(c.h, send.text).length, 1);
    assert.equal((await chatMessages(c.h, chat.chat_id)).filter((m) => m.text === send.text).length, 1);
  });

  const groupSend = g.groupSend;
  if (groupSend) {
    it(`sending to a group (${groupSend.what}): the gateway is asked for the group, the echo is a duplicate`, async () => {
      const chat = await chatBy(c, (x) => x.is_group === true);
      c.h.gateway.requests.length = 0;
      gatewayAnswers(c.h, groupSend.answer, groupSend.status);
      const r = await c.h.server.api("POST", `/api/v1/chats/${chat.chat_id}/messages`, {
        token: c.h.key,
        body: { text: groupSend.text },
      });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(c.h.gateway.requests[0]?.json, groupSend.json(groupSend.text));
      const p = await delivered(c.h, groupSend.text);
      assert.equal(p.chat.is_group, true);
      assert.deepEqual(p.message.sender, { full_name: OWNER, phone: "" });
      const e = await g.post(c, groupSend.echo(groupSend.text));
      assert.equal(e.json.duplicates, 1, e.text);
      await sentinel(g, c);
      assert.equal(deliveriesOf(c.h, groupSend.text).length, 1);
    });
  }

  it(`${g.name} answering 500 → the API answers 5xx with an error that shows no secret; nothing stored or delivered`, async () => {
    const chat = await chatBy(c, (x) => x.phone === contact.phone);
    const before = (await chatMessages(c.h, chat.chat_id)).length;
    c.h.gateway.requests.length = 0;
    gatewayAnswers(c.h, g.send.failure, 500);
    const text = `${g.source} is down, do not store`;
    const r = await c.h.server.api("POST", `/api/v1/chats/${chat.chat_id}/messages`, {
      token: c.h.key,
      body: { text },
    });
    const err = assertError(r, (s) => s >= 500 && s < 600);
    assert.ok(!err.message.includes(g.send.secret), err.message);
    assert.equal(c.h.gateway.requests.length, 1);
    assert.equal((await chatMessages(c.h, chat.chat_id)).length, before);
    await sentinel(g, c);
    assert.equal(deliveriesOf(c.h, text).length, 0);
  });

  it(`${g.forged.what} → 401 and nothing stored; a Threadline API key is no substitute`, async () => {
    const before = (await allMessages(c.h)).length;
    const text = `forged ${g.source} message`;
    for (const [body, headers] of g.forged.requests(c, text)) assertError(await raw(c, body, headers), 401);
    assert.equal((await allMessages(c.h)).length, before);
    await sentinel(g, c);
    assert.equal(deliveriesOf(c.h, text).length, 0);
  });

  it("garbage bodies (authenticated): only a body that is not JSON is refused (400); the rest is stored as an unrecognised event (200) naming the part", async () => {
    const before = (await allMessages(c.h)).length;
    for (const body of g.notJson)
      assert.match(assertError(await g.post(c, body), 400).message, /JSON/, JSON.stringify(body));
    for (const [what, body, reason] of g.unrecognised(g.received("never stored"))) {
      const r = await g.post(c, body);
      assert.equal(r.status, 200, `${what}: ${r.text}`);
      assert.equal(r.json.unrecognised, 1, what);
      const events = await c.h.server.api("GET", `/api/v1/accounts/${c.accountId}/inbound-events?limit=1`, {
        token: c.h.key,
      });
      assert.equal(events.status, 200, events.text);
      assert.match(events.json.items[0].reason, reason, what);
      assert.equal(events.json.items[0].body, json(body), what);
    }
    assert.equal((await allMessages(c.h)).length, before);
  });

  g.only(c);
}

// ---------------------------------------------------------------- Cloud API only

function cloudApiOnly(c: Ctx): void {
  const chatIdOfSheena = async () => (await chatBy(c, (x) => x.phone === "+16505551234")).chat_id as string;

  it("GET verification handshake: the right verify token answers 200 with the challenge as the body", async () => {
    const challenge = "1158201444";
    const r = await inbound(c.h, c.inboundUrl, {
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
      const r = await inbound(c.h, c.inboundUrl, { method: "GET", query });
      assert.ok(r.status === 401 || r.status === 403, `${query}: ${r.status} ${r.text}`);
      assert.ok(!r.text.includes(challenge), r.text);
    }
    // The verify token belongs to this account only: the right token under another token path is not found.
    const other = await inbound(c.h, `${PUBLIC_URL}/inbound/cloud_api/in_not_a_real_token_000000000000`, {
      method: "GET",
      query: `?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(VERIFY_TOKEN)}&hub.challenge=${challenge}`,
    });
    assert.equal(other.status, 404);
    assert.ok(!other.text.includes(challenge));
  });

  it("one notification with several messages and contacts (as documented) → each text delivered with its own contact; unsupported kinds skipped, reactions are not messages", async () => {
    const body = notification({
      contacts: [
        { profile: { name: "Kofi Mensah" }, wa_id: "233241234567" },
        { profile: { name: "Ana Souza" }, wa_id: "5511987654321" },
      ],
      messages: [
        {
          from: "233241234567",
          id: "wamid.multi.1",
          timestamp: "1749418000",
          type: "text",
          text: { body: "Akwaaba 👨‍👩‍👧 family pack?" },
        },
        {
          from: "5511987654321",
          id: "wamid.multi.2",
          timestamp: "1749418001",
          type: "text",
          text: { body: "Olá! Preço? 🇧🇷" },
        },
        {
          from: "5511987654321",
          id: "wamid.multi.3",
          timestamp: "1749418002",
          type: "reaction",
          reaction: { message_id: "wamid.multi.2", emoji: "👍" },
        },
        {
          from: "233241234567",
          id: "wamid.multi.4",
          timestamp: "1749418003",
          type: "unsupported",
          errors: [{ code: 131051, title: "Message type unknown" }],
        },
      ],
    });
    const r = await cloudApi.post(c, body);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.accepted, r.json.skipped, r.json.duplicates], [2, 1, 0]);
    const kofi = await delivered(c.h, "Akwaaba 👨‍👩‍👧 family pack?");
    assert.deepEqual(kofi.message.sender, { full_name: "Kofi Mensah", phone: "+233241234567" });
    assert.equal(kofi.chat.is_new_chat, true);
    const ana = await delivered(c.h, "Olá! Preço? 🇧🇷");
    assert.deepEqual(ana.message.sender, { full_name: "Ana Souza", phone: "+5511987654321" });
    assert.equal(ana.chat.full_name, "Ana Souza");
    assert.notEqual(ana.chat.chat_id, kofi.chat.chat_id);
    const anaMsgs = await chatMessages(c.h, ana.chat.chat_id);
    assert.deepEqual(
      anaMsgs.map((m) => m.type),
      ["text"],
      "a reaction is not a message",
    );
    assert.notEqual(anaMsgs[0].status, "skipped");
    const kofiMsgs = await chatMessages(c.h, kofi.chat.chat_id);
    assert.deepEqual(
      kofiMsgs.map((m) => [m.type, m.status === "skipped"]),
      [
        ["text", false],
        ["unsupported", true],
      ],
    );
  });

  it("a notification for another phone number of the same Meta app is ignored", async () => {
    const body = textFrom("16505551234", "Sheena Nelson", "for the other number");
    body.entry[0]!.changes[0]!.value.metadata.phone_number_id = "999999999999999";
    const r = await cloudApi.post(c, body);
    assert.ok(r.status >= 200 && r.status < 300, r.text);
    await sentinel(cloudApi, c);
    assert.equal(deliveriesOf(c.h, "for the other number").length, 0);
  });

  it("sending as a teammate: the delivery's sender is the teammate", async () => {
    const t = await c.h.server.api("POST", "/api/v1/teammates", {
      token: c.h.key,
      body: { full_name: "Bea Sales", email: "bea@acme.com" },
    });
    assert.equal(t.status, 201, t.text);
    gatewayAnswers(c.h, {
      messaging_product: "whatsapp",
      contacts: [{ input: "16505551234", wa_id: "16505551234" }],
      messages: [{ id: "wamid.teammate.1" }],
    });
    const text = "Bea here, happy to help";
    const r = await c.h.server.api("POST", `/api/v1/chats/${await chatIdOfSheena()}/messages`, {
      token: c.h.key,
      body: { text, teammate_email: "bea@acme.com" },
    });
    assert.equal(r.status, 201, r.text);
    const p = await delivered(c.h, text);
    assert.deepEqual(p.message.sender, { full_name: "Bea Sales", phone: CLOUD_PHONE });
  });
}

// ---------------------------------------------------------------- WAHA only

function wahaOnly(c: Ctx): void {
  it("the media message opened the group chat: its only message, and no group message was delivered before the group text", async () => {
    const group = await chatBy(c, (x) => x.is_group === true);
    assert.equal(group.phone, "");
    const msgs = await chatMessages(c.h, group.chat_id);
    assert.equal(msgs[0].type, "document");
    assert.deepEqual(
      [...c.h.receiver.unique().values()]
        .filter((d) => d.json?.chat?.is_group === true)
        .map((d) => d.json.message.text),
      ["Team, the order shipped 🚚📦", "Thanks all 🙏"],
    );
  });

  it("an account without hmac_key takes unsigned events (its URL token is the only secret)", async () => {
    const acc = await createAccount(c.h, {
      phone: "+15557650000",
      source: "waha",
      source_config: { base_url: c.h.gatewayBase, api_key: WAHA_KEY, session: "second" },
    });
    const body = {
      ...wahaReceived("15559990000@c.us", "Unsigned Sender", "unsigned but fine ✅"),
      session: "second",
      me: { id: "15557650000@c.us", pushName: "Second" },
    };
    const r = await raw(c, JSON.stringify(body), {}, acc.inbound_url!);
    assert.equal(r.status, 200, r.text);
    const p = await delivered(c.h, "unsigned but fine ✅");
    assert.equal(p.whatsapp_account.phone, "+15557650000");
  });
}

// ---------------------------------------------------------------- one server per database

// The three gateways run side by side (each in its own workspace, with its own receiver and
// stand-in gateway); the cases of one gateway run in order.
for (const database of DATABASES) {
  describe(`gateways through the HTTP routes (${database})`, { concurrency: true }, () => {
    const ctxs = GATEWAYS.map(() => ({}) as Ctx);
    let harnesses: Harness[] = [];
    before(async () => {
      // The three gateways' refused requests (about 25) all come from one address within a
      // minute, close to the failed authentications allowed by default (30 a minute, past
      // which every inbound request answers 429); that limit is http/rate-limits.test.ts's
      // subject, not this file's.
      harnesses = await startHarnesses(GATEWAYS.length, {
        database,
        env: { THREADLINE_RATE_LIMIT_AUTH_FAILURES: "1000" },
      });
      for (const [i, g] of GATEWAYS.entries()) {
        const h = harnesses[i]!;
        const acc = await createAccount(h, {
          phone: g.accountPhone,
          source: g.source,
          source_config: g.config(h.gatewayBase),
        });
        assert.equal(acc.source_config[g.shown[0]], g.shown[1]);
        assertNoSecret(acc, g.secrets);
        Object.assign(ctxs[i]!, { h, inboundUrl: acc.inbound_url!, accountId: acc.id });
      }
    });
    after(async () => {
      await harnesses[0]?.close();
    });

    for (const [i, g] of GATEWAYS.entries())
      describe(`${g.source}: ${g.name} (${database})`, { concurrency: 1 }, () => sharedCases(g, ctxs[i]!));
  });
}
