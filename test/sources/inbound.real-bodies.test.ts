/**
 * Every gateway body kept in test/fixtures/sources (origins: test/fixtures/sources/ORIGINS.md)
 * posted through the real inbound route of a real Threadline process, twice, on both
 * databases: what the receiver behind an unaggregated webhook gets is checked field by
 * field (direction, chat name and phone, is_group, sender, recipient, text, timestamp), or
 * that nothing goes out; the second post never delivers again. The cases run in order: a
 * later message to a contact is named after what an earlier one taught.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES } from "../helpers/server.js";
import {
  createAccount,
  delivered,
  deliveriesOf,
  fixtureText,
  flushWith,
  hmacHex,
  inbound,
  payloadTime,
  startHarness,
  type Harness,
  type InboundResponse,
} from "../helpers/inbound.js";

type Gateway = "waha" | "evolution" | "cloud_api";
const OWNER = "\u0000owner"; // replaced by the workspace owner's name

const PHONES: Record<Gateway, string> = { waha: "+15557654321", evolution: "+15557654322", cloud_api: "+15550783881" };
const APP_SECRET = "cloud-app-secret-real-bodies";
const EVOLUTION_KEY = "B6D711FCDE4D4FD5936544120E713976"; // the fixtures' apikey

interface Party {
  full_name: string;
  phone: string;
}
interface Expected {
  text: string;
  direction: "received" | "sent";
  chat: { full_name: string; phone: string; is_group: boolean };
  sender: Party;
  recipient: Party;
  timestamp: number;
}
interface Case {
  gateway: Gateway;
  file: string;
  out: Expected[];
  /** Stored but not delivered (media, locations, unsupported kinds). */
  skipped?: number;
  /** Parts stored as an unrecognised event. */
  unrecognised?: number;
}

/** A received message in a direct chat. */
function dm(gateway: Gateway, name: string, phone: string, text: string, timestamp: number): Expected {
  return {
    text,
    direction: "received",
    chat: { full_name: name, phone, is_group: false },
    sender: { full_name: name, phone },
    recipient: { full_name: OWNER, phone: PHONES[gateway] },
    timestamp,
  };
}

/** A message the account sent in a direct chat (the contact known as `name`). */
function sentDm(gateway: Gateway, name: string, phone: string, text: string, timestamp: number): Expected {
  return {
    text,
    direction: "sent",
    chat: { full_name: name, phone, is_group: false },
    sender: { full_name: OWNER, phone: PHONES[gateway] },
    recipient: { full_name: name, phone },
    timestamp,
  };
}

/** A message in a group, received from `from` or (from undefined) sent by the account. */
function group(id: string, from: string | undefined, text: string, timestamp: number): Expected {
  return {
    text,
    direction: from === undefined ? "sent" : "received",
    chat: { full_name: id, phone: "", is_group: true },
    sender: { full_name: from ?? OWNER, phone: "" },
    recipient: { full_name: id, phone: "" },
    timestamp,
  };
}

const NONE: Expected[] = [];

const CASES: Case[] = [
  // ---------------------------------------------------------------- WAHA, WEBJS engine
  {
    gateway: "waha",
    file: "waha/webjs-received-direct.json",
    out: [dm("waha", "Maya Cohen", "+15551230001", "Hi! Is the blue one in stock?", 1732000100)],
  },
  {
    gateway: "waha",
    file: "waha/webjs-sent-direct.json",
    out: [sentDm("waha", "Maya Cohen", "+15551230001", "Yes, two left 👍", 1732000160)],
  },
  {
    gateway: "waha",
    file: "waha/webjs-group-received.json",
    out: [group("120363041234500001@g.us", "Dan Levi", "Who is bringing the samples?", 1732000220)],
  },
  { gateway: "waha", file: "waha/webjs-image-not-downloaded.json", out: NONE, skipped: 1 },
  { gateway: "waha", file: "waha/webjs-message-revoked.json", out: NONE },
  { gateway: "waha", file: "waha/webjs-revoked-in-message-any.json", out: NONE },
  // ---------------------------------------------------------------- WAHA, NOWEB engine
  {
    gateway: "waha",
    file: "waha/noweb-received-direct.json",
    out: [dm("waha", "Noa Katz", "+15551230003", "Can we move the call to 3pm?", 1732000400)],
  },
  {
    gateway: "waha",
    file: "waha/noweb-sent-from-phone.json",
    out: [sentDm("waha", "+15551230004", "+15551230004", "Need to solve captcha.", 1732000460)],
  },
  {
    gateway: "waha",
    file: "waha/noweb-sent-through-api.json",
    out: [sentDm("waha", "Noa Katz", "+15551230003", "Sure, 3pm works.", 1732000470)],
  },
  {
    gateway: "waha",
    file: "waha/noweb-group-received.json",
    out: [group("120363041234500002@g.us", "Omer Bar", "Invoice sent ✅", 1732000520)],
  },
  {
    gateway: "waha",
    file: "waha/noweb-group-sent.json",
    out: [group("120363041234500002@g.us", undefined, "Thanks Omer", 1732000580)],
  },
  {
    gateway: "waha",
    file: "waha/noweb-ephemeral-received.json",
    out: [dm("waha", "Tal Golan", "+15551230006", "This chat has disappearing messages on", 1732000640)],
  },
  {
    gateway: "waha",
    file: "waha/noweb-lid-received.json",
    out: [dm("waha", "Lina Mor", "+15551230007", "Hello from a hidden number", 1732000700)],
  },
  {
    gateway: "waha",
    file: "waha/noweb-reply-received.json",
    out: [dm("waha", "Noa Katz", "+15551230003", "Perfect, see you then", 1732000760)],
  },
  { gateway: "waha", file: "waha/noweb-image-received.json", out: NONE, skipped: 1 },
  { gateway: "waha", file: "waha/noweb-protocol-revoke.json", out: NONE },
  {
    gateway: "waha",
    file: "waha/noweb-message-event-received.json",
    out: [dm("waha", "Yael Ben", "+15551230008", "Only subscribed to the message event", 1732000940)],
  },
  { gateway: "waha", file: "waha/noweb-message-reaction.json", out: NONE },
  { gateway: "waha", file: "waha/noweb-message-ack.json", out: NONE },
  { gateway: "waha", file: "waha/noweb-message-edited.json", out: NONE },
  { gateway: "waha", file: "waha/session-status.json", out: NONE },
  { gateway: "waha", file: "waha/session-status-starting.json", out: NONE },
  { gateway: "waha", file: "waha/session-status-failed.json", out: NONE },
  { gateway: "waha", file: "waha/session-status-scan-qr-code.json", out: NONE },
  { gateway: "waha", file: "waha/session-status-stopped.json", out: NONE },
  { gateway: "waha", file: "waha/session-status-working-again.json", out: NONE },
  // ---------------------------------------------------------------- WAHA, GOWS engine
  {
    gateway: "waha",
    file: "waha/gows-received-direct.json",
    out: [dm("waha", "Rina Shalev", "+15551230009", "Do you ship to Haifa?", 1732001120)],
  },
  {
    gateway: "waha",
    file: "waha/gows-sent-direct.json",
    out: [sentDm("waha", "Rina Shalev", "+15551230009", "Yes, next-day delivery", 1732001180)],
  },
  {
    gateway: "waha",
    file: "waha/gows-sent-lid.json",
    out: [sentDm("waha", "+15551230010", "+15551230010", "Hey Patty!", 1732001240)],
  },
  {
    gateway: "waha",
    file: "waha/gows-group-received.json",
    out: [group("120363041234500003@g.us", "Avi Peretz", "Shipment left the warehouse", 1732001300)],
  },
  { gateway: "waha", file: "waha/gows-image-received.json", out: NONE, skipped: 1 },
  {
    gateway: "waha",
    file: "waha/gows-lid-received.json",
    out: [dm("waha", "Shira Azulay", "+15551230012", "Is the store open on Friday?", 1732001420)],
  },
  {
    gateway: "waha",
    file: "waha/gows-group-sent.json",
    out: [group("120363041234500003@g.us", undefined, "Great, thanks Avi", 1732001860)],
  },
  { gateway: "waha", file: "waha/gows-reaction-in-message-any.json", out: NONE },
  // ---------------------------------------------------------------- WAHA, more kinds
  { gateway: "waha", file: "waha/webjs-voice-note.json", out: NONE, skipped: 1 },
  { gateway: "waha", file: "waha/webjs-location.json", out: NONE, skipped: 1 },
  {
    gateway: "waha",
    file: "waha/webjs-group-sent.json",
    out: [group("120363041234500001@g.us", undefined, "I will bring them", 1732001620)],
  },
  { gateway: "waha", file: "waha/noweb-document-with-caption.json", out: NONE, skipped: 1 },
  { gateway: "waha", file: "waha/noweb-viewonce-received.json", out: NONE, skipped: 1 },
  {
    gateway: "waha",
    file: "waha/noweb-lid-remotejidalt-sent.json",
    out: [sentDm("waha", "Lina Mor", "+15551230007", "Thanks Lina, noted", 1732001800)],
  },
  // ---------------------------------------------------------------- Evolution API v1 and v2
  {
    gateway: "evolution",
    file: "evolution/v2-upsert-received-conversation.json",
    out: [
      dm("evolution", "Helena Lucas", "+15551240001", "Vou pensar e retorno. Muito obrigada por enquanto!", 1732010000),
    ],
  },
  {
    gateway: "evolution",
    file: "evolution/v2-upsert-sent-from-phone-voce.json",
    out: [sentDm("evolution", "Helena Lucas", "+15551240001", "Posso ajudar", 1732010060)],
  },
  {
    gateway: "evolution",
    file: "evolution/v1-upsert-extended-text-long-timestamp.json",
    out: [dm("evolution", "Bruno Dias", "+15551240002", "Link: https://example.com/catalogue", 1732010120)],
  },
  {
    gateway: "evolution",
    file: "evolution/upsert-ephemeral-text.json",
    out: [dm("evolution", "Carla Reis", "+15551240003", "Disappearing messages are on here", 1732010180)],
  },
  { gateway: "evolution", file: "evolution/upsert-viewonce-image.json", out: NONE, skipped: 1 },
  { gateway: "evolution", file: "evolution/upsert-document-with-caption.json", out: NONE, skipped: 1 },
  { gateway: "evolution", file: "evolution/upsert-image-caption.json", out: NONE, skipped: 1 },
  { gateway: "evolution", file: "evolution/upsert-reaction.json", out: NONE },
  { gateway: "evolution", file: "evolution/upsert-protocol-revoke.json", out: NONE },
  { gateway: "evolution", file: "evolution/upsert-edited-message.json", out: NONE },
  {
    gateway: "evolution",
    file: "evolution/upsert-group-participant.json",
    out: [group("120363041234500010@g.us", "Diego Alves", "Bom dia, grupo!", 1732010600)],
  },
  {
    gateway: "evolution",
    file: "evolution/upsert-group-participant-without-name.json",
    out: [group("120363041234500010@g.us", "+15551240005", "Alguém tem o PDF?", 1732010660)],
  },
  {
    gateway: "evolution",
    file: "evolution/upsert-group-sent.json",
    out: [group("120363041234500010@g.us", undefined, "Envio já", 1732010720)],
  },
  {
    gateway: "evolution",
    file: "evolution/upsert-lid-remotejidalt.json",
    out: [dm("evolution", "Fernanda Lima", "+15551240006", "Oi, vi o anúncio", 1732010780)],
  },
  {
    gateway: "evolution",
    file: "evolution/upsert-lid-senderpn.json",
    out: [dm("evolution", "Gustavo Melo", "+15551240007", "Qual o horário de atendimento?", 1732010840)],
  },
  {
    gateway: "evolution",
    file: "evolution/upsert-lid-only.json",
    out: [dm("evolution", "Rodrigo", "", "Oi", 1732010900)],
  },
  {
    gateway: "evolution",
    file: "evolution/upsert-lid-swapped.json",
    out: [dm("evolution", "Isabela Costa", "+15551240008", "Tem em azul?", 1732010960)],
  },
  { gateway: "evolution", file: "evolution/messages-update-read.json", out: NONE },
  {
    gateway: "evolution",
    file: "evolution/send-message.json",
    out: [sentDm("evolution", "+15551240009", "+15551240009", "Seu pedido foi enviado.", 1732011020)],
  },
  { gateway: "evolution", file: "evolution/connection-update.json", out: NONE },
  { gateway: "evolution", file: "evolution/connection-update-connecting.json", out: NONE },
  { gateway: "evolution", file: "evolution/connection-update-close.json", out: NONE },
  {
    gateway: "evolution",
    file: "evolution/upsert-uppercase-event.json",
    out: [dm("evolution", "Juliana Rocha", "+15551240010", "Evento com nome em maiúsculas", 1732011080)],
  },
  {
    gateway: "evolution",
    file: "evolution/send-message-group.json",
    out: [group("120363041234500010@g.us", undefined, "Segue o PDF", 1732011140)],
  },
  // ---------------------------------------------------------------- Meta WhatsApp Cloud API
  {
    gateway: "cloud_api",
    file: "cloud-api/text-received.json",
    out: [dm("cloud_api", "Sheena Nelson", "+16505551234", "Does it come in another color? 😊", 1749416383)],
  },
  {
    gateway: "cloud_api",
    file: "cloud-api/echo-sent-from-app.json",
    out: [sentDm("cloud_api", "Sheena Nelson", "+16505551234", "Yes, in red and blue.", 1749416600)],
  },
  { gateway: "cloud_api", file: "cloud-api/image-with-caption.json", out: NONE, skipped: 1 },
  {
    gateway: "cloud_api",
    file: "cloud-api/interactive-button-reply.json",
    out: [dm("cloud_api", "Kim Park", "+16505550002", "Cancel my order", 1749420060)],
  },
  {
    gateway: "cloud_api",
    file: "cloud-api/interactive-list-reply.json",
    out: [dm("cloud_api", "Kim Park", "+16505550002", "Priority Mail Express", 1749420120)],
  },
  {
    gateway: "cloud_api",
    file: "cloud-api/template-quick-reply-button.json",
    out: [dm("cloud_api", "Kim Park", "+16505550002", "Stop promotions", 1749420180)],
  },
  { gateway: "cloud_api", file: "cloud-api/reaction.json", out: NONE },
  { gateway: "cloud_api", file: "cloud-api/reaction-removed.json", out: NONE },
  { gateway: "cloud_api", file: "cloud-api/edit.json", out: NONE },
  { gateway: "cloud_api", file: "cloud-api/revoke.json", out: NONE },
  { gateway: "cloud_api", file: "cloud-api/statuses-sent-delivered-read.json", out: NONE },
  { gateway: "cloud_api", file: "cloud-api/status-failed.json", out: NONE },
  { gateway: "cloud_api", file: "cloud-api/status-delivered.json", out: NONE },
  {
    gateway: "cloud_api",
    file: "cloud-api/group-text-received.json",
    out: [
      group(
        "Y2FsbGVyLWdyb3VwLWlkLTAwMQ==",
        "Priya Raman",
        "Team, can someone confirm the delivery window?",
        1749420540,
      ),
    ],
  },
  {
    gateway: "cloud_api",
    file: "cloud-api/group-echo-sent.json",
    out: [group("Y2FsbGVyLWdyb3VwLWlkLTAwMQ==", undefined, "Tomorrow between 9 and 12.", 1749420600)],
  },
  { gateway: "cloud_api", file: "cloud-api/echo-image-sent.json", out: NONE, skipped: 1 },
  {
    gateway: "cloud_api",
    file: "cloud-api/username-user-text.json",
    out: [dm("cloud_api", "Jordan Blake", "", "Hi, I found you through your username", 1749420720)],
  },
  {
    gateway: "cloud_api",
    file: "cloud-api/username-user-with-phone-too.json",
    out: [dm("cloud_api", "Morgan Lee", "+16505550004", "Same question, but my number is shared", 1749420780)],
  },
  {
    gateway: "cloud_api",
    file: "cloud-api/mixed-messages-and-statuses.json",
    out: [
      dm("cloud_api", "Lucia Romero", "+16505550005", "First of two in one notification", 1749420840),
      dm("cloud_api", "Jordan Blake", "", "Second, from a username user", 1749420841),
    ],
    unrecognised: 1,
  },
  { gateway: "cloud_api", file: "cloud-api/unsupported.json", out: NONE, skipped: 1 },
  { gateway: "cloud_api", file: "cloud-api/system-user-changed-number.json", out: NONE },
  { gateway: "cloud_api", file: "cloud-api/other-phone-number-id.json", out: NONE },
  { gateway: "cloud_api", file: "cloud-api/location-received.json", out: NONE, skipped: 1 },
  { gateway: "cloud_api", file: "cloud-api/audio-voice-received.json", out: NONE, skipped: 1 },
  {
    gateway: "cloud_api",
    file: "cloud-api/text-reply-from-ad.json",
    out: [dm("cloud_api", "Chen Wei", "+16505550007", "I saw your ad, is it still on sale?", 1749421200)],
  },
  { gateway: "cloud_api", file: "cloud-api/sticker-received.json", out: NONE, skipped: 1 },
];

for (const database of DATABASES) {
  describe(`real gateway bodies through the inbound routes (${database})`, () => {
    let h: Harness;
    const urls = {} as Record<Gateway, string>;
    const accountIds = {} as Record<Gateway, string>;

    function post(gateway: Gateway, raw: string): Promise<InboundResponse> {
      const headers: Record<string, string> =
        gateway === "cloud_api" ? { "x-hub-signature-256": `sha256=${hmacHex("sha256", APP_SECRET, raw)}` } : {};
      return inbound(h, urls[gateway], { body: raw, headers });
    }

    let sentinels = 0;
    async function sentinel(): Promise<void> {
      await flushWith(h, async (text) => {
        const body = {
          event: "message.any",
          session: "default",
          payload: {
            id: `false_15550000001@c.us_SENTINEL${++sentinels}`,
            timestamp: 1732999999,
            from: "15550000001@c.us",
            fromMe: false,
            body: text,
            _data: {},
          },
        };
        const r = await post("waha", JSON.stringify(body));
        assert.equal(r.status, 200, r.text);
      });
    }

    before(async () => {
      h = await startHarness({ database });
      const configs: Record<Gateway, Record<string, unknown>> = {
        waha: { base_url: h.gatewayBase, api_key: "waha-key", session: "default" },
        evolution: { base_url: h.gatewayBase, api_key: EVOLUTION_KEY, instance: "sales-1" },
        cloud_api: {
          phone_number_id: "106540352242922",
          app_secret: APP_SECRET,
          verify_token: "verify-me",
          access_token: "token",
          graph_base_url: h.gatewayBase,
        },
      };
      for (const gateway of Object.keys(configs) as Gateway[]) {
        const acc = await createAccount(h, {
          phone: PHONES[gateway],
          source: gateway,
          source_config: configs[gateway],
        });
        urls[gateway] = acc.inbound_url!;
        accountIds[gateway] = acc.id;
      }
    });
    after(async () => {
      await h?.close();
    });

    const party = (p: Party): Party => ({
      full_name: p.full_name === OWNER ? h.owner.full_name : p.full_name,
      phone: p.phone,
    });

    for (const c of CASES) {
      const what = c.out.length
        ? `${c.out.length} delivered`
        : c.skipped
          ? "stored as skipped, nothing goes out"
          : "nothing stored, nothing goes out";
      it(`${c.file} → ${what}; posted twice, delivered once`, async () => {
        const raw = fixtureText(c.file);
        const deliveriesBefore = h.receiver.unique().size;
        const first = await post(c.gateway, raw);
        assert.equal(first.status, 200, first.text);
        const second = await post(c.gateway, raw);
        assert.equal(second.status, 200, second.text);
        assert.equal(first.json.accepted, c.out.length, first.text);
        assert.equal(first.json.skipped, c.skipped ?? 0, first.text);
        assert.equal(first.json.unrecognised, c.unrecognised ?? 0, first.text);
        assert.equal(second.json.accepted, 0, second.text);
        assert.equal(second.json.skipped, 0, second.text);
        assert.equal(second.json.duplicates, first.json.accepted + first.json.skipped, second.text);

        for (const e of c.out) {
          const p = await delivered(h, e.text);
          assert.equal(p.message.direction, e.direction, e.text);
          assert.equal(p.message.timestamp, payloadTime(e.timestamp), e.text);
          assert.equal(p.chat.full_name, e.chat.full_name, e.text);
          assert.equal(p.chat.phone, e.chat.phone, e.text);
          assert.equal(p.chat.is_group, e.chat.is_group, e.text);
          assert.deepEqual(p.message.sender, party(e.sender), e.text);
          assert.deepEqual(p.message.recipient, party(e.recipient), e.text);
          assert.equal(p.whatsapp_account.phone, PHONES[c.gateway], e.text);
        }
        await sentinel();
        for (const e of c.out) assert.equal(deliveriesOf(h, e.text).length, 1, `"${e.text}" delivered once`);
        // Nothing else went out: the expected deliveries and the sentinel.
        assert.equal(h.receiver.unique().size, deliveriesBefore + c.out.length + 1);
      });
    }

    it("the unrecognised part of a notification is listed with the raw body, and the list is per account", async () => {
      const r = await h.server.api("GET", `/api/v1/accounts/${accountIds.cloud_api}/inbound-events`, { token: h.key });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.items.length, 2, "stored on each of the two posts");
      const [newest] = r.json.items;
      assert.equal(newest.source, "cloud_api");
      assert.equal(newest.account_id, accountIds.cloud_api);
      assert.match(newest.reason, /messages\[2\]\.from is required/);
      assert.equal(newest.body, fixtureText("cloud-api/mixed-messages-and-statuses.json"));
      assert.match(newest.received_at, /^\d{4}-\d{2}-\d{2}T/);
      const waha = await h.server.api("GET", `/api/v1/accounts/${accountIds.waha}/inbound-events`, { token: h.key });
      assert.deepEqual(waha.json.items, []);
    });
  });
}
