import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { IngestMessage } from "../../src/ingest/types.js";
import { evolutionAdapter } from "../../src/sources/evolution.js";
import { SourceAuthError, SourceInputError, type InboundOutcome } from "../../src/sources/types.js";
import { account, fixture, post, gatewayHttp } from "./helpers.js";
import { Receiver } from "../helpers/receiver.js";

const API_KEY = "B6D711FCDE4D4FD5936544120E713976";
const CONFIG = { base_url: "http://127.0.0.1:8081", api_key: API_KEY, instance: "sales-1" };
const ACCOUNT = account("evolution", CONFIG);

function messagesOf(outcome: InboundOutcome): IngestMessage[] {
  assert.equal(outcome.kind, "messages");
  return outcome.kind === "messages" ? outcome.messages : [];
}

function inbound(body: Buffer | string | object): IngestMessage[] {
  return messagesOf(evolutionAdapter.handleInbound(ACCOUNT, post(body)));
}

function inputError(field: string) {
  return (err: unknown) => {
    assert.ok(err instanceof SourceInputError, `expected SourceInputError, got ${String(err)}`);
    assert.equal(err.field, field);
    return true;
  };
}

/** A messages.upsert event as Evolution sends it, with data fields overridden. */
function upsert(data: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event: "messages.upsert",
    instance: "sales-1",
    date_time: "2025-10-01T10:10:00.000Z",
    sender: "15557654321@s.whatsapp.net",
    server_url: "http://localhost:8081",
    apikey: API_KEY,
    data: { status: "DELIVERY_ACK", messageTimestamp: 1759313400, instanceId: "6f1c2a9e", source: "android", ...data },
    ...extra,
  };
}

describe("evolution fixtures", () => {
  it("messages-upsert-text-direct → received text, contact named by pushName", () => {
    assert.deepEqual(inbound(fixture("evolution/messages-upsert-text-direct.json")), [
      {
        account_phone: "+15557654321",
        chat: { external_id: "15551234567@s.whatsapp.net", full_name: "Jane Roe", name_source: "push", is_group: false, phone: "+15551234567" },
        external_id: "3EB0F5A1B2C3D4E5F6A7",
        direction: "received",
        timestamp: 1759312800,
        type: "text",
        text: "Can you send me the price list?",
        sender: { full_name: "Jane Roe", phone: "+15551234567" },
        recipient: { full_name: "Amnon Haha", phone: "+15557654321" },
      },
    ]);
  });

  it("messages-upsert-group-text → received text in the group, sender the participant, emoji intact", () => {
    assert.deepEqual(inbound(fixture("evolution/messages-upsert-group-text.json")), [
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
    ]);
  });

  it("messages-upsert-image (fromMe) → a sent image; the pushName is the account's, not the chat's", () => {
    assert.deepEqual(inbound(fixture("evolution/messages-upsert-image.json")), [
      {
        account_phone: "+15557654321",
        chat: { external_id: "15551234567@s.whatsapp.net", is_group: false, phone: "+15551234567" },
        external_id: "3EB0D9E8F7A6B5C4D3E2",
        direction: "sent",
        timestamp: 1759313160,
        type: "image",
        sender: { full_name: "Amnon Haha", phone: "+15557654321" },
      },
    ]);
  });
});

describe("evolution messages.upsert beyond the fixtures", () => {
  it("extendedTextMessage is text (message.extendedTextMessage.text)", () => {
    const body = upsert({
      key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: false, id: "3EB0EXT" },
      pushName: "Jane Roe",
      messageType: "extendedTextMessage",
      message: { extendedTextMessage: { text: "see https://example.com 🙂", contextInfo: {} } },
    });
    const [m] = inbound(body);
    assert.equal(m?.type, "text");
    assert.equal(m?.text, "see https://example.com 🙂");
    assert.equal(m?.external_id, "3EB0EXT");
  });

  it("a text the account sent to a group → sender is the account (phone empty), no recipient", () => {
    const body = upsert({
      key: { remoteJid: "120363041234567890@g.us", fromMe: true, id: "3EB0GRPSENT", participant: "15557654321@s.whatsapp.net" },
      pushName: "Acme Sales",
      messageType: "conversation",
      message: { conversation: "Thanks all" },
    });
    assert.deepEqual(inbound(body), [
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
      upsert({
        key: { remoteJid: "103899771998284@lid", remoteJidAlt: "15551234567@s.whatsapp.net", fromMe: false, id: "3EB0LID" },
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

  it("protocol messages, reactions and status broadcasts are not conversation messages", () => {
    const key = { remoteJid: "15551234567@s.whatsapp.net", fromMe: false, id: "3EB0P" };
    assert.deepEqual(inbound(upsert({ key, messageType: "protocolMessage", message: { protocolMessage: { type: 0 } } })), []);
    assert.deepEqual(inbound(upsert({ key, messageType: "reactionMessage", message: { reactionMessage: { text: "👍" } } })), []);
    assert.deepEqual(
      inbound(upsert({ key: { ...key, remoteJid: "status@broadcast" }, messageType: "conversation", message: { conversation: "story" } })),
      [],
    );
  });

  it("other events and other instances are acknowledged with nothing; MESSAGES_UPSERT is understood", () => {
    assert.deepEqual(inbound({ event: "connection.update", instance: "sales-1", apikey: API_KEY, data: { state: "open" } }), []);
    assert.deepEqual(inbound({ event: "messages.update", instance: "sales-1", apikey: API_KEY, data: { status: "READ" } }), []);
    const raw = JSON.parse(fixture("evolution/messages-upsert-text-direct.json").toString("utf8")) as Record<string, unknown>;
    assert.deepEqual(inbound({ ...raw, instance: "another-instance" }), []);
    assert.equal(inbound({ ...raw, event: "MESSAGES_UPSERT" }).length, 1);
  });

  it("GET is answered 405", () => {
    const outcome = evolutionAdapter.handleInbound(ACCOUNT, { method: "GET", query: {}, headers: {}, rawBody: Buffer.alloc(0) });
    assert.equal(outcome.kind === "reply" ? outcome.status : 0, 405);
  });
});

describe("evolution apikey", () => {
  const raw = JSON.parse(fixture("evolution/messages-upsert-text-direct.json").toString("utf8")) as Record<string, unknown>;

  it("rejects a wrong apikey, on any event", () => {
    assert.throws(() => inbound({ ...raw, apikey: "B6D711FCDE4D4FD5936544120E713977" }), SourceAuthError);
    assert.throws(() => inbound({ event: "connection.update", apikey: "nope", data: {} }), SourceAuthError);
  });

  it("rejects a missing or non-string apikey", () => {
    const { apikey: _omit, ...withoutKey } = raw;
    assert.throws(() => inbound(withoutKey), SourceAuthError);
    assert.throws(() => inbound({ ...raw, apikey: 123 }), SourceAuthError);
  });
});

describe("evolution malformed bodies", () => {
  function unrecognisedOf(body: unknown): string {
    const outcome = evolutionAdapter.handleInbound(ACCOUNT, post(JSON.stringify(body)));
    assert.equal(outcome.kind, "messages");
    return outcome.kind === "messages" ? (outcome.unrecognised ?? []).join(" | ") : "";
  }

  it("refuses a body that is not JSON, and one without the apikey", () => {
    assert.throws(() => inbound("apikey=x"), inputError("body"));
    assert.throws(() => inbound([]), SourceAuthError);
  });

  it("names the missing part of a messages.upsert (as an unrecognised event, not a refusal)", () => {
    const good = { key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: false, id: "X" }, messageType: "conversation", message: { conversation: "a" } };
    assert.match(unrecognisedOf({ apikey: API_KEY, data: good }), /event is required/);
    assert.match(unrecognisedOf({ event: "messages.upsert", apikey: API_KEY }), /data is required/);
    assert.match(unrecognisedOf(upsert({ ...good, key: undefined })), /data\.key is required/);
    assert.match(unrecognisedOf(upsert({ ...good, key: { fromMe: false, id: "X" } })), /data\.key\.remoteJid/);
    assert.match(unrecognisedOf(upsert({ ...good, key: { remoteJid: "1@s.whatsapp.net", fromMe: false } })), /data\.key\.id/);
    assert.match(unrecognisedOf(upsert({ ...good, key: { remoteJid: "1@s.whatsapp.net", id: "X" } })), /data\.key\.fromMe/);
    assert.match(unrecognisedOf(upsert({ ...good, messageType: undefined, message: undefined })), /data\.message/);
    assert.match(unrecognisedOf(upsert({ ...good, messageTimestamp: null })), /data\.messageTimestamp/);
    assert.match(unrecognisedOf(upsert({}, { data: "text" })), /data must be an object/);
  });

  it("a text kind without its text is stored as skipped, not refused", () => {
    const good = { key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: false, id: "X" }, messageType: "conversation", message: {} };
    const [m] = inbound(upsert(good));
    assert.equal(m?.type, "unknown");
  });
});

describe("evolution config", () => {
  it("keeps the known fields", () => {
    assert.deepEqual(evolutionAdapter.validateConfig({ ...CONFIG, base_url: "https://evo.example.com/", webhook: "x" }), {
      ...CONFIG,
      base_url: "https://evo.example.com",
    });
  });

  it("names the missing field", () => {
    assert.throws(() => evolutionAdapter.validateConfig({ base_url: CONFIG.base_url, api_key: API_KEY }), inputError("source_config.instance"));
    assert.throws(() => evolutionAdapter.validateConfig({ base_url: CONFIG.base_url, instance: "i" }), inputError("source_config.api_key"));
    assert.throws(() => evolutionAdapter.validateConfig({ api_key: API_KEY, instance: "i" }), inputError("source_config.base_url"));
  });
});

describe("evolution sendText against a local Evolution API", () => {
  let evo: Receiver;
  before(async () => {
    evo = await Receiver.start();
  });
  after(async () => {
    await evo.close();
  });
  const sender = () => account("evolution", { ...CONFIG, base_url: evo.origin });

  it("POSTs /message/sendText/{instance} with the apikey header and {number, text}; returns key.id", async () => {
    evo.requests.length = 0;
    evo.respond = () => ({
      status: 201,
      body: JSON.stringify({
        key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "3EB0EVOSENT" },
        message: { conversation: "Here it is 📎" },
        messageTimestamp: "1759313600",
        status: "PENDING",
      }),
    });
    const result = await evolutionAdapter.sendText(sender(), { external_id: "15551234567@s.whatsapp.net", is_group: false, phone: "+15551234567" }, "Here it is 📎", gatewayHttp);
    assert.deepEqual(result, { external_id: "3EB0EVOSENT" });
    const [r] = evo.requests;
    assert.equal(r?.method, "POST");
    assert.equal(r?.url, "/message/sendText/sales-1");
    assert.equal(r?.headers.apikey, API_KEY);
    assert.deepEqual(r?.json, { number: "15551234567", text: "Here it is 📎" });
  });

  it("sends to a group by its JID", async () => {
    evo.requests.length = 0;
    evo.respond = () => ({ status: 201, body: JSON.stringify({ key: { remoteJid: "120363041234567890@g.us", fromMe: true, id: "3EB0EVOGRP" } }) });
    const result = await evolutionAdapter.sendText(sender(), { external_id: "120363041234567890@g.us", is_group: true, phone: "" }, "hello group", gatewayHttp);
    assert.equal(result.external_id, "3EB0EVOGRP");
    assert.deepEqual(evo.requests[0]?.json, { number: "120363041234567890@g.us", text: "hello group" });
  });

  it("a 500 from Evolution throws with the status, never the gateway's body; a 2xx without key.id throws", async () => {
    evo.respond = () => ({ status: 500, body: JSON.stringify({ status: 500, error: "Internal Server Error", response: { message: "Connection Closed" } }) });
    await assert.rejects(
      evolutionAdapter.sendText(sender(), { external_id: "15551234567@s.whatsapp.net", is_group: false, phone: "+15551234567" }, "x", gatewayHttp),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /Evolution API answered HTTP 500/);
        assert.doesNotMatch(err.message, /Connection Closed/);
        return true;
      },
    );
    evo.respond = () => ({ status: 201, body: JSON.stringify({ ok: true }) });
    await assert.rejects(
      evolutionAdapter.sendText(sender(), { external_id: "15551234567@s.whatsapp.net", is_group: false, phone: "+15551234567" }, "x", gatewayHttp),
      /key\.id/,
    );
  });
});
