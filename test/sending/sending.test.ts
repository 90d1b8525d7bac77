// Sending WhatsApp messages from Threadline: the send API and the capability URL put messages
// in a durable queue; a sender per account sends them through the account's gateway (a fake
// gateway server here, answering each gateway's real send endpoint), with a pause between
// messages, retries while the gateway is down, `failed` with the reason when it refuses, and
// one delivery to the outgoing webhooks when the gateway confirms (never a second for its echo).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createWorkspace, DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { Receiver, type ReceivedRequest } from "../helpers/receiver.js";
import { assertError, createWebhook } from "../helpers/workspace.js";

const PUBLIC_URL = "https://threadline.example.test";
// Loopback only (the fake gateway and the receiver), so a private gateway address stays refused.
// A short webhook lease: after the restart on PostgreSQL the sent messages reach the webhook within 5 s, not 15.
const ENV = {
  THREADLINE_PUBLIC_URL: PUBLIC_URL,
  THREADLINE_SEND_PAUSE_MS: "20",
  THREADLINE_ALLOW_PRIVATE_TARGETS: "127.0.0.0/8,::1/128",
  THREADLINE_WEBHOOK_LEASE_MS: "5000",
};
const PAUSE_MS = 400;
const ACCOUNTS = {
  waha: { phone: "+15550001001", source: "waha", source_config: { api_key: "waha-key", session: "default" } },
  evolution: { phone: "+15550001002", source: "evolution", source_config: { api_key: "evo-key", instance: "sales-1" } },
  cloud_api: {
    phone: "+15550001003",
    source: "cloud_api",
    source_config: {
      phone_number_id: "1099",
      app_secret: "app-secret-0123456789",
      verify_token: "verify-0123456789",
      access_token: "access-0123456789",
    },
  },
  // A gateway on a private address, which this server may not reach.
  private_gateway: {
    phone: "+15550001005",
    source: "waha",
    source_config: { api_key: "waha-key", session: "default", base_url: "http://10.255.255.1:3000" },
  },
  // Its own pause between messages (the others take THREADLINE_SEND_PAUSE_MS).
  paced: {
    phone: "+15550001004",
    source: "waha",
    source_config: { api_key: "waha-key", session: "paced" },
    send_pause_ms: PAUSE_MS,
  },
} as const;
type AccountName = keyof typeof ACCOUNTS;
/** A number the fake gateway refuses with 400, as WhatsApp gateways do for an invalid number. */
const REFUSED = "+15559990000";

let ids = 0;
/** The fake gateway: each gateway's send endpoint answers its own shape with a fresh message id. */
function gatewayAnswer(req: ReceivedRequest) {
  const body = req.json ?? {};
  const to = String(body.chatId ?? body.number ?? body.to ?? "");
  if (to.includes(REFUSED.slice(1)))
    return {
      status: 400,
      body: JSON.stringify({ error: "invalid number" }),
      headers: { "content-type": "application/json" },
    };
  const n = `${Date.now().toString(36)}${++ids}`;
  let answer: unknown;
  if (req.url === "/api/sendText") answer = { id: `true_${body.chatId}_3EB0${n}` };
  else if (req.url.startsWith("/message/sendText/"))
    answer = { key: { id: `EVO${n}`, remoteJid: `${body.number}@s.whatsapp.net`, fromMe: true } };
  else answer = { messaging_product: "whatsapp", messages: [{ id: `wamid.${n}` }] };
  return { status: 200, body: JSON.stringify(answer), headers: { "content-type": "application/json" } };
}

for (const database of DATABASES)
  describe(`sending messages (${database})`, () => {
    let server: TestServer;
    let key: string;
    let gateway: Receiver;
    let receiver: Receiver;
    const accounts = {} as Record<AccountName, { id: string; inbound_url: string }>;

    const sendApi = (body: Record<string, unknown>) =>
      server.api("POST", "/api/v1/messages/send", { token: key, body });
    const message = async (id: string) => {
      const r = await server.api("GET", `/api/v1/messages/${id}`, { token: key });
      assert.equal(r.status, 200, r.text);
      return r.json;
    };
    const sentMessage = (id: string) =>
      waitFor(async () => ((await message(id)).send_status === "sent" ? message(id) : undefined), `message ${id} sent`);
    const deliveriesOf = (text: string) =>
      [...receiver.unique().values()].filter((r) => r.json?.message?.text === text);
    const sendsCounted = async (outcome: string) => {
      const m = /^threadline_sends_total\{outcome="(\w+)"\} (\d+)$/gm;
      const text = (await server.api("GET", "/metrics")).text;
      for (const [, o, n] of text.matchAll(m)) if (o === outcome) return Number(n);
      return 0;
    };
    const gatewayCalls = (text: string) =>
      gateway.requests.filter((r) => (r.json?.text?.body ?? r.json?.text) === text);

    before(async () => {
      server = await TestServer.start({ database, env: ENV });
      gateway = await Receiver.start();
      gateway.respond = gatewayAnswer;
      receiver = await Receiver.start();
      const ws = await createWorkspace(server);
      key = ws.api_key;
      await createWebhook(server, key, receiver.url);
      for (const [name, a] of Object.entries(ACCOUNTS) as [AccountName, (typeof ACCOUNTS)[AccountName]][]) {
        const base =
          a.source === "cloud_api"
            ? { graph_base_url: gateway.origin }
            : "base_url" in a.source_config
              ? {}
              : { base_url: gateway.origin };
        const r = await server.api("POST", "/api/v1/accounts", {
          token: key,
          body: { ...a, owner_email: ws.owner.email, source_config: { ...a.source_config, ...base } },
        });
        assert.equal(r.status, 201, r.text);
        accounts[name] = r.json;
      }
    });
    after(async () => {
      await server?.stop();
      await gateway?.close();
      await receiver?.close();
    });

    it("sends to a new phone through each gateway: 202 queued, the gateway's own endpoint, a new chat, one delivery as sent", async () => {
      const expected: Record<string, { url: RegExp; to: (b: any) => string; chat: string }> = {
        waha: { url: /^\/api\/sendText$/, to: (b) => `${b.session}:${b.chatId}`, chat: "default:15550002001@c.us" },
        evolution: { url: /^\/message\/sendText\/sales-1$/, to: (b) => b.number, chat: "15550002002" },
        cloud_api: {
          url: /^\/v\d+\.\d+\/1099\/messages$/,
          to: (b) => `${b.recipient_type}:${b.to}`,
          chat: "individual:15550002003",
        },
      };
      const phones = { waha: "+15550002001", evolution: "+1 555 000-2002", cloud_api: "15550002003" };
      const recipients = { waha: "+15550002001", evolution: "+15550002002", cloud_api: "+15550002003" };
      for (const name of ["waha", "evolution", "cloud_api"] as const) {
        const text = `hello through ${name} ${Date.now()}`;
        const r = await sendApi({ account_phone: ACCOUNTS[name].phone, phone: phones[name], text });
        assert.equal(r.status, 202, r.text);
        assert.equal(r.json.status, "queued");
        const m = await sentMessage(r.json.message_id);
        assert.equal(m.message_id, r.json.message_id, "the message keeps the id it was answered with");
        assert.equal(m.direction, "sent");
        assert.equal(m.text, text);
        assert.equal(m.recipient.phone, recipients[name]);
        const [call] = gatewayCalls(text);
        assert.ok(call, `no call to the ${name} gateway`);
        assert.match(call.url, expected[name]!.url);
        assert.equal(expected[name]!.to(call.json), expected[name]!.chat);
        const d = await waitFor(() => deliveriesOf(text)[0], `delivery of ${name}'s message`);
        assert.equal(d.json.message.direction, "sent");
        assert.equal(d.json.whatsapp_account.phone, ACCOUNTS[name].phone);
      }
      const chats = (await server.api("GET", "/api/v1/chats?limit=200", { token: key })).json.items;
      for (const phone of ["+15550002001", "+15550002002", "+15550002003"])
        assert.equal(chats.filter((c: any) => c.phone === phone).length, 1, `one chat with ${phone}`);
    });

    it("validates a send, naming the field", async () => {
      assertError(await sendApi({ phone: "+15550002001", text: "x" }), 400, "VALIDATION_ERROR", "account_phone");
      assertError(await sendApi({ account_phone: ACCOUNTS.waha.phone, text: "x" }), 400, "VALIDATION_ERROR", "phone");
      assertError(
        await sendApi({ account_phone: ACCOUNTS.waha.phone, phone: "12", text: "x" }),
        400,
        "VALIDATION_ERROR",
        "phone",
      );
      assertError(
        await sendApi({ account_phone: ACCOUNTS.waha.phone, phone: "+15550002001", text: "  " }),
        400,
        "VALIDATION_ERROR",
        "text",
      );
      assertError(
        await sendApi({ account_phone: "+15550009999", phone: "+15550002001", text: "x" }),
        400,
        "VALIDATION_ERROR",
        "account_phone",
      );
      assertError(
        await sendApi({ account_phone: ACCOUNTS.waha.phone, phone: "+15550002001", chat_id: "1", text: "x" }),
        400,
        "VALIDATION_ERROR",
        "chat_id",
      );
      assertError(
        await sendApi({
          account_phone: ACCOUNTS.waha.phone,
          phone: "+15550002001",
          text: "x",
          teammate_email: "nobody@example.com",
        }),
        400,
        "VALIDATION_ERROR",
        "teammate_email",
      );
      assertError(
        await server.api("POST", "/api/v1/messages/send", { body: { phone: "+15550002001", text: "x" } }),
        401,
        "UNAUTHORIZED",
      );
      assertError(await server.api("GET", "/api/v1/messages/01NOSUCHMESSAGE", { token: key }), 404, "NOT_FOUND");
      const other = await createWorkspace(server);
      const mine = await sendApi({
        account_phone: ACCOUNTS.waha.phone,
        phone: "+15550002001",
        text: `mine ${Date.now()}`,
      });
      assertError(
        await server.api("GET", `/api/v1/messages/${mine.json.message_id}`, { token: other.api_key }),
        404,
        "NOT_FOUND",
      );
      await sentMessage(mine.json.message_id);
    });

    it("the capability URL sends JSON and form fields without a key; regenerating it invalidates the old one at once", async () => {
      const none = await server.api("GET", "/api/v1/send-url", { token: key });
      assert.equal(none.status, 200, none.text);
      assert.deepEqual(none.json, { url: null, created_at: null });
      const first = await server.api("POST", "/api/v1/send-url", { token: key });
      assert.equal(first.status, 201, first.text);
      assert.match(
        first.json.url,
        new RegExp(`^${PUBLIC_URL.replace(/\./g, "\\.")}/hooks/send/snd_[A-Za-z0-9_-]{20,}$`),
      );
      const path = new URL(first.json.url).pathname;
      const shown = (await server.api("GET", "/api/v1/send-url", { token: key })).json;
      assert.equal(shown.url, first.json.url, "GET answers the current URL");

      // JSON from another site's page (no cookie: a tool), then form fields.
      const jsonText = `by url json ${Date.now()}`;
      const j = await server.request("POST", path, {
        headers: { "content-type": "application/json", origin: "https://crm.example.com" },
        body: JSON.stringify({ account_phone: ACCOUNTS.evolution.phone, phone: "+15550003001", text: jsonText }),
      });
      assert.equal(j.status, 202, j.text);
      assert.equal(j.json.status, "queued");
      const formText = `by url form ${Date.now()} & more`;
      const f = await server.request("POST", path, {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          account_phone: ACCOUNTS.evolution.phone,
          phone: "+15550003002",
          text: formText,
        }).toString(),
      });
      assert.equal(f.status, 202, f.text);
      assert.equal((await sentMessage(j.json.message_id)).text, jsonText);
      assert.equal((await sentMessage(f.json.message_id)).text, formText);
      const bad = await server.request("POST", path, {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "account_phone=%2B15550001002&text=hi",
      });
      assertError(bad, 400, "VALIDATION_ERROR", "phone");

      const second = await server.api("POST", "/api/v1/send-url", { token: key });
      assert.notEqual(second.json.url, first.json.url);
      const body = JSON.stringify({
        account_phone: ACCOUNTS.evolution.phone,
        phone: "+15550003001",
        text: "after regeneration",
      });
      assertError(
        await server.request("POST", path, { headers: { "content-type": "application/json" }, body }),
        404,
        "NOT_FOUND",
      );
      const again = await server.request("POST", new URL(second.json.url).pathname, {
        headers: { "content-type": "application/json" },
        body,
      });
      assert.equal(again.status, 202, again.text);
      assertError(
        await server.request("POST", "/hooks/send/snd_unknown", {
          headers: { "content-type": "application/json" },
          body,
        }),
        404,
        "NOT_FOUND",
      );
      // The CORS preflight validates its token like the POST (a NUL is named, not stored or echoed).
      assertError(
        await server.request("OPTIONS", "/hooks/send/snd%00x", {
          headers: { origin: "https://crm.example", "access-control-request-method": "POST" },
        }),
        400,
        "VALIDATION_ERROR",
        "token",
      );
    });

    it("pauses between an account's messages (its own send_pause_ms, randomised ±25 %)", async () => {
      const tag = `paced ${Date.now()}`;
      const sent = [];
      for (let i = 0; i < 3; i++) {
        const r = await sendApi({ account_phone: ACCOUNTS.paced.phone, phone: "+15550004001", text: `${tag} ${i}` });
        assert.equal(r.status, 202, r.text);
        sent.push(r.json.message_id as string);
      }
      for (const id of sent) await sentMessage(id);
      const arrivals = [0, 1, 2].map((i) => gatewayCalls(`${tag} ${i}`)[0]!.at);
      for (let i = 1; i < 3; i++) {
        const gap = arrivals[i]! - arrivals[i - 1]!;
        assert.ok(gap >= PAUSE_MS * 0.75 - 30, `gap ${i} was ${gap} ms, the pause is ${PAUSE_MS} ms ±25 %`);
        assert.ok(gap < PAUSE_MS * 3, `gap ${i} was ${gap} ms`);
      }
    });

    it("a gateway refusal (400) marks the message failed with the reason; it is shown in the chat and never delivered", async () => {
      const text = `refused ${Date.now()}`;
      const r = await sendApi({ account_phone: ACCOUNTS.waha.phone, phone: REFUSED, text });
      assert.equal(r.status, 202, r.text);
      const m = await waitFor(
        async () =>
          (await message(r.json.message_id)).send_status === "failed" ? message(r.json.message_id) : undefined,
        "failed",
      );
      assert.match(m.send_error, /refused.*HTTP 400/);
      assert.equal(m.permalink, null);
      const chat = (await server.api("GET", "/api/v1/chats?limit=200", { token: key })).json.items.find(
        (c: any) => c.phone === REFUSED,
      );
      const items = (await server.api("GET", `/api/v1/chats/${chat.chat_id}/messages`, { token: key })).json.items;
      assert.deepEqual(
        items.map((i: any) => [i.text, i.send_status]),
        [[text, "failed"]],
      );
      // Deliveries go out in storage order: once a later message arrived, the failed one would have.
      const later = await sendApi({
        account_phone: ACCOUNTS.waha.phone,
        phone: "+15550002001",
        text: `after refusal ${Date.now()}`,
      });
      await sentMessage(later.json.message_id);
      await waitFor(
        () => [...receiver.unique().values()].find((d) => d.json?.message?.text?.startsWith("after refusal")),
        "later delivery",
      );
      assert.equal(deliveriesOf(text).length, 0);
    });

    it("a gateway on an address Threadline may not reach fails the message at once, saying how to allow it", async () => {
      const r = await sendApi({
        account_phone: ACCOUNTS.private_gateway.phone,
        phone: "+15550002002",
        text: `private ${Date.now()}`,
      });
      assert.equal(r.status, 202, r.text);
      const m = await waitFor(
        async () =>
          (await message(r.json.message_id)).send_status === "failed" ? message(r.json.message_id) : undefined,
        "failed",
      );
      assert.match(m.send_error, /^The gateway cannot be called: .*10\.255\.255\.1.*THREADLINE_ALLOW_PRIVATE_TARGETS/);
      assert.doesNotMatch(m.send_error, /attempts/);
    });

    it("a gateway that is down is retried with backoff and the message is sent when it comes back", async () => {
      const [retriedBefore, sentBefore] = [await sendsCounted("retried"), await sendsCounted("sent")];
      await gateway.down();
      try {
        const text = `while down ${Date.now()}`;
        const r = await sendApi({ account_phone: ACCOUNTS.evolution.phone, phone: "+15550005001", text });
        assert.equal(r.status, 202, r.text);
        const waiting = await waitFor(async () => {
          const m = await message(r.json.message_id);
          return m.send_error ? m : undefined;
        }, "a failed attempt");
        assert.equal(waiting.send_status, "queued");
        assert.match(waiting.send_error, /could not connect/);
        await gateway.up();
        await server.advance(10_000); // past the first backoff (5 s ±10 %)
        assert.equal((await sentMessage(r.json.message_id)).text, text);
        await waitFor(() => deliveriesOf(text)[0], "delivery after the outage");
        // Counted in /metrics: at least the one retry and the send (other tests send meanwhile).
        assert.ok((await sendsCounted("retried")) >= retriedBefore + 1);
        assert.ok((await sendsCounted("sent")) >= sentBefore + 1);
      } finally {
        await gateway.up().catch(() => undefined);
      }
    });

    it("the gateway's echo of a sent message is a duplicate: one delivery", async () => {
      const text = `echoed ${Date.now()}`;
      const r = await sendApi({ account_phone: ACCOUNTS.waha.phone, phone: "+15550006001", text });
      await sentMessage(r.json.message_id);
      const [call] = gatewayCalls(text);
      const id = (
        await server.sql<{ external_id: string }>("select external_id from messages where id = ?", [r.json.message_id])
      )[0]!.external_id;
      assert.match(id, /^true_15550006001@c\.us_3EB0/, "stored under the id the gateway answered");
      const echo = {
        id: `evt_${Date.now()}`,
        timestamp: Date.now(),
        event: "message.any",
        session: "default",
        engine: "NOWEB",
        me: { id: "15550001001@c.us" },
        payload: {
          id,
          timestamp: Math.floor(Date.now() / 1000),
          from: "15550001001@c.us",
          fromMe: true,
          to: call!.json.chatId,
          body: text,
          hasMedia: false,
          _data: {},
        },
      };
      const inbound = await server.request("POST", new URL(accounts.waha.inbound_url).pathname, {
        headers: { "content-type": "application/json" },
        body: JSON.stringify(echo),
      });
      assert.equal(inbound.status, 200, inbound.text);
      assert.equal(inbound.json.duplicates, 1, inbound.text);
      const sentinel = await sendApi({
        account_phone: ACCOUNTS.waha.phone,
        phone: "+15550006001",
        text: `sentinel ${Date.now()}`,
      });
      await sentMessage(sentinel.json.message_id);
      await waitFor(
        () => [...receiver.unique().values()].find((d) => d.json?.message?.text?.startsWith("sentinel")),
        "sentinel delivery",
      );
      assert.equal(deliveriesOf(text).length, 1);
    });

    it("messages queued survive a restart and are sent in order after it", async () => {
      await gateway.down();
      const tag = `across restart ${Date.now()}`;
      const queued: string[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          const r = await sendApi({
            account_phone: ACCOUNTS.cloud_api.phone,
            phone: "+15550007001",
            text: `${tag} ${i}`,
          });
          assert.equal(r.status, 202, r.text);
          queued.push(r.json.message_id);
        }
        await waitFor(async () => ((await message(queued[0]!)).send_error ? true : undefined), "an attempt while down");
        server = await server.restart({ env: ENV });
      } finally {
        await gateway.up();
      }
      for (const id of queued) assert.equal((await message(id)).send_status, "queued");
      await server.advance(3_600_000); // past any backoff
      for (const id of queued) await sentMessage(id);
      const calls = [0, 1].map((i) => gatewayCalls(`${tag} ${i}`));
      assert.deepEqual(
        calls.map((c) => c.length),
        [1, 1],
        "each sent once",
      );
      assert.ok(calls[0]![0]!.at <= calls[1]![0]!.at, "in order");
      for (let i = 0; i < 2; i++) await waitFor(() => deliveriesOf(`${tag} ${i}`)[0], `delivery ${i}`);
    });
  });
