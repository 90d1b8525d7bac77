import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { IngestMessage } from "../../src/ingest/types.js";
import { cloudApiAdapter } from "../../src/sources/cloud-api.js";
import { SourceAuthError, SourceInputError, type InboundOutcome, type InboundRequest } from "../../src/sources/types.js";
import { account, fixture, post, gatewayHttp } from "./helpers.js";
import { Receiver } from "../helpers/receiver.js";

const CONFIG = {
  phone_number_id: "106540352242922",
  app_secret: "app-secret-123",
  verify_token: "verify-me-please",
  access_token: "EAAG-access-token",
};
const ACCOUNT = account("cloud_api", CONFIG);

function sign(raw: Buffer, secret = CONFIG.app_secret): string {
  return `sha256=${createHmac("sha256", secret).update(raw).digest("hex")}`;
}

function signedPost(body: Buffer | string | object): InboundRequest {
  const req = post(body);
  req.headers["x-hub-signature-256"] = sign(req.rawBody);
  return req;
}

function messagesOf(outcome: InboundOutcome): IngestMessage[] {
  assert.equal(outcome.kind, "messages");
  return outcome.kind === "messages" ? outcome.messages : [];
}

function inbound(body: Buffer | string | object): IngestMessage[] {
  return messagesOf(cloudApiAdapter.handleInbound(ACCOUNT, signedPost(body)));
}

/** A `messages` notification around the given value fields. */
function notification(value: Record<string, unknown>, field = "messages"): object {
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            field,
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550783881", phone_number_id: CONFIG.phone_number_id },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

function inputError(field: string) {
  return (err: unknown) => {
    assert.ok(err instanceof SourceInputError, `expected SourceInputError, got ${String(err)}`);
    assert.equal(err.field, field);
    assert.match(err.message, new RegExp(field.replace(/[.[\]]/g, "\\$&")));
    return true;
  };
}

describe("cloud_api fixtures", () => {
  it("text-received → a received text with the contact's profile name and emoji intact", () => {
    assert.deepEqual(inbound(fixture("cloud-api/text-received.json")), [
      {
        account_phone: "+15557654321",
        chat: { external_id: "16505551234", full_name: "Sheena Nelson", name_source: "push", is_group: false, phone: "+16505551234" },
        external_id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
        direction: "received",
        timestamp: 1749416383,
        type: "text",
        text: "Does it come in another color? 😊",
        sender: { full_name: "Sheena Nelson", phone: "+16505551234" },
        recipient: { full_name: "Amnon Haha", phone: "+15557654321" },
      },
    ]);
  });

  it("image-received → type image kept (ingest skips it), no text", () => {
    assert.deepEqual(inbound(fixture("cloud-api/image-received.json")), [
      {
        account_phone: "+15557654321",
        chat: { external_id: "16505551234", full_name: "Sheena Nelson", name_source: "push", is_group: false, phone: "+16505551234" },
        external_id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUI0RTk2QjYxNkQxNUNGRkIwAA==",
        direction: "received",
        timestamp: 1749416400,
        type: "image",
        sender: { full_name: "Sheena Nelson", phone: "+16505551234" },
        recipient: { full_name: "Amnon Haha", phone: "+15557654321" },
      },
    ]);
  });

  it("echo-sent-from-app → a sent text to `to`; the contact's name is left to ingest", () => {
    assert.deepEqual(inbound(fixture("cloud-api/echo-sent-from-app.json")), [
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
    ]);
  });

  it("status-delivered → nothing (statuses are ignored)", () => {
    assert.deepEqual(inbound(fixture("cloud-api/status-delivered.json")), []);
  });
});

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
    assert.deepEqual(inbound(body), [
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
      notification({
        contacts: [{ profile: { name: "Sheena Nelson" }, wa_id: "16505551234" }],
        messages: [{ from: "+16505551234", id: "wamid.PLUS", timestamp: 1749416383, type: "text", text: { body: "hi" } }],
      }),
    );
    assert.equal(m?.chat.external_id, "16505551234");
    assert.equal(m?.chat.phone, "+16505551234");
    assert.equal(m?.chat.full_name, "Sheena Nelson");
  });

  it("ignores changes of another phone_number_id, keeps the account's own in the same body", () => {
    const body = notification({
      messages: [{ from: "16505551234", id: "wamid.MINE", timestamp: "1749416383", type: "text", text: { body: "mine" } }],
    }) as { entry: Array<{ changes: unknown[] }> };
    body.entry.push({
      changes: [
        {
          field: "messages",
          value: {
            metadata: { display_phone_number: "15550000000", phone_number_id: "999999999999999" },
            messages: [{ from: "16505559999", id: "wamid.OTHER", timestamp: "1749416383", type: "text", text: { body: "other" } }],
          },
        },
      ],
    });
    assert.deepEqual(
      inbound(body).map((m) => m.external_id),
      ["wamid.MINE"],
    );
  });

  it("unknown change fields and non-WhatsApp objects are acknowledged with no messages", () => {
    assert.deepEqual(inbound(notification({ messages: [] }, "account_update")), []);
    assert.deepEqual(inbound({ object: "page", entry: [] }), []);
  });

  it("a non-text type with an unusual name keeps it (ingest stores it as skipped)", () => {
    const [m] = inbound(
      notification({
        messages: [{ from: "16505551234", id: "wamid.LOC", timestamp: "1749416383", type: "location", location: { latitude: 1, longitude: 2 } }],
      }),
    );
    assert.equal(m?.type, "location");
    assert.equal(m?.text, undefined);
  });
});

describe("cloud_api verification handshake (GET)", () => {
  const get = (query: Record<string, string | undefined>): InboundRequest => ({ method: "GET", query, headers: {}, rawBody: Buffer.alloc(0) });

  it("answers hub.challenge as text/plain when the verify token matches", () => {
    const outcome = cloudApiAdapter.handleInbound(
      ACCOUNT,
      get({ "hub.mode": "subscribe", "hub.verify_token": CONFIG.verify_token, "hub.challenge": "1158201444" }),
    );
    assert.deepEqual(outcome, { kind: "reply", status: 200, contentType: "text/plain; charset=utf-8", body: "1158201444" });
  });

  it("rejects a wrong or missing verify token as an auth failure", () => {
    assert.throws(
      () => cloudApiAdapter.handleInbound(ACCOUNT, get({ "hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1" })),
      SourceAuthError,
    );
    assert.throws(() => cloudApiAdapter.handleInbound(ACCOUNT, get({ "hub.mode": "subscribe", "hub.challenge": "1" })), SourceAuthError);
  });

  it("rejects a missing or wrong hub.mode, and a missing challenge, as input errors", () => {
    assert.throws(() => cloudApiAdapter.handleInbound(ACCOUNT, get({})), inputError("hub.mode"));
    assert.throws(
      () => cloudApiAdapter.handleInbound(ACCOUNT, get({ "hub.mode": "unsubscribe", "hub.verify_token": CONFIG.verify_token, "hub.challenge": "1" })),
      inputError("hub.mode"),
    );
    assert.throws(
      () => cloudApiAdapter.handleInbound(ACCOUNT, get({ "hub.mode": "subscribe", "hub.verify_token": CONFIG.verify_token })),
      inputError("hub.challenge"),
    );
  });
});

describe("cloud_api X-Hub-Signature-256", () => {
  const raw = fixture("cloud-api/text-received.json");

  it("accepts the header under any case and as a repeated header", () => {
    assert.equal(messagesOf(cloudApiAdapter.handleInbound(ACCOUNT, post(raw, { "X-Hub-Signature-256": sign(raw) }))).length, 1);
    assert.equal(messagesOf(cloudApiAdapter.handleInbound(ACCOUNT, post(raw, { "x-hub-signature-256": [sign(raw)] }))).length, 1);
  });

  it("rejects a missing signature", () => {
    assert.throws(() => cloudApiAdapter.handleInbound(ACCOUNT, post(raw)), (err: unknown) => {
      assert.ok(err instanceof SourceAuthError);
      assert.match(err.message, /missing/);
      return true;
    });
  });

  it("rejects a signature made with another secret, a tampered body, and a malformed header", () => {
    assert.throws(() => cloudApiAdapter.handleInbound(ACCOUNT, post(raw, { "x-hub-signature-256": sign(raw, "wrong-secret") })), SourceAuthError);
    const tampered = Buffer.from(raw.toString("utf8").replace("another color", "another colour"), "utf8");
    assert.notDeepEqual(tampered, raw);
    assert.throws(() => cloudApiAdapter.handleInbound(ACCOUNT, post(tampered, { "x-hub-signature-256": sign(raw) })), SourceAuthError);
    const bare = sign(raw).slice("sha256=".length);
    assert.throws(() => cloudApiAdapter.handleInbound(ACCOUNT, post(raw, { "x-hub-signature-256": bare })), SourceAuthError);
  });

  it("checks the signature before parsing: an unsigned garbage body is an auth failure, not an input error", () => {
    assert.throws(() => cloudApiAdapter.handleInbound(ACCOUNT, post("not json")), SourceAuthError);
  });
});

describe("cloud_api malformed bodies", () => {
  function unrecognisedOf(body: unknown): string {
    const outcome = cloudApiAdapter.handleInbound(ACCOUNT, signedPost(JSON.stringify(body)));
    assert.equal(outcome.kind, "messages");
    return outcome.kind === "messages" ? (outcome.unrecognised ?? []).join(" | ") : "";
  }

  it("refuses only a body that is not JSON at all", () => {
    assert.throws(() => inbound("{not json"), inputError("body"));
    assert.match(unrecognisedOf([1, 2]), /not an object/);
    assert.match(unrecognisedOf(null), /not an object/);
  });

  it("names the missing part of a known notification (as an unrecognised event, not a refusal)", () => {
    assert.match(unrecognisedOf({ object: "whatsapp_business_account" }), /^entry is required/);
    assert.match(unrecognisedOf({ object: "whatsapp_business_account", entry: [{}] }), /entry\[0\]\.changes is required/);
    assert.match(unrecognisedOf({ object: "whatsapp_business_account", entry: ["x"] }), /entry\[0\] must be an object/);
  });

  it("names the missing field of a message; the other messages of the notification are kept", () => {
    const base = { from: "16505551234", id: "wamid.X", timestamp: "1749416383", type: "text", text: { body: "hi" } };
    const good = { ...base, id: "wamid.GOOD" };
    const without = (key: string) => notification({ messages: [Object.fromEntries(Object.entries(base).filter(([k]) => k !== key)), good] });
    const path = "entry[0].changes[0].value.messages[0]";
    for (const key of ["id", "from", "type", "timestamp"]) {
      const outcome = cloudApiAdapter.handleInbound(ACCOUNT, signedPost(without(key)));
      assert.equal(outcome.kind, "messages");
      if (outcome.kind !== "messages") continue;
      assert.deepEqual(outcome.messages.map((m) => m.external_id), ["wamid.GOOD"], key);
      assert.match((outcome.unrecognised ?? []).join(), new RegExp(`${path.replace(/[[\].]/g, "\\$&")}\\.${key}`), key);
    }
    assert.match(unrecognisedOf(notification({ messages: [{ ...base, text: {} }] })), /messages\[0\]\.text\.body/);
    assert.match(unrecognisedOf(notification({ messages: [{ ...base, timestamp: "yesterday" }] })), /messages\[0\]\.timestamp/);
    assert.match(unrecognisedOf(notification({ messages: "nope" })), /value\.messages must be an array/);
  });
});

describe("cloud_api config", () => {
  it("keeps the known fields, trims a trailing slash from graph_base_url", () => {
    assert.deepEqual(cloudApiAdapter.validateConfig({ ...CONFIG, graph_base_url: "http://127.0.0.1:9999/", extra: 1 }), {
      ...CONFIG,
      graph_base_url: "http://127.0.0.1:9999",
    });
  });

  it("names each missing field", () => {
    for (const key of ["phone_number_id", "app_secret", "verify_token", "access_token"]) {
      const config: Record<string, unknown> = { ...CONFIG };
      delete config[key];
      assert.throws(() => cloudApiAdapter.validateConfig(config), (err: unknown) => {
        assert.ok(err instanceof SourceInputError);
        assert.equal(err.field, `source_config.${key}`);
        assert.equal(err.message, `source_config.${key} is required.`);
        return true;
      });
    }
  });

  it("rejects a non-object config, a non-string field and a bad URL", () => {
    assert.throws(() => cloudApiAdapter.validateConfig(undefined), inputError("source_config"));
    assert.throws(() => cloudApiAdapter.validateConfig("x"), inputError("source_config"));
    assert.throws(() => cloudApiAdapter.validateConfig({ ...CONFIG, app_secret: 42 }), inputError("source_config.app_secret"));
    assert.throws(() => cloudApiAdapter.validateConfig({ ...CONFIG, graph_base_url: "ftp://x" }), inputError("source_config.graph_base_url"));
  });

  it("an account whose stored config is broken fails as a server error, not an input error", () => {
    const broken = account("cloud_api", { phone_number_id: "1" });
    assert.throws(() => cloudApiAdapter.handleInbound(broken, signedPost({})), (err: unknown) => {
      assert.ok(err instanceof Error && !(err instanceof SourceInputError));
      assert.match(err.message, /acc_1.*source_config/);
      return true;
    });
  });
});

describe("cloud_api sendText against a local Graph API", () => {
  let graph: Receiver;
  before(async () => {
    graph = await Receiver.start();
  });
  after(async () => {
    await graph.close();
  });
  const sender = () => account("cloud_api", { ...CONFIG, graph_base_url: graph.origin });

  it("POSTs /v21.0/{phone_number_id}/messages with the bearer token and returns messages[0].id", async () => {
    graph.requests.length = 0;
    graph.respond = () => ({
      status: 200,
      body: JSON.stringify({ messaging_product: "whatsapp", contacts: [{ input: "16505551234", wa_id: "16505551234" }], messages: [{ id: "wamid.SENT1" }] }),
    });
    const result = await cloudApiAdapter.sendText(sender(), { external_id: "16505551234", is_group: false, phone: "+16505551234" }, "Sure! 👍", gatewayHttp);
    assert.deepEqual(result, { external_id: "wamid.SENT1" });
    assert.equal(graph.requests.length, 1);
    const [r] = graph.requests;
    assert.equal(r?.method, "POST");
    assert.equal(r?.url, "/v21.0/106540352242922/messages");
    assert.equal(r?.headers.authorization, "Bearer EAAG-access-token");
    assert.match(String(r?.headers["content-type"]), /application\/json/);
    assert.deepEqual(r?.json, {
      messaging_product: "whatsapp",
      recipient_type: "individual",
      to: "16505551234",
      type: "text",
      text: { body: "Sure! 👍" },
    });
  });

  it("sends to a group with recipient_type group and the group id", async () => {
    graph.requests.length = 0;
    graph.respond = () => ({ status: 200, body: JSON.stringify({ messages: [{ id: "wamid.GROUPSENT" }] }) });
    const result = await cloudApiAdapter.sendText(sender(), { external_id: "Y2FwaV9ncm91cDox", is_group: true, phone: "" }, "Hello group", gatewayHttp);
    assert.deepEqual(result, { external_id: "wamid.GROUPSENT" });
    assert.deepEqual(graph.requests[0]?.json, {
      messaging_product: "whatsapp",
      recipient_type: "group",
      to: "Y2FwaV9ncm91cDox",
      type: "text",
      text: { body: "Hello group" },
    });
  });

  it("a 500 from the Graph API throws with the status, never the gateway's body", async () => {
    graph.respond = () => ({ status: 500, body: JSON.stringify({ error: { message: "Service temporarily unavailable", code: 2 } }) });
    await assert.rejects(
      cloudApiAdapter.sendText(sender(), { external_id: "16505551234", is_group: false, phone: "+16505551234" }, "x", gatewayHttp),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /500/);
        assert.doesNotMatch(err.message, /Service temporarily unavailable/);
        return true;
      },
    );
  });

  it("a 2xx answer without a message id throws", async () => {
    graph.respond = () => ({ status: 200, body: "{}" });
    await assert.rejects(
      cloudApiAdapter.sendText(sender(), { external_id: "16505551234", is_group: false, phone: "+16505551234" }, "x", gatewayHttp),
      /messages\[0\]\.id/,
    );
  });
});
