/**
 * SSRF through gateways: an account's base_url / graph_base_url pointing at loopback, a
 * private or a metadata address. Sending a message goes through the same target guard as
 * webhooks (THREADLINE_ALLOW_PRIVATE_TARGETS, a CIDR list to allow a gateway on your own
 * network), and a gateway's error names the status, never the gateway's body.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DATABASES, TestServer, createWorkspace } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { message } from "../helpers/security.js";

let phoneSeq = 0;

/** A gateway account of the workspace whose sendText goes to `config`'s URL, and a chat of it. */
async function gatewayChat(server: TestServer, key: string, source: string, config: Record<string, unknown>) {
  const phone = `+9725000001${String(++phoneSeq).padStart(2, "0")}`;
  const acc = await server.api("POST", "/api/v1/accounts", {
    token: key,
    body: { phone, owner_email: "owner@acme.example", source, source_config: config },
  });
  assert.equal(acc.status, 201, acc.text);
  const contact = `+1555000${String(phoneSeq).padStart(4, "0")}`;
  const r = await server.api("POST", "/api/v1/messages", {
    token: key,
    body: {
      messages: [
        message({
          account_phone: phone,
          chat: { external_id: `${contact.slice(1)}@s.whatsapp.net`, full_name: "Contact", phone: contact },
        }),
      ],
    },
  });
  assert.equal(r.status, 202, r.text);
  const chats = await server.api("GET", `/api/v1/chats?q=${encodeURIComponent(contact)}`, { token: key });
  return chats.json.items[0].chat_id as string;
}

const waha = (base: string) => ["waha", { base_url: base, api_key: "waha-key", session: "default" }] as const;
const evolution = (base: string) => ["evolution", { base_url: base, api_key: "evo-key", instance: "sales" }] as const;
const cloud = (base: string) =>
  [
    "cloud_api",
    { phone_number_id: "1065", app_secret: "s", verify_token: "v", access_token: "t", graph_base_url: base },
  ] as const;

for (const database of DATABASES) {
  describe(`SSRF through gateways, private targets blocked (${database})`, () => {
    let server: TestServer;
    let gateway: Receiver;
    let key: string;
    before(async () => {
      [server, gateway] = await Promise.all([
        TestServer.start({ database, env: { THREADLINE_ALLOW_PRIVATE_TARGETS: undefined } }),
        Receiver.start(),
      ]);
      key = (await createWorkspace(server, { owner: { full_name: "Owner", email: "owner@acme.example" } })).api_key;
      // Were the guard missing, this stand-in would take every message.
      gateway.respond = () => ({
        status: 200,
        body: JSON.stringify({ id: "true_1@c.us_X", key: { id: "X" }, messages: [{ id: "wamid.X" }] }),
        headers: { "content-type": "application/json" },
      });
    });
    after(async () => {
      await Promise.all([server?.stop(), gateway?.close()]);
    });

    it("loopback, IPv6 loopback, mapped and decimal forms, a name that resolves to loopback, metadata: refused, nothing sent, nothing stored", async () => {
      const port = new URL(gateway.url).port;
      const targets = [
        [...waha(`http://127.0.0.1:${port}`), /loopback/],
        [...evolution(`http://localhost:${port}`), /loopback/],
        [...waha(`http://[::1]:${port}`), /loopback/],
        [...waha(`http://[::ffff:127.0.0.1]:${port}`), /loopback/],
        [...evolution(`http://2130706433:${port}`), /loopback/],
        [...cloud("http://169.254.169.254"), /metadata/],
        [...cloud("http://[fd00:ec2::254]"), /metadata/],
        [...waha("http://10.0.0.1:3000"), /private/],
      ] as const;
      for (const [source, config, kind] of targets) {
        const chatId = await gatewayChat(server, key, source, config);
        const r = await server.api("POST", `/api/v1/chats/${chatId}/messages`, { token: key, body: { text: "hello" } });
        assert.equal(r.status, 502, `${JSON.stringify(config)}: ${r.text}`);
        assert.equal(r.json.error.code, "SOURCE_UNAVAILABLE");
        assert.match(r.json.error.message, kind, JSON.stringify(config));
        assert.match(r.json.error.message, /THREADLINE_ALLOW_PRIVATE_TARGETS/);
        const msgs = await server.api("GET", `/api/v1/chats/${chatId}/messages`, { token: key });
        assert.equal(msgs.json.items.length, 1, "the refused message was not stored");
      }
      assert.equal(gateway.requests.length, 0, "nothing reached the loopback gateway");
    });
  });

  describe(`gateways on your own network, allowed by CIDR (${database})`, () => {
    let server: TestServer;
    let gateway: Receiver;
    let key: string;
    before(async () => {
      [server, gateway] = await Promise.all([
        TestServer.start({ database, env: { THREADLINE_ALLOW_PRIVATE_TARGETS: "127.0.0.0/8" } }),
        Receiver.start(),
      ]);
      key = (await createWorkspace(server, { owner: { full_name: "Owner", email: "owner@acme.example" } })).api_key;
    });
    after(async () => {
      await Promise.all([server?.stop(), gateway?.close()]);
    });
    const base = () => new URL(gateway.url).origin;

    it("a gateway in the listed CIDR is reached; addresses outside it stay blocked", async () => {
      gateway.respond = () => ({
        status: 201,
        body: JSON.stringify({ id: "true_15550000001@c.us_SENT" }),
        headers: { "content-type": "application/json" },
      });
      const ok = await server.api("POST", `/api/v1/chats/${await gatewayChat(server, key, ...waha(base()))}/messages`, {
        token: key,
        body: { text: "hello" },
      });
      assert.equal(ok.status, 201, ok.text);
      assert.equal(gateway.requests.length, 1);
      const meta = await server.api(
        "POST",
        `/api/v1/chats/${await gatewayChat(server, key, ...cloud("http://169.254.169.254"))}/messages`,
        { token: key, body: { text: "x" } },
      );
      assert.equal(meta.status, 502);
      assert.match(meta.json.error.message, /metadata/);
    });

    it("a gateway's error names the status and never echoes its body (5xx, non-JSON 2xx, a redirect that is not followed)", async () => {
      const chatId = await gatewayChat(server, key, ...evolution(base()));
      const answers = [
        { answer: { status: 500, body: "INTERNAL-SECRET root:x:0:0 stack trace" }, status: /HTTP 500/ },
        { answer: { status: 200, body: "<html>INTERNAL-SECRET admin panel</html>" }, status: /HTTP 200.*not JSON/ },
        {
          answer: {
            status: 302,
            body: "INTERNAL-SECRET",
            headers: { location: "http://169.254.169.254/latest/meta-data/" },
          },
          status: /HTTP 302/,
        },
      ];
      for (const { answer, status } of answers) {
        gateway.requests.length = 0;
        gateway.respond = () => answer;
        const r = await server.api("POST", `/api/v1/chats/${chatId}/messages`, { token: key, body: { text: "hello" } });
        assert.equal(r.status, 502, r.text);
        assert.match(r.json.error.message, status);
        assert.doesNotMatch(r.text, /INTERNAL-SECRET/);
        assert.equal(gateway.requests.length, 1, "one request, the redirect not followed");
      }
    });
  });
}
