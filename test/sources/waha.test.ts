import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { IngestMessage } from "../../src/ingest/types.js";
import { SourceAuthError, SourceInputError, type InboundOutcome, type InboundRequest } from "../../src/sources/types.js";
import { wahaAdapter, wahaMessageId } from "../../src/sources/waha.js";
import { account, closedPort, fixture, post, gatewayHttp } from "./helpers.js";
import { Receiver } from "../helpers/receiver.js";

const CONFIG = { base_url: "http://127.0.0.1:3000", api_key: "waha-key-1", session: "default" };
const ACCOUNT = account("waha", CONFIG);
const HMAC_KEY = "waha-hmac-secret";
const SIGNED_ACCOUNT = account("waha", { ...CONFIG, hmac_key: HMAC_KEY });

function messagesOf(outcome: InboundOutcome): IngestMessage[] {
  assert.equal(outcome.kind, "messages");
  return outcome.kind === "messages" ? outcome.messages : [];
}

function inbound(body: Buffer | string | object): IngestMessage[] {
  return messagesOf(wahaAdapter.handleInbound(ACCOUNT, post(body)));
}

function hmac(raw: Buffer, key = HMAC_KEY): string {
  return createHmac("sha512", key).update(raw).digest("hex");
}

function inputError(field: string) {
  return (err: unknown) => {
    assert.ok(err instanceof SourceInputError, `expected SourceInputError, got ${String(err)}`);
    assert.equal(err.field, field);
    return true;
  };
}

/** A message.any event as WAHA sends it, with payload fields overridden. */
function messageAny(payload: Record<string, unknown>, extra: Record<string, unknown> = {}): object {
  return {
    event: "message.any",
    session: "default",
    engine: "NOWEB",
    me: { id: "15557654321@c.us", pushName: "Acme Sales" },
    payload: { timestamp: 1710000300, hasMedia: false, ack: 1, _data: {}, ...payload },
    ...extra,
  };
}

describe("waha fixtures", () => {
  it("message-any-received-direct → received text, contact named by notifyName, account side named after the owner (not me.pushName)", () => {
    assert.deepEqual(inbound(fixture("waha/message-any-received-direct.json")), [
      {
        account_phone: "+15557654321",
        chat: { external_id: "15551234567@c.us", full_name: "Jane Roe", name_source: "push", is_group: false, phone: "+15551234567" },
        external_id: "false_15551234567@c.us_3EB0C767D26A1D2B3C4E",
        direction: "received",
        timestamp: 1710000000,
        type: "text",
        text: "Hello, is the offer still valid?",
        sender: { full_name: "Jane Roe", phone: "+15551234567" },
        recipient: { full_name: "Amnon Haha", phone: "+15557654321" },
      },
    ]);
  });

  it("message-any-sent-direct → sent text in the chat of `to`, emoji intact", () => {
    assert.deepEqual(inbound(fixture("waha/message-any-sent-direct.json")), [
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
    ]);
  });

  it("message-any-group-media → a received non-text in the group (document from its mimetype)", () => {
    assert.deepEqual(inbound(fixture("waha/message-any-group-media.json")), [
      {
        account_phone: "+15557654321",
        chat: { external_id: "120363041234567890@g.us", is_group: true, phone: "" },
        external_id: "false_120363041234567890@g.us_3EB0B1C2D3E4F5A6B7C8_15551234567@c.us",
        direction: "received",
        timestamp: 1710000120,
        type: "document",
        sender: { full_name: "+15551234567", phone: "" },
      },
    ]);
  });
});

describe("waha message.any beyond the fixtures", () => {
  it("a text the account sent to a group (WEBJS shape: from me, to the group)", () => {
    const body = messageAny({
      id: "true_120363041234567890@g.us_3EB0AA_15557654321@c.us",
      from: "15557654321@c.us",
      to: "120363041234567890@g.us",
      participant: "15557654321@c.us",
      fromMe: true,
      body: "Meeting at 10 ✅",
    });
    assert.deepEqual(inbound(body), [
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
      { id: "true_120363041234567890@g.us_3EB0AB", from: "120363041234567890@g.us", to: "120363041234567890@g.us", fromMe: true, body: "ok" },
      { me: undefined },
    );
    const [m] = inbound(body);
    assert.equal(m?.chat.external_id, "120363041234567890@g.us");
    assert.equal(m?.direction, "sent");
    assert.deepEqual(m?.sender, { full_name: "Amnon Haha", phone: "" });
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
    const [m] = inbound(body);
    assert.deepEqual(m?.sender, { full_name: "Jane Roe", phone: "" });
    assert.equal(m?.recipient, undefined);
    assert.equal(m?.chat.full_name, undefined, "a participant's name is not the group's");
  });

  it("@s.whatsapp.net chats, device suffixes and image media", () => {
    const [m] = inbound(
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

  it("status broadcasts are not chats; other events and other sessions are acknowledged with nothing", () => {
    assert.deepEqual(
      inbound(messageAny({ id: "false_status@broadcast_1", from: "status@broadcast", to: "15557654321@c.us", fromMe: false, body: "story" })),
      [],
    );
    assert.deepEqual(inbound({ event: "session.status", session: "default", payload: { status: "WORKING" } }), []);
    assert.deepEqual(inbound({ event: "message.ack", session: "default", payload: { id: "x", ack: 3 } }), []);
    assert.deepEqual(inbound(messageAny({ id: "x", from: "15551234567@c.us", fromMe: false, body: "hi" }, { session: "other" })), []);
  });

  it("GET is answered 405", () => {
    const outcome = wahaAdapter.handleInbound(ACCOUNT, { method: "GET", query: {}, headers: {}, rawBody: Buffer.alloc(0) });
    assert.equal(outcome.kind, "reply");
    assert.equal(outcome.kind === "reply" ? outcome.status : 0, 405);
  });
});

describe("waha HMAC (when the account has an hmac_key)", () => {
  const raw = fixture("waha/message-any-received-direct.json");
  const signed = (headers: InboundRequest["headers"]) => wahaAdapter.handleInbound(SIGNED_ACCOUNT, post(raw, headers));

  it("accepts the hex HMAC-SHA512 of the raw body", () => {
    assert.equal(messagesOf(signed({ "x-webhook-hmac": hmac(raw), "x-webhook-hmac-algorithm": "sha512" })).length, 1);
    assert.equal(messagesOf(signed({ "X-Webhook-Hmac": hmac(raw), "X-Webhook-Hmac-Algorithm": "sha512" })).length, 1);
  });

  it("rejects a missing or wrong HMAC, and another algorithm", () => {
    assert.throws(() => signed({}), SourceAuthError);
    assert.throws(() => signed({ "x-webhook-hmac": hmac(raw, "other-key"), "x-webhook-hmac-algorithm": "sha512" }), SourceAuthError);
    const sha256 = createHmac("sha256", HMAC_KEY).update(raw).digest("hex");
    assert.throws(() => signed({ "x-webhook-hmac": sha256, "x-webhook-hmac-algorithm": "sha256" }), SourceAuthError);
    const tampered = Buffer.from(raw.toString("utf8").replace("still valid", "still VALID"), "utf8");
    assert.throws(
      () => wahaAdapter.handleInbound(SIGNED_ACCOUNT, post(tampered, { "x-webhook-hmac": hmac(raw), "x-webhook-hmac-algorithm": "sha512" })),
      SourceAuthError,
    );
  });

  it("without an hmac_key, unsigned requests are accepted (the URL token guards them)", () => {
    assert.equal(inbound(raw).length, 1);
  });
});

describe("waha malformed bodies", () => {
  function unrecognisedOf(body: Buffer | string | object): string[] {
    const outcome = wahaAdapter.handleInbound(ACCOUNT, post(body));
    assert.equal(outcome.kind, "messages");
    return outcome.kind === "messages" ? (outcome.messages.length === 0 ? (outcome.unrecognised ?? []) : ["(mapped)"]) : [];
  }

  it("refuses only a body that is not JSON at all", () => {
    assert.throws(() => inbound("<html>"), inputError("body"));
    assert.deepEqual(unrecognisedOf([{ event: "message.any" }]), ["The body is JSON but not an object."]);
  });

  it("an authenticated body it cannot map is reported as unrecognised, naming the missing part", () => {
    assert.match(unrecognisedOf({ session: "default" }).join(), /event/);
    assert.match(unrecognisedOf({ event: "message.any", session: "default" }).join(), /payload/);
    assert.match(unrecognisedOf(messageAny({ from: "15551234567@c.us", fromMe: false, body: "x" })).join(), /payload\.id/);
    assert.match(unrecognisedOf(messageAny({ id: "x", from: "15551234567@c.us", body: "x" })).join(), /payload\.fromMe/);
    assert.match(unrecognisedOf(messageAny({ id: "x", fromMe: false, body: "x" })).join(), /payload\.from/);
    assert.match(unrecognisedOf(messageAny({ id: "x", from: "15551234567@c.us", fromMe: false, body: "x", timestamp: "soon" })).join(), /payload\.timestamp/);
  });

  it("NOWEB/GOWS: a message the account sent has `from` = the chat and no `to`", () => {
    const [m] = inbound(messageAny({ id: "true_15551234567@c.us_3EB0X", from: "15551234567@c.us", fromMe: true, body: "x" }));
    assert.equal(m?.direction, "sent");
    assert.equal(m?.chat.external_id, "15551234567@c.us");
  });
});

describe("waha config", () => {
  it("keeps the known fields and the optional hmac_key", () => {
    assert.deepEqual(wahaAdapter.validateConfig({ ...CONFIG, base_url: "http://waha:3000/" }), { ...CONFIG, base_url: "http://waha:3000" });
    assert.deepEqual(wahaAdapter.validateConfig({ ...CONFIG, hmac_key: "k" }), { ...CONFIG, hmac_key: "k" });
  });

  it("names the missing or bad field", () => {
    assert.throws(() => wahaAdapter.validateConfig({ base_url: CONFIG.base_url, api_key: "k" }), inputError("source_config.session"));
    assert.throws(() => wahaAdapter.validateConfig({ ...CONFIG, base_url: "not a url" }), inputError("source_config.base_url"));
    assert.throws(() => wahaAdapter.validateConfig({ ...CONFIG, hmac_key: 5 }), inputError("source_config.hmac_key"));
    assert.throws(() => wahaAdapter.validateConfig(null), inputError("source_config"));
  });
});

describe("waha message ids from sendText answers", () => {
  it("reads a WAHA id, a WEBJS id._serialized and a NOWEB key the way WAHA serializes it", () => {
    assert.equal(wahaMessageId({ id: "true_15551234567@c.us_AAA" }), "true_15551234567@c.us_AAA");
    assert.equal(wahaMessageId({ id: { fromMe: true, remote: "15551234567@c.us", id: "BBB", _serialized: "true_15551234567@c.us_BBB" } }), "true_15551234567@c.us_BBB");
    assert.equal(wahaMessageId({ key: { remoteJid: "15551234567@s.whatsapp.net", fromMe: true, id: "CCC" } }), "true_15551234567@c.us_CCC");
    assert.equal(
      wahaMessageId({ key: { remoteJid: "120363041234567890@g.us", fromMe: true, id: "DDD", participant: "15557654321@s.whatsapp.net" } }),
      "true_120363041234567890@g.us_DDD_15557654321@c.us",
    );
    assert.equal(wahaMessageId({ key: { id: "EEE" } }), "EEE");
    assert.equal(wahaMessageId({ status: "ok" }), undefined);
    assert.equal(wahaMessageId("nope"), undefined);
  });
});

describe("waha sendText against a local WAHA", () => {
  let waha: Receiver;
  before(async () => {
    waha = await Receiver.start();
  });
  after(async () => {
    await waha.close();
  });
  const sender = () => account("waha", { ...CONFIG, base_url: waha.origin });

  it("POSTs /api/sendText with X-Api-Key and {session, chatId, text}; returns the message id", async () => {
    waha.requests.length = 0;
    waha.respond = () => ({
      status: 201,
      body: JSON.stringify({ id: "true_15551234567@c.us_3EB0SENT", timestamp: 1710000400, fromMe: true, body: "Hi Jane 👋" }),
    });
    const result = await wahaAdapter.sendText(sender(), { external_id: "15551234567@c.us", is_group: false, phone: "+15551234567" }, "Hi Jane 👋", gatewayHttp);
    assert.deepEqual(result, { external_id: "true_15551234567@c.us_3EB0SENT" });
    const [r] = waha.requests;
    assert.equal(r?.method, "POST");
    assert.equal(r?.url, "/api/sendText");
    assert.equal(r?.headers["x-api-key"], "waha-key-1");
    assert.deepEqual(r?.json, { session: "default", chatId: "15551234567@c.us", text: "Hi Jane 👋" });
  });

  it("addresses groups by their id and @s.whatsapp.net chats in @c.us form; a NOWEB answer gives the webhook id", async () => {
    waha.requests.length = 0;
    waha.respond = (req) => ({
      status: 201,
      body: JSON.stringify({
        key: { remoteJid: String((req.json as { chatId: string }).chatId).replace("@c.us", "@s.whatsapp.net"), fromMe: true, id: "3EB0NOWEB" },
        message: { extendedTextMessage: { text: "x" } },
        messageTimestamp: "1710000500",
      }),
    });
    const group = await wahaAdapter.sendText(sender(), { external_id: "120363041234567890@g.us", is_group: true, phone: "" }, "to the group", gatewayHttp);
    assert.equal(group.external_id, "true_120363041234567890@g.us_3EB0NOWEB");
    const direct = await wahaAdapter.sendText(sender(), { external_id: "15551234567@s.whatsapp.net", is_group: false, phone: "+15551234567" }, "direct", gatewayHttp);
    assert.equal(direct.external_id, "true_15551234567@c.us_3EB0NOWEB");
    assert.deepEqual(
      waha.requests.map((r) => (r.json as { chatId: string }).chatId),
      ["120363041234567890@g.us", "15551234567@c.us"],
    );
  });

  it("a 500 from WAHA throws with the status, never the gateway's body", async () => {
    waha.respond = () => ({ status: 500, body: JSON.stringify({ statusCode: 500, message: "Session default is not working" }) });
    await assert.rejects(
      wahaAdapter.sendText(sender(), { external_id: "15551234567@c.us", is_group: false, phone: "+15551234567" }, "x", gatewayHttp),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /WAHA answered HTTP 500/);
        assert.doesNotMatch(err.message, /Session default is not working/);
        return true;
      },
    );
  });

  it("an unreachable WAHA throws a clear error", async () => {
    const port = await closedPort();
    await assert.rejects(
      wahaAdapter.sendText(account("waha", { ...CONFIG, base_url: `http://127.0.0.1:${port}` }), { external_id: "1@c.us", is_group: false, phone: "+1" }, "x", gatewayHttp),
      /WAHA request to http:\/\/127\.0\.0\.1:\d+\/api\/sendText failed/,
    );
  });
});
