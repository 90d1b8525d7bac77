/**
 * The three gateway adapters in-process (Meta's WhatsApp Cloud API, WAHA, Evolution API),
 * against the gateways' own bodies in test/fixtures/sources/ (where each one comes from:
 * test/fixtures/sources/ORIGINS.md). GATEWAYS has one row per gateway: its adapter and
 * account, how it authenticates an inbound request, its fixtures and the messages each maps
 * to, the events it ignores or cannot map, its config and how it answers a sendText. The
 * cases every gateway shares are written once over the table; what only one gateway does
 * (Cloud API's verification handshake and notifications, WAHA's engines, HMAC algorithm and
 * message ids, Evolution's events) follows in that gateway's own blocks.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { IngestMessage } from "../../src/ingest/types.js";
import { cloudApiAdapter } from "../../src/sources/cloud-api.js";
import { evolutionAdapter } from "../../src/sources/evolution.js";
import {
  SourceAuthError,
  SourceInputError,
  type InboundOutcome,
  type InboundRequest,
  type SourceAccount,
  type SourceAdapter,
} from "../../src/sources/types.js";
import { wahaAdapter, wahaMessageId } from "../../src/sources/waha.js";
import { Receiver } from "../helpers/receiver.js";
import {
  EVOLUTION_INSTANCE,
  EVOLUTION_KEY,
  PHONE_NUMBER_ID,
  account,
  closedPort,
  fixture,
  gatewayHttp,
  messageAny,
  notification,
  post,
  upsert,
} from "./helpers.js";

type Body = Buffer | string | object;
type SendChat = Parameters<SourceAdapter["sendText"]>[1];
type Answer = { status: number; body: string };

interface Gateway {
  source: "cloud_api" | "waha" | "evolution";
  adapter: SourceAdapter;
  /** A valid config, and the account that has it. */
  config: Record<string, unknown>;
  account: SourceAccount;
  /** `body` as the gateway POSTs it to that account (signed where the gateway signs). */
  request(body: Body): InboundRequest;
  /** Each fixture (a file under test/fixtures/sources/), what the test checks, and the messages it maps to. */
  fixtures: Array<{ file: string; title: string; messages: IngestMessage[] }>;
  /** The fixture the authentication cases use: one received direct text. */
  authFixture: string;
  /** Authenticated requests of authFixture, each way the gateway may send them (each maps to its one message). */
  accepted(raw: Buffer): Array<[what: string, account: SourceAccount, req: InboundRequest]>;
  /** Requests that are not the gateway's (SourceAuthError); the first carries no credential at all. */
  forged(raw: Buffer): Array<[what: string, account: SourceAccount, req: InboundRequest]>;
  /** authFixture with other bytes, for gateways that sign the raw body. */
  tamper?(raw: Buffer): Buffer;
  /** A GET without a handshake is answered 405 (Cloud API's GET is its verification handshake). */
  getIs405: boolean;
  /** A body that is not JSON at all: refused as an input error on `body`. */
  notJson: string;
  /** Authenticated JSON it cannot map: acknowledged with no message, and a reason naming the missing part. */
  unrecognised: Array<[body: unknown, reason: RegExp]>;
  /** Events that are not conversation messages (other events, sessions, status broadcasts…): acknowledged with nothing. */
  ignored: Array<[what: string, body: object]>;
  /** validateConfig: what it keeps of a config, each required field, and the bad configs it refuses naming the field. */
  configKept: Array<[given: Record<string, unknown>, kept: Record<string, unknown>]>;
  required: string[];
  configRefused: Array<[given: unknown, field: string]>;
  send: {
    /** The gateway's name in errors ("WAHA answered HTTP 500"). */
    label: string;
    /** The config of an account whose gateway API is at `origin`. */
    config(origin: string): Record<string, unknown>;
    path: string;
    /** The header that authenticates the call, and its value. */
    auth: [header: string, value: string];
    direct: { chat: SendChat; text: string; answer: Answer; id: string; json: unknown };
    group: { chat: SendChat; text: string; answer: Answer; id: string; json: unknown };
    /** A 500 answer, and the text in it that must not reach the error. */
    failure: { body: object; secret: RegExp };
    /** A 2xx answer without a message id, and the error naming what is missing. */
    noId: { answer: Answer; error: RegExp };
  };
}

function messagesOf(outcome: InboundOutcome): IngestMessage[] {
  assert.equal(outcome.kind, "messages");
  return outcome.kind === "messages" ? outcome.messages : [];
}

function inbound(g: Gateway, body: Body): IngestMessage[] {
  return messagesOf(g.adapter.handleInbound(g.account, g.request(body)));
}

function inputError(field: string) {
  return (err: unknown) => {
    assert.ok(err instanceof SourceInputError, `expected SourceInputError, got ${String(err)}`);
    assert.equal(err.field, field);
    assert.match(err.message, new RegExp(field.replace(/[.[\]]/g, "\\$&")));
    return true;
  };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const hmacHex = (algorithm: "sha256" | "sha512", key: string, raw: Buffer) =>
  createHmac(algorithm, key).update(raw).digest("hex");

// ---------------------------------------------------------------- Meta WhatsApp Cloud API

const CLOUD_CONFIG = {
  phone_number_id: PHONE_NUMBER_ID,
  app_secret: "app-secret-123",
  verify_token: "verify-me-please",
  access_token: "EAAG-access-token",
};
const CLOUD_ACCOUNT = account("cloud_api", CLOUD_CONFIG);

function cloudSign(raw: Buffer, secret = CLOUD_CONFIG.app_secret): string {
  return `sha256=${hmacHex("sha256", secret, raw)}`;
}

function cloudSigned(body: Body): InboundRequest {
  const req = post(body);
  req.headers["x-hub-signature-256"] = cloudSign(req.rawBody);
  return req;
}

const CLOUD_MESSAGE = {
  from: "16505551234",
  id: "wamid.X",
  timestamp: "1749416383",
  type: "text",
  text: { body: "hi" },
};

const cloudApi: Gateway = {
  source: "cloud_api",
  adapter: cloudApiAdapter,
  config: CLOUD_CONFIG,
  account: CLOUD_ACCOUNT,
  request: cloudSigned,
  fixtures: [
    {
      file: "cloud-api/text-received.json",
      title: "text-received → a received text with the contact's profile name and emoji intact",
      messages: [
        {
          account_phone: "+15557654321",
          chat: {
            external_id: "16505551234",
            full_name: "Sheena Nelson",
            name_source: "push",
            is_group: false,
            phone: "+16505551234",
          },
          external_id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
          direction: "received",
          timestamp: 1749416383,
          type: "text",
          text: "Does it come in another color? 😊",
          sender: { full_name: "Sheena Nelson", phone: "+16505551234" },
          recipient: { full_name: "Amnon Haha", phone: "+15557654321" },
        },
      ],
    },
    {
      file: "cloud-api/image-received.json",
      title: "image-received → type image kept (ingest skips it), no text",
      messages: [
        {
          account_phone: "+15557654321",
          chat: {
            external_id: "16505551234",
            full_name: "Sheena Nelson",
            name_source: "push",
            is_group: false,
            phone: "+16505551234",
          },
          external_id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUI0RTk2QjYxNkQxNUNGRkIwAA==",
          direction: "received",
          timestamp: 1749416400,
          type: "image",
          sender: { full_name: "Sheena Nelson", phone: "+16505551234" },
          recipient: { full_name: "Amnon Haha", phone: "+15557654321" },
        },
      ],
    },
    {
      file: "cloud-api/echo-sent-from-app.json",
      title: "echo-sent-from-app → a sent text to `to`; the contact's name is left to ingest",
      messages: [
        {
          account_phone: "+15557654321",
          chat: { external_id: "16505551234", is_group: false, phone: "+16505551234" },
          external_id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjQ0QjM3NzQxRDI1MjY0OTMA",
          direction: "sent",
          timestamp: 1749416600,
          type: "text",
          text: "Yes, in red and blue.",
          sender: { full_name: "Amnon Haha", phone: "+15557654321" },
        },
      ],
    },
    {
      file: "cloud-api/status-delivered.json",
      title: "status-delivered → nothing (statuses are ignored)",
      messages: [],
    },
  ],
  authFixture: "cloud-api/text-received.json",
  accepted: (raw) => [
    ["X-Hub-Signature-256 in lower case", CLOUD_ACCOUNT, post(raw, { "x-hub-signature-256": cloudSign(raw) })],
    ["X-Hub-Signature-256 in any case", CLOUD_ACCOUNT, post(raw, { "X-Hub-Signature-256": cloudSign(raw) })],
    ["X-Hub-Signature-256 as a repeated header", CLOUD_ACCOUNT, post(raw, { "x-hub-signature-256": [cloudSign(raw)] })],
  ],
  forged: (raw) => [
    ["no signature", CLOUD_ACCOUNT, post(raw)],
    [
      "a signature made with another secret",
      CLOUD_ACCOUNT,
      post(raw, { "x-hub-signature-256": cloudSign(raw, "wrong-secret") }),
    ],
    [
      "a malformed header (no sha256=)",
      CLOUD_ACCOUNT,
      post(raw, { "x-hub-signature-256": cloudSign(raw).slice("sha256=".length) }),
    ],
    ["an unsigned body that is not JSON (the signature is checked before parsing)", CLOUD_ACCOUNT, post("not json")],
  ],
  tamper: (raw) => Buffer.from(raw.toString("utf8").replace("another color", "another colour"), "utf8"),
  getIs405: false,
  notJson: "{not json",
  unrecognised: [
    [[1, 2], /not an object/],
    [null, /not an object/],
    [{ object: "whatsapp_business_account" }, /^entry is required/],
    [{ object: "whatsapp_business_account", entry: [{}] }, /entry\[0\]\.changes is required/],
    [{ object: "whatsapp_business_account", entry: ["x"] }, /entry\[0\] must be an object/],
    [notification({ messages: [{ ...CLOUD_MESSAGE, text: {} }] }), /messages\[0\]\.text\.body/],
    [notification({ messages: [{ ...CLOUD_MESSAGE, timestamp: "yesterday" }] }), /messages\[0\]\.timestamp/],
    [notification({ messages: "nope" }), /value\.messages must be an array/],
  ],
  ignored: [
    ["an unknown change field", notification({ messages: [] }, "account_update")],
    ["a non-WhatsApp object", { object: "page", entry: [] }],
  ],
  configKept: [
    [
      { ...CLOUD_CONFIG, graph_base_url: "http://127.0.0.1:9999/", extra: 1 },
      { ...CLOUD_CONFIG, graph_base_url: "http://127.0.0.1:9999" },
    ],
  ],
  required: ["phone_number_id", "app_secret", "verify_token", "access_token"],
  configRefused: [
    [undefined, "source_config"],
    ["x", "source_config"],
    [{ ...CLOUD_CONFIG, app_secret: 42 }, "source_config.app_secret"],
    [{ ...CLOUD_CONFIG, graph_base_url: "ftp://x" }, "source_config.graph_base_url"],
  ],
  send: {
    label: "WhatsApp Cloud API",
    config: (origin) => ({ ...CLOUD_CONFIG, graph_base_url: origin }),
    path: "/v21.0/106540352242922/messages",
    auth: ["authorization", "Bearer EAAG-access-token"],
    direct: {
      chat: { external_id: "16505551234", is_group: false, phone: "+16505551234" },
      text: "Sure! 👍",
      answer: {
        status: 200,
        body: JSON.stringify({
          messaging_product: "whatsapp",
          contacts: [{ input: "16505551234", wa_id: "16505551234" }],
          messages: [{ id: "wamid.SENT1" }],
        }),
      },
      id: "wamid.SENT1",
      json: {
        messaging_product: "whatsapp",
        recipient_type: "individual",
        to: "16505551234",
        type: "text",
        text: { body: "Sure! 👍" },
      },
    },
    group: {
      chat: { external_id: "Y2FwaV9ncm91cDox", is_group: true, phone: "" },
      text: "Hello group",
      answer: { status: 200, body: JSON.stringify({ messages: [{ id: "wamid.GROUPSENT" }] }) },
      id: "wamid.GROUPSENT",
      json: {
        messaging_product: "whatsapp",
        recipient_type: "group",
        to: "Y2FwaV9ncm91cDox",
        type: "text",
        text: { body: "Hello group" },
      },
    },
    failure: {
      body: { error: { message: "Service temporarily unavailable", code: 2 } },
      secret: /Service temporarily unavailable/,
    },
    noId: { answer: { status: 200, body: "{}" }, error: /messages\[0\]\.id/ },
  },
};

// ---------------------------------------------------------------- WAHA

const WAHA_CONFIG = { base_url: "http://127.0.0.1:3000", api_key: "waha-key-1", session: "default" };
const WAHA_ACCOUNT = account("waha", WAHA_CONFIG);
const WAHA_HMAC_KEY = "waha-hmac-secret";
const WAHA_SIGNED_ACCOUNT = account("waha", { ...WAHA_CONFIG, hmac_key: WAHA_HMAC_KEY });
const wahaHmac = (raw: Buffer, key = WAHA_HMAC_KEY) => hmacHex("sha512", key, raw);

const waha: Gateway = {
  source: "waha",
  adapter: wahaAdapter,
  config: WAHA_CONFIG,
  account: WAHA_ACCOUNT,
  request: (body) => post(body),
  fixtures: [
    {
      file: "waha/message-any-received-direct.json",
      title:
        "message-any-received-direct → received text, contact named by notifyName, account side named after the owner (not me.pushName)",
      messages: [
        {
          account_phone: "+15557654321",
          chat: {
            external_id: "15551234567@c.us",
            full_name: "Jane Roe",
            name_source: "push",
            is_group: false,
            phone: "+15551234567",
          },
          external_id: "false_15551234567@c.us_3EB0C767D26A1D2B3C4E",
          direction: "received",
          timestamp: 1710000000,
          type: "text",
          text: "Hello, is the offer still valid?",
          sender: { full_name: "Jane Roe", phone: "+15551234567" },
          recipient: { full_name: "Amnon Haha", phone: "+15557654321" },
        },
      ],
    },
    {
      file: "waha/message-any-sent-direct.json",
      title: "message-any-sent-direct → sent text in the chat of `to`, emoji intact",
      messages: [
        {
          account_phone: "+15557654321",
          chat: { external_id: "15551234567@c.us", is_group: false, phone: "+15551234567" },
          external_id: "true_15551234567@c.us_3EB0A9F1E2D3C4B5A6F7",
          direction: "sent",
          timestamp: 1710000060,
          type: "text",
          text: "Yes, until Friday 👍",
          sender: { full_name: "Amnon Haha", phone: "+15557654321" },
        },
      ],
    },
    {
      file: "waha/message-any-group-media.json",
      title: "message-any-group-media → a received non-text in the group (document from its mimetype)",
      messages: [
        {
          account_phone: "+15557654321",
          chat: { external_id: "120363041234567890@g.us", is_group: true, phone: "" },
          external_id: "false_120363041234567890@g.us_3EB0B1C2D3E4F5A6B7C8_15551234567@c.us",
          direction: "received",
          timestamp: 1710000120,
          type: "document",
          sender: { full_name: "+15551234567", phone: "" },
        },
      ],
    },
  ],
  authFixture: "waha/message-any-received-direct.json",
  accepted: (raw) => [
    [
      "the hex HMAC-SHA512 of the raw body (hmac_key set)",
      WAHA_SIGNED_ACCOUNT,
      post(raw, { "x-webhook-hmac": wahaHmac(raw), "x-webhook-hmac-algorithm": "sha512" }),
    ],
    [
      "the same headers in any case",
      WAHA_SIGNED_ACCOUNT,
      post(raw, { "X-Webhook-Hmac": wahaHmac(raw), "X-Webhook-Hmac-Algorithm": "sha512" }),
    ],
    ["unsigned, when the account has no hmac_key (the URL token guards it)", WAHA_ACCOUNT, post(raw)],
  ],
  forged: (raw) => [
    ["no HMAC (hmac_key set)", WAHA_SIGNED_ACCOUNT, post(raw)],
    [
      "an HMAC made with another key",
      WAHA_SIGNED_ACCOUNT,
      post(raw, { "x-webhook-hmac": wahaHmac(raw, "other-key"), "x-webhook-hmac-algorithm": "sha512" }),
    ],
    [
      "another algorithm (sha256)",
      WAHA_SIGNED_ACCOUNT,
      post(raw, { "x-webhook-hmac": hmacHex("sha256", WAHA_HMAC_KEY, raw), "x-webhook-hmac-algorithm": "sha256" }),
    ],
    ["an unsigned body that is not JSON (the HMAC is checked before parsing)", WAHA_SIGNED_ACCOUNT, post("not json")],
  ],
  tamper: (raw) => Buffer.from(raw.toString("utf8").replace("still valid", "still VALID"), "utf8"),
  getIs405: true,
  notJson: "<html>",
  unrecognised: [
    [[{ event: "message.any" }], /^The body is JSON but not an object\.$/],
    [{ session: "default" }, /event/],
    [{ event: "message.any", session: "default" }, /payload/],
    [messageAny({ from: "15551234567@c.us", fromMe: false, body: "x" }), /payload\.id/],
    [messageAny({ id: "x", from: "15551234567@c.us", body: "x" }), /payload\.fromMe/],
    [messageAny({ id: "x", fromMe: false, body: "x" }), /payload\.from/],
    [
      messageAny({ id: "x", from: "15551234567@c.us", fromMe: false, body: "x", timestamp: "soon" }),
      /payload\.timestamp/,
    ],
  ],
  ignored: [
    [
      "a status broadcast (not a chat)",
      messageAny({
        id: "false_status@broadcast_1",
        from: "status@broadcast",
        to: "15557654321@c.us",
        fromMe: false,
        body: "story",
      }),
    ],
    ["session.status", { event: "session.status", session: "default", payload: { status: "WORKING" } }],
    ["message.ack", { event: "message.ack", session: "default", payload: { id: "x", ack: 3 } }],
    [
      "another session's message",
      messageAny({ id: "x", from: "15551234567@c.us", fromMe: false, body: "hi" }, { session: "other" }),
    ],
  ],
  configKept: [
    [
      { ...WAHA_CONFIG, base_url: "http://waha:3000/" },
      { ...WAHA_CONFIG, base_url: "http://waha:3000" },
    ],
    [
      { ...WAHA_CONFIG, hmac_key: "k" },
      { ...WAHA_CONFIG, hmac_key: "k" },
    ],
  ],
  required: ["base_url", "api_key", "session"],
  configRefused: [
    [{ ...WAHA_CONFIG, base_url: "not a url" }, "source_config.base_url"],
    [{ ...WAHA_CONFIG, hmac_key: 5 }, "source_config.hmac_key"],
    [null, "source_config"],
  ],
  send: {
    label: "WAHA",
    config: (origin) => ({ ...WAHA_CONFIG, base_url: origin }),
    path: "/api/sendText",
    auth: ["x-api-key", "waha-key-1"],
    direct: {
      chat: { external_id: "15551234567@c.us", is_group: false, phone: "+15551234567" },
      text: "Hi Jane 👋",
      answer: {
        status: 201,
        body: JSON.stringify({
          id: "true_15551234567@c.us_3EB0SENT",
          timestamp: 1710000400,
          fromMe: true,
          body: "Hi Jane 👋",
        }),
      },
      id: "true_15551234567@c.us_3EB0SENT",
      json: { session: "default", chatId: "15551234567@c.us", text: "Hi Jane 👋" },
    },
    group: {
      chat: { external_id: "120363041234567890@g.us", is_group: true, phone: "" },
      text: "to the group",
      answer: { status: 201, body: JSON.stringify({ id: "true_120363041234567890@g.us_3EB0GRP" }) },
      id: "true_120363041234567890@g.us_3EB0GRP",
      json: { session: "default", chatId: "120363041234567890@g.us", text: "to the group" },
    },
    failure: {
      body: { statusCode: 500, message: "Session default is not working" },
      secret: /Session default is not working/,
    },
    noId: { answer: { status: 201, body: JSON.stringify({ status: "ok" }) }, error: /without a message id/ },
  },
};

// ---------------------------------------------------------------- Evolution API

const EVOLUTION_CONFIG = { base_url: "http://127.0.0.1:8081", api_key: EVOLUTION_KEY, instance: EVOLUTION_INSTANCE };
const EVOLUTION_ACCOUNT = account("evolution", EVOLUTION_CONFIG);

const fixtureJson = (rel: string) => JSON.parse(fixture(rel).toString("utf8")) as Record<string, unknown>;
const EVOLUTION_KEY_ID = { remoteJid: "15551234567@s.whatsapp.net", fromMe: false, id: "3EB0P" };
const EVOLUTION_GOOD = {
  key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: false, id: "X" },
  messageType: "conversation",
  message: { conversation: "a" },
};

const evolution: Gateway = {
  source: "evolution",
  adapter: evolutionAdapter,
  config: EVOLUTION_CONFIG,
  account: EVOLUTION_ACCOUNT,
  request: (body) => post(body),
  fixtures: [
    {
      file: "evolution/messages-upsert-text-direct.json",
      title: "messages-upsert-text-direct → received text, contact named by pushName",
      messages: [
        {
          account_phone: "+15557654321",
          chat: {
            external_id: "15551234567@s.whatsapp.net",
            full_name: "Jane Roe",
            name_source: "push",
            is_group: false,
            phone: "+15551234567",
          },
          external_id: "3EB0F5A1B2C3D4E5F6A7",
          direction: "received",
          timestamp: 1759312800,
          type: "text",
          text: "Can you send me the price list?",
          sender: { full_name: "Jane Roe", phone: "+15551234567" },
          recipient: { full_name: "Amnon Haha", phone: "+15557654321" },
        },
      ],
    },
    {
      file: "evolution/messages-upsert-group-text.json",
      title: "messages-upsert-group-text → received text in the group, sender the participant, emoji intact",
      messages: [
        {
          account_phone: "+15557654321",
          chat: { external_id: "120363041234567890@g.us", is_group: true, phone: "" },
          external_id: "3EB0C1D2E3F4A5B6C7D8",
          direction: "received",
          timestamp: 1759313100,
          type: "text",
          text: "ok 👍",
          sender: { full_name: "Jane Roe", phone: "" },
        },
      ],
    },
    {
      file: "evolution/messages-upsert-image.json",
      title: "messages-upsert-image (fromMe) → a sent image; the pushName is the account's, not the chat's",
      messages: [
        {
          account_phone: "+15557654321",
          chat: { external_id: "15551234567@s.whatsapp.net", is_group: false, phone: "+15551234567" },
          external_id: "3EB0D9E8F7A6B5C4D3E2",
          direction: "sent",
          timestamp: 1759313160,
          type: "image",
          sender: { full_name: "Amnon Haha", phone: "+15557654321" },
        },
      ],
    },
  ],
  authFixture: "evolution/messages-upsert-text-direct.json",
  accepted: (raw) => [["the instance's apikey in the body", EVOLUTION_ACCOUNT, post(raw)]],
  forged: (raw) => {
    const { apikey: _omit, ...withoutKey } = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
    return [
      ["no apikey", EVOLUTION_ACCOUNT, post(withoutKey)],
      ["a wrong apikey", EVOLUTION_ACCOUNT, post({ ...withoutKey, apikey: "B6D711FCDE4D4FD5936544120E713977" })],
      [
        "a wrong apikey on another event",
        EVOLUTION_ACCOUNT,
        post({ event: "connection.update", apikey: "nope", data: {} }),
      ],
      ["a non-string apikey", EVOLUTION_ACCOUNT, post({ ...withoutKey, apikey: 123 })],
      ["a JSON body that is not an object (no apikey to check)", EVOLUTION_ACCOUNT, post([])],
    ];
  },
  getIs405: true,
  notJson: "apikey=x",
  unrecognised: [
    [{ apikey: EVOLUTION_KEY, data: EVOLUTION_GOOD }, /event is required/],
    [{ event: "messages.upsert", apikey: EVOLUTION_KEY }, /data is required/],
    [upsert({ ...EVOLUTION_GOOD, key: undefined }), /data\.key is required/],
    [upsert({ ...EVOLUTION_GOOD, key: { fromMe: false, id: "X" } }), /data\.key\.remoteJid/],
    [upsert({ ...EVOLUTION_GOOD, key: { remoteJid: "1@s.whatsapp.net", fromMe: false } }), /data\.key\.id/],
    [upsert({ ...EVOLUTION_GOOD, key: { remoteJid: "1@s.whatsapp.net", id: "X" } }), /data\.key\.fromMe/],
    [upsert({ ...EVOLUTION_GOOD, messageType: undefined, message: undefined }), /data\.message/],
    [upsert({ ...EVOLUTION_GOOD, messageTimestamp: null }), /data\.messageTimestamp/],
    [upsert({}, { data: "text" }), /data must be an object/],
  ],
  ignored: [
    [
      "a protocol message",
      upsert({ key: EVOLUTION_KEY_ID, messageType: "protocolMessage", message: { protocolMessage: { type: 0 } } }),
    ],
    [
      "a reaction",
      upsert({ key: EVOLUTION_KEY_ID, messageType: "reactionMessage", message: { reactionMessage: { text: "👍" } } }),
    ],
    [
      "a status broadcast",
      upsert({
        key: { ...EVOLUTION_KEY_ID, remoteJid: "status@broadcast" },
        messageType: "conversation",
        message: { conversation: "story" },
      }),
    ],
    [
      "connection.update",
      { event: "connection.update", instance: "sales-1", apikey: EVOLUTION_KEY, data: { state: "open" } },
    ],
    [
      "messages.update",
      { event: "messages.update", instance: "sales-1", apikey: EVOLUTION_KEY, data: { status: "READ" } },
    ],
    [
      "another instance's message",
      { ...fixtureJson("evolution/messages-upsert-text-direct.json"), instance: "another-instance" },
    ],
  ],
  configKept: [
    [
      { ...EVOLUTION_CONFIG, base_url: "https://evo.example.com/", webhook: "x" },
      { ...EVOLUTION_CONFIG, base_url: "https://evo.example.com" },
    ],
  ],
  required: ["base_url", "api_key", "instance"],
  configRefused: [],
  send: {
    label: "Evolution API",
    config: (origin) => ({ ...EVOLUTION_CONFIG, base_url: origin }),
    path: "/message/sendText/sales-1",
    auth: ["apikey", EVOLUTION_KEY],
    direct: {
      chat: { external_id: "15551234567@s.whatsapp.net", is_group: false, phone: "+15551234567" },
      text: "Here it is 📎",
      answer: {
        status: 201,
        body: JSON.stringify({
          key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "3EB0EVOSENT" },
          message: { conversation: "Here it is 📎" },
          messageTimestamp: "1759313600",
          status: "PENDING",
        }),
      },
      id: "3EB0EVOSENT",
      json: { number: "15551234567", text: "Here it is 📎" },
    },
    group: {
      chat: { external_id: "120363041234567890@g.us", is_group: true, phone: "" },
      text: "hello group",
      answer: {
        status: 201,
        body: JSON.stringify({ key: { remoteJid: "120363041234567890@g.us", fromMe: true, id: "3EB0EVOGRP" } }),
      },
      id: "3EB0EVOGRP",
      json: { number: "120363041234567890@g.us", text: "hello group" },
    },
    failure: {
      body: { status: 500, error: "Internal Server Error", response: { message: "Connection Closed" } },
      secret: /Connection Closed/,
    },
    noId: { answer: { status: 201, body: JSON.stringify({ ok: true }) }, error: /key\.id/ },
  },
};

const GATEWAYS: Gateway[] = [cloudApi, waha, evolution];

// ---------------------------------------------------------------- every gateway

for (const g of GATEWAYS) {
  describe(`${g.source} fixtures`, () => {
    for (const f of g.fixtures) {
      it(f.title, () => {
        assert.deepEqual(inbound(g, fixture(f.file)), f.messages);
      });
    }
  });

  describe(`${g.source} authentication`, () => {
    const raw = fixture(g.authFixture);

    it("accepts each way the gateway authenticates a request", () => {
      for (const [what, acc, req] of g.accepted(raw))
        assert.equal(messagesOf(g.adapter.handleInbound(acc, req)).length, 1, what);
    });

    it("refuses a request without its credential (saying it is missing), with a wrong one, and before parsing the body", () => {
      const forged = g.forged(raw);
      forged.forEach(([what, acc, req], i) => {
        assert.throws(
          () => g.adapter.handleInbound(acc, req),
          (err: unknown) => {
            assert.ok(err instanceof SourceAuthError, `${what}: ${String(err)}`);
            if (i === 0) assert.match(err.message, /missing/, what);
            return true;
          },
        );
      });
    });

    if (g.tamper) {
      it("refuses a body other than the one signed", () => {
        const tampered = g.tamper!(raw);
        assert.notDeepEqual(tampered, raw);
        const [, acc, signed] = g.accepted(raw)[0]!;
        assert.throws(() => g.adapter.handleInbound(acc, { ...signed, rawBody: tampered }), SourceAuthError);
      });
    }

    it("an account whose stored config is broken fails as a server error, not an input error", () => {
      const broken = account(g.source, { [g.required[0]!]: g.config[g.required[0]!] });
      assert.throws(
        () => g.adapter.handleInbound(broken, g.request({})),
        (err: unknown) => {
          assert.ok(err instanceof Error && !(err instanceof SourceInputError));
          assert.match(err.message, /acc_1.*source_config/);
          return true;
        },
      );
    });
  });

  describe(`${g.source} events that are not conversation messages and bodies it cannot map`, () => {
    if (g.getIs405) {
      it("GET is answered 405", () => {
        const outcome = g.adapter.handleInbound(g.account, {
          method: "GET",
          query: {},
          headers: {},
          rawBody: Buffer.alloc(0),
        });
        assert.equal(outcome.kind, "reply");
        assert.equal(outcome.kind === "reply" ? outcome.status : 0, 405);
      });
    }

    it("other events, sessions or instances and status broadcasts are acknowledged with no messages", () => {
      for (const [what, body] of g.ignored) assert.deepEqual(inbound(g, body), [], what);
    });

    it("refuses only a body that is not JSON at all", () => {
      assert.throws(() => inbound(g, g.notJson), inputError("body"));
    });

    it("an authenticated body it cannot map is an unrecognised event (no message), naming the missing part", () => {
      for (const [body, reason] of g.unrecognised) {
        const outcome = g.adapter.handleInbound(g.account, g.request(JSON.stringify(body)));
        assert.equal(outcome.kind, "messages");
        if (outcome.kind !== "messages") continue;
        assert.deepEqual(outcome.messages, [], JSON.stringify(body));
        assert.match((outcome.unrecognised ?? []).join(" | "), reason);
      }
    });
  });

  describe(`${g.source} config`, () => {
    it("keeps the known fields (and optional ones), trims a trailing slash from the URL", () => {
      for (const [given, kept] of g.configKept) assert.deepEqual(g.adapter.validateConfig(given), kept);
    });

    it("names each missing field", () => {
      for (const key of g.required) {
        const config: Record<string, unknown> = { ...g.config };
        delete config[key];
        assert.throws(
          () => g.adapter.validateConfig(config),
          (err: unknown) => {
            assert.ok(err instanceof SourceInputError);
            assert.equal(err.field, `source_config.${key}`);
            assert.equal(err.message, `source_config.${key} is required.`);
            return true;
          },
        );
      }
    });

    if (g.configRefused.length > 0) {
      it("rejects a non-object config, a field of the wrong type and a bad URL, naming the field", () => {
        for (const [given, field] of g.configRefused)
          assert.throws(() => g.adapter.validateConfig(given), inputError(field));
      });
    }
  });

  describe(`${g.source} sendText against a local stand-in of the gateway's API`, () => {
    let api: Receiver;
    before(async () => {
      api = await Receiver.start();
    });
    after(async () => {
      await api.close();
    });
    const sender = () => account(g.source, g.send.config(api.origin));
    const { direct, group } = g.send;

    it(`POSTs ${g.send.path} with the gateway's credential and the documented body; returns the gateway's message id`, async () => {
      api.requests.length = 0;
      api.respond = () => direct.answer;
      assert.deepEqual(await g.adapter.sendText(sender(), direct.chat, direct.text, gatewayHttp), {
        external_id: direct.id,
      });
      assert.equal(api.requests.length, 1);
      const [r] = api.requests;
      assert.equal(r?.method, "POST");
      assert.equal(r?.url, g.send.path);
      assert.equal(r?.headers[g.send.auth[0]], g.send.auth[1]);
      assert.match(String(r?.headers["content-type"]), /application\/json/);
      assert.deepEqual(r?.json, direct.json);
    });

    it("sends to a group by the group's id", async () => {
      api.requests.length = 0;
      api.respond = () => group.answer;
      assert.deepEqual(await g.adapter.sendText(sender(), group.chat, group.text, gatewayHttp), {
        external_id: group.id,
      });
      assert.deepEqual(api.requests[0]?.json, group.json);
    });

    it("a 500 from the gateway throws with the status, never the gateway's body", async () => {
      api.respond = () => ({ status: 500, body: JSON.stringify(g.send.failure.body) });
      await assert.rejects(g.adapter.sendText(sender(), direct.chat, "x", gatewayHttp), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, new RegExp(`${escape(g.send.label)} answered HTTP 500`));
        assert.doesNotMatch(err.message, g.send.failure.secret);
        return true;
      });
    });

    it("a 2xx answer without a message id throws", async () => {
      api.respond = () => g.send.noId.answer;
      await assert.rejects(g.adapter.sendText(sender(), direct.chat, "x", gatewayHttp), g.send.noId.error);
    });

    it("an unreachable gateway throws a clear error", async () => {
      const port = await closedPort();
      await assert.rejects(
        g.adapter.sendText(account(g.source, g.send.config(`http://127.0.0.1:${port}`)), direct.chat, "x", gatewayHttp),
        new RegExp(`${escape(g.send.label)} request to http://127\\.0\\.0\\.1:\\d+${escape(g.send.path)} failed`),
      );
    });
  });
}

// ---------------------------------------------------------------- Cloud API only

describe("cloud_api notifications beyond the fixtures", () => {
  it("a group message (group_id) → chat is the group, sender the participant's profile name, phones empty", () => {
    const body = notification({
      contacts: [{ profile: { name: "Sheena Nelson" }, wa_id: "16505551234" }],
      messages: [
        {
          from: "16505551234",
          group_id: "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD",
          id: "wamid.GROUP1",
          timestamp: "1739321024",
          type: "text",
          text: { body: "What do you all think about this? 🤔" },
        },
      ],
    });
    assert.deepEqual(inbound(cloudApi, body), [
      {
        account_phone: "+15557654321",
        chat: { external_id: "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD", is_group: true, phone: "" },
        external_id: "wamid.GROUP1",
        direction: "received",
        timestamp: 1739321024,
        type: "text",
        text: "What do you all think about this? 🤔",
        sender: { full_name: "Sheena Nelson", phone: "" },
      },
    ]);
  });

  it("a `from` written with a + (as in Meta's group examples) gives the same phone", () => {
    const [m] = inbound(
      cloudApi,
      notification({
        contacts: [{ profile: { name: "Sheena Nelson" }, wa_id: "16505551234" }],
        messages: [
          { from: "+16505551234", id: "wamid.PLUS", timestamp: 1749416383, type: "text", text: { body: "hi" } },
        ],
      }),
    );
    assert.equal(m?.chat.external_id, "16505551234");
    assert.equal(m?.chat.phone, "+16505551234");
    assert.equal(m?.chat.full_name, "Sheena Nelson");
  });

  it("ignores changes of another phone_number_id, keeps the account's own in the same body", () => {
    const body = notification({
      messages: [
        { from: "16505551234", id: "wamid.MINE", timestamp: "1749416383", type: "text", text: { body: "mine" } },
      ],
    }) as { entry: Array<{ changes: unknown[] }> };
    body.entry.push({
      changes: [
        {
          field: "messages",
          value: {
            metadata: { display_phone_number: "15550000000", phone_number_id: "999999999999999" },
            messages: [
              {
                from: "16505559999",
                id: "wamid.OTHER",
                timestamp: "1749416383",
                type: "text",
                text: { body: "other" },
              },
            ],
          },
        },
      ],
    });
    assert.deepEqual(
      inbound(cloudApi, body).map((m) => m.external_id),
      ["wamid.MINE"],
    );
  });

  it("a non-text type with an unusual name keeps it (ingest stores it as skipped)", () => {
    const [m] = inbound(
      cloudApi,
      notification({
        messages: [
          {
            from: "16505551234",
            id: "wamid.LOC",
            timestamp: "1749416383",
            type: "location",
            location: { latitude: 1, longitude: 2 },
          },
        ],
      }),
    );
    assert.equal(m?.type, "location");
    assert.equal(m?.text, undefined);
  });

  it("names the missing field of a message; the other messages of the notification are kept", () => {
    const good = { ...CLOUD_MESSAGE, id: "wamid.GOOD" };
    const without = (key: string) =>
      notification({ messages: [Object.fromEntries(Object.entries(CLOUD_MESSAGE).filter(([k]) => k !== key)), good] });
    const path = "entry[0].changes[0].value.messages[0]";
    for (const key of ["id", "from", "type", "timestamp"]) {
      const outcome = cloudApiAdapter.handleInbound(CLOUD_ACCOUNT, cloudSigned(without(key)));
      assert.equal(outcome.kind, "messages");
      if (outcome.kind !== "messages") continue;
      assert.deepEqual(
        outcome.messages.map((m) => m.external_id),
        ["wamid.GOOD"],
        key,
      );
      assert.match((outcome.unrecognised ?? []).join(), new RegExp(`${escape(path)}\\.${key}`), key);
    }
  });
});

describe("cloud_api verification handshake (GET)", () => {
  const get = (query: Record<string, string | undefined>): InboundRequest => ({
    method: "GET",
    query,
    headers: {},
    rawBody: Buffer.alloc(0),
  });
  const { verify_token } = CLOUD_CONFIG;

  it("answers hub.challenge as text/plain when the verify token matches", () => {
    const outcome = cloudApiAdapter.handleInbound(
      CLOUD_ACCOUNT,
      get({ "hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": "1158201444" }),
    );
    assert.deepEqual(outcome, {
      kind: "reply",
      status: 200,
      contentType: "text/plain; charset=utf-8",
      body: "1158201444",
    });
  });

  it("rejects a wrong or missing verify token as an auth failure", () => {
    assert.throws(
      () =>
        cloudApiAdapter.handleInbound(
          CLOUD_ACCOUNT,
          get({ "hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1" }),
        ),
      SourceAuthError,
    );
    assert.throws(
      () => cloudApiAdapter.handleInbound(CLOUD_ACCOUNT, get({ "hub.mode": "subscribe", "hub.challenge": "1" })),
      SourceAuthError,
    );
  });

  it("rejects a missing or wrong hub.mode, and a missing challenge, as input errors", () => {
    assert.throws(() => cloudApiAdapter.handleInbound(CLOUD_ACCOUNT, get({})), inputError("hub.mode"));
    assert.throws(
      () =>
        cloudApiAdapter.handleInbound(
          CLOUD_ACCOUNT,
          get({ "hub.mode": "unsubscribe", "hub.verify_token": verify_token, "hub.challenge": "1" }),
        ),
      inputError("hub.mode"),
    );
    assert.throws(
      () =>
        cloudApiAdapter.handleInbound(
          CLOUD_ACCOUNT,
          get({ "hub.mode": "subscribe", "hub.verify_token": verify_token }),
        ),
      inputError("hub.challenge"),
    );
  });
});

// ---------------------------------------------------------------- WAHA only

describe("waha message.any beyond the fixtures", () => {
  it("a text the account sent to a group (WEBJS shape: from me, to the group)", () => {
    const body = messageAny({
      id: "true_120363041234567890@g.us_3EB0AA_15557654321@c.us",
      timestamp: 1710000300,
      from: "15557654321@c.us",
      to: "120363041234567890@g.us",
      participant: "15557654321@c.us",
      fromMe: true,
      body: "Meeting at 10 ✅",
    });
    assert.deepEqual(inbound(waha, body), [
      {
        account_phone: "+15557654321",
        chat: { external_id: "120363041234567890@g.us", is_group: true, phone: "" },
        external_id: "true_120363041234567890@g.us_3EB0AA_15557654321@c.us",
        direction: "sent",
        timestamp: 1710000300,
        type: "text",
        text: "Meeting at 10 ✅",
        sender: { full_name: "Amnon Haha", phone: "" },
      },
    ]);
  });

  it("a text the account sent to a group (NOWEB shape: from and to the group) without `me` → owner's name", () => {
    const body = messageAny(
      {
        id: "true_120363041234567890@g.us_3EB0AB",
        from: "120363041234567890@g.us",
        to: "120363041234567890@g.us",
        fromMe: true,
        body: "ok",
      },
      { me: undefined },
    );
    const [m] = inbound(waha, body);
    assert.equal(m?.chat.external_id, "120363041234567890@g.us");
    assert.equal(m?.direction, "sent");
    assert.deepEqual(m?.sender, { full_name: "Amnon Haha", phone: "" });
  });

  it("NOWEB/GOWS: a message the account sent has `from` = the chat and no `to`", () => {
    const [m] = inbound(
      waha,
      messageAny({ id: "true_15551234567@c.us_3EB0X", from: "15551234567@c.us", fromMe: true, body: "x" }),
    );
    assert.equal(m?.direction, "sent");
    assert.equal(m?.chat.external_id, "15551234567@c.us");
  });

  it("a group text received names the participant from NOWEB's _data.pushName", () => {
    const body = messageAny({
      id: "false_120363041234567890@g.us_3EB0AC_15551234567@c.us",
      from: "120363041234567890@g.us",
      to: "15557654321@c.us",
      participant: "15551234567@c.us",
      fromMe: false,
      body: "see you",
      _data: { pushName: "Jane Roe" },
    });
    const [m] = inbound(waha, body);
    assert.deepEqual(m?.sender, { full_name: "Jane Roe", phone: "" });
    assert.equal(m?.recipient, undefined);
    assert.equal(m?.chat.full_name, undefined, "a participant's name is not the group's");
  });

  it("@s.whatsapp.net chats, device suffixes and image media", () => {
    const [m] = inbound(
      waha,
      messageAny({
        id: "false_15551234567@s.whatsapp.net_3EB0AD",
        from: "15551234567:12@s.whatsapp.net",
        to: "15557654321@s.whatsapp.net",
        fromMe: false,
        hasMedia: true,
        media: { mimetype: "image/jpeg", url: "http://localhost:3000/api/files/x.jpg" },
        body: "caption",
      }),
    );
    assert.equal(m?.chat.external_id, "15551234567@c.us", "phone chats are keyed as WAHA's ids name them");
    assert.equal(m?.chat.phone, "+15551234567");
    assert.equal(m?.type, "image");
    assert.equal(m?.text, undefined);
  });
});

describe("waha message ids from sendText answers", () => {
  it("reads a WAHA id, a WEBJS id._serialized and a NOWEB key the way WAHA serializes it", () => {
    assert.equal(wahaMessageId({ id: "true_15551234567@c.us_AAA" }), "true_15551234567@c.us_AAA");
    assert.equal(
      wahaMessageId({
        id: { fromMe: true, remote: "15551234567@c.us", id: "BBB", _serialized: "true_15551234567@c.us_BBB" },
      }),
      "true_15551234567@c.us_BBB",
    );
    assert.equal(
      wahaMessageId({ key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "CCC" } }),
      "true_15551234567@c.us_CCC",
    );
    assert.equal(
      wahaMessageId({
        key: {
          remoteJid: "120363041234567890@g.us",
          fromMe: true,
          id: "DDD",
          participant: "15557654321@s.whatsapp.net",
        },
      }),
      "true_120363041234567890@g.us_DDD_15557654321@c.us",
    );
    assert.equal(wahaMessageId({ key: { id: "EEE" } }), "EEE");
    assert.equal(wahaMessageId({ status: "ok" }), undefined);
    assert.equal(wahaMessageId("nope"), undefined);
  });
});

describe("waha sendText answered the NOWEB way", () => {
  let api: Receiver;
  before(async () => {
    api = await Receiver.start();
  });
  after(async () => {
    await api.close();
  });

  it("addresses groups by their id and @s.whatsapp.net chats in @c.us form; a NOWEB answer gives the webhook id", async () => {
    const sender = account("waha", waha.send.config(api.origin));
    api.respond = (req) => ({
      status: 201,
      body: JSON.stringify({
        key: {
          remoteJid: String((req.json as { chatId: string }).chatId).replace("@c.us", "@s.whatsapp.net"),
          fromMe: true,
          id: "3EB0NOWEB",
        },
        message: { extendedTextMessage: { text: "x" } },
        messageTimestamp: "1710000500",
      }),
    });
    const group = await wahaAdapter.sendText(
      sender,
      { external_id: "120363041234567890@g.us", is_group: true, phone: "" },
      "to the group",
      gatewayHttp,
    );
    assert.equal(group.external_id, "true_120363041234567890@g.us_3EB0NOWEB");
    const direct = await wahaAdapter.sendText(
      sender,
      { external_id: "15551234567@s.whatsapp.net", is_group: false, phone: "+15551234567" },
      "direct",
      gatewayHttp,
    );
    assert.equal(direct.external_id, "true_15551234567@c.us_3EB0NOWEB");
    assert.deepEqual(
      api.requests.map((r) => (r.json as { chatId: string }).chatId),
      ["120363041234567890@g.us", "15551234567@c.us"],
    );
  });
});

// ---------------------------------------------------------------- Evolution API only

describe("evolution messages.upsert beyond the fixtures", () => {
  it("extendedTextMessage is text (message.extendedTextMessage.text)", () => {
    const body = upsert({
      key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: false, id: "3EB0EXT" },
      pushName: "Jane Roe",
      messageType: "extendedTextMessage",
      message: { extendedTextMessage: { text: "see https://example.com 🙂", contextInfo: {} } },
    });
    const [m] = inbound(evolution, body);
    assert.equal(m?.type, "text");
    assert.equal(m?.text, "see https://example.com 🙂");
    assert.equal(m?.external_id, "3EB0EXT");
  });

  it("a text the account sent to a group → sender is the account (phone empty), no recipient", () => {
    const body = upsert({
      key: {
        remoteJid: "120363041234567890@g.us",
        fromMe: true,
        id: "3EB0GRPSENT",
        participant: "15557654321@s.whatsapp.net",
      },
      pushName: "Acme Sales",
      messageType: "conversation",
      message: { conversation: "Thanks all" },
    });
    assert.deepEqual(inbound(evolution, body), [
      {
        account_phone: "+15557654321",
        chat: { external_id: "120363041234567890@g.us", is_group: true, phone: "" },
        external_id: "3EB0GRPSENT",
        direction: "sent",
        timestamp: 1759313400,
        type: "text",
        text: "Thanks all",
        sender: { full_name: "Amnon Haha", phone: "" },
      },
    ]);
  });

  it("an @lid contact is addressed by its phone JID when Evolution gives remoteJidAlt", () => {
    const [m] = inbound(
      evolution,
      upsert({
        key: {
          remoteJid: "103899771998284@lid",
          remoteJidAlt: "15551234567@s.whatsapp.net",
          fromMe: false,
          id: "3EB0LID",
        },
        pushName: "Jane Roe",
        messageType: "conversation",
        message: { conversation: "hi" },
      }),
    );
    assert.equal(m?.chat.external_id, "15551234567@s.whatsapp.net");
    assert.equal(m?.chat.phone, "+15551234567");
    assert.equal(m?.chat.alias_id, "103899771998284@lid", "the pair is handed to ingest, which remembers it");
  });

  it("other media kinds keep a short type; string timestamps are accepted", () => {
    const [m] = inbound(
      evolution,
      upsert({
        key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: false, id: "3EB0DOC" },
        messageType: "documentMessage",
        message: { documentMessage: { fileName: "quote.pdf" } },
        messageTimestamp: "1759313500",
      }),
    );
    assert.equal(m?.type, "document");
    assert.equal(m?.timestamp, 1759313500);
    assert.equal(m?.text, undefined);
  });

  it("MESSAGES_UPSERT (the upper-case event name) is understood", () => {
    assert.equal(
      inbound(evolution, { ...fixtureJson("evolution/messages-upsert-text-direct.json"), event: "MESSAGES_UPSERT" })
        .length,
      1,
    );
  });

  it("a text kind without its text is stored as skipped, not refused", () => {
    const [m] = inbound(evolution, upsert({ ...EVOLUTION_GOOD, message: {} }));
    assert.equal(m?.type, "unknown");
  });
});
