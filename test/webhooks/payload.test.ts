import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertSigned, assertValid, contractValidators, VERSION } from "../helpers/contract.js";
import { type ReceivedRequest, Receiver } from "../helpers/receiver.js";
import { DATABASES, TestServer } from "../helpers/server.js";
import { entry, ingest, space, type Space, waitForDelivery } from "../helpers/workspace.js";

const PUBLIC_URL = "https://threadline.example.test";
const validators = contractValidators();

for (const database of DATABASES)
  describe(`unaggregated payloads reach a real receiver exactly as documented (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let s: Space;
    const OWNER = { full_name: "Amnon Haha", email: "amnon@acme.com" };
    const DANA = { full_name: "Dana Teammate", email: "dana@acme.com" };

    before(async () => {
      [server, receiver] = await Promise.all([
        TestServer.start({ database, env: { THREADLINE_PUBLIC_URL: PUBLIC_URL } }),
        Receiver.start(),
      ]);
      s = await space(server, { receiver, phone: "+972500000000", owner: OWNER });
      const t = await server.api("POST", "/api/v1/teammates", { token: s.key, body: DANA });
      assert.equal(t.status, 201, t.text);
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    /** Schema, signature and headers of every delivery; returns its JSON. */
    function checked(req: ReceivedRequest): any {
      assert.equal(req.method, "POST");
      assert.equal(req.url, "/hook");
      assert.match(String(req.headers["content-type"]), /^application\/json\b/);
      assert.equal(req.headers["user-agent"], `Threadline/${VERSION}`);
      assert.ok(String(req.headers["webhook-id"] ?? "").length > 0, "webhook-id header");
      assert.match(String(req.headers["webhook-timestamp"]), /^\d+$/);
      assertSigned(req, s.webhook!.secret);
      assertValid(validators.message, req.json);
      return req.json;
    }

    it("the webhook answers its documented fields, with a whsec_ secret", async () => {
      const r = await server.api("GET", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key });
      assert.equal(r.status, 200, r.text);
      for (const k of [
        "id",
        "url",
        "enabled",
        "aggregation",
        "filter",
        "consecutive_failures",
        "disabled_reason",
        "created_at",
        "updated_at",
      ])
        assert.ok(k in r.json, `webhook lacks ${k}`);
      assert.deepEqual(
        [r.json.url, r.json.enabled, r.json.aggregation, r.json.consecutive_failures, r.json.disabled_reason],
        [receiver.url, true, "none", 0, null],
      );
      // The secret was in the create answer; afterwards only GET …/secret reveals it.
      assert.ok(!("secret" in r.json), "GET must not answer the secret");
      assert.match(s.webhook!.secret, /^whsec_[A-Za-z0-9+/=]+$/);
      const revealed = await server.api("GET", `/api/v1/webhooks/${s.webhook!.id}/secret`, { token: s.key });
      assert.equal(revealed.json.secret, s.webhook!.secret);
    });

    const chatUrl = (id: string) => `${PUBLIC_URL}/chat/${id}/messages/`;
    let directChatId = "";
    /** Message ids of the direct chat, in the order they were stored. */
    const directOrder: string[] = [];

    it("a received direct message: derived parties, emoji intact, is_new_chat true, exact fields", async () => {
      const m = entry(s, {
        contact: "972540000000",
        name: "John Doe",
        timestamp: "2021-02-24T18:25:29+02:00",
        text: "Hi! How are you? 👋🏽 שלום",
      });
      const r = await ingest(server, s.key, [m]);
      assert.deepEqual(
        r.results.map((x) => x.status),
        ["accepted"],
      );
      const id = r.results[0]!.message_id;
      directOrder.push(id);
      const p = checked(await waitForDelivery(receiver, id));
      directChatId = p.chat.chat_id;
      assert.match(directChatId, /^\d+$/);
      assert.deepEqual(p, {
        whatsapp_account: { full_name: OWNER.full_name, email: OWNER.email, phone: "+972500000000" },
        chat: {
          full_name: "John Doe",
          responsible_name: "",
          responsible_email: "",
          chat_url: chatUrl(directChatId),
          chat_id: directChatId,
          is_new_chat: true,
          is_group: false,
          phone: "+972540000000",
        },
        message: {
          direction: "received",
          timestamp: "2021-02-24T16:25:29+0000",
          message_id: id,
          sender: { full_name: "John Doe", phone: "+972540000000" },
          recipient: { full_name: OWNER.full_name, phone: "+972500000000" },
          text: "Hi! How are you? 👋🏽 שלום",
        },
      });
      // The API shows the same chat under the same id and URL.
      const chat = await server.api("GET", `/api/v1/chats/${directChatId}`, { token: s.key });
      assert.equal(chat.status, 200);
      assert.equal(chat.json.chat_url, chatUrl(directChatId));
      assert.equal(chat.json.account_phone, "+972500000000");
    });

    it("a sent message in the same chat (Unix seconds): account → contact, is_new_chat false", async () => {
      const m = entry(s, {
        contact: "972540000000",
        name: "John Doe",
        direction: "sent",
        timestamp: 1614184229,
        text: "Fine 🙂, thanks",
      });
      const id = (await ingest(server, s.key, [m])).results[0]!.message_id;
      directOrder.push(id);
      const p = checked(await waitForDelivery(receiver, id));
      assert.equal(p.chat.chat_id, directChatId);
      assert.equal(p.chat.is_new_chat, false);
      assert.deepEqual(p.message, {
        direction: "sent",
        timestamp: "2021-02-24T16:30:29+0000",
        message_id: id,
        sender: { full_name: OWNER.full_name, phone: "+972500000000" },
        recipient: { full_name: "John Doe", phone: "+972540000000" },
        text: "Fine 🙂, thanks",
      });
    });

    it("a message without the chat's name (only its id) takes the name the chat already has", async () => {
      const m = entry(s, { contact: "972540000000", direction: "sent", text: "only the chat id" });
      m.chat = { external_id: m.chat.external_id };
      const id = (await ingest(server, s.key, [m])).results[0]!.message_id;
      directOrder.push(id);
      const p = checked(await waitForDelivery(receiver, id));
      assert.equal(p.chat.full_name, "John Doe");
      assert.deepEqual(p.message.recipient, { full_name: "John Doe", phone: "+972540000000" });
    });

    it("given sender/recipient are kept in a direct chat", async () => {
      const m = entry(s, {
        contact: "972540000000",
        sender: { full_name: "Johnny", phone: "+972540000000" },
        recipient: { full_name: "Sales desk", phone: "+972500000000" },
      });
      const id = (await ingest(server, s.key, [m])).results[0]!.message_id;
      directOrder.push(id);
      const p = checked(await waitForDelivery(receiver, id));
      assert.deepEqual(p.message.sender, { full_name: "Johnny", phone: "+972540000000" });
      assert.deepEqual(p.message.recipient, { full_name: "Sales desk", phone: "+972500000000" });
    });

    it("the responsible teammate set with PATCH /chats/{id} appears in later payloads, and clears", async () => {
      const patch = await server.api("PATCH", `/api/v1/chats/${directChatId}`, {
        token: s.key,
        body: { responsible_email: DANA.email },
      });
      assert.equal(patch.status, 200, patch.text);
      assert.deepEqual(patch.json.responsible, DANA);
      const id = (await ingest(server, s.key, [entry(s, { contact: "972540000000" })])).results[0]!.message_id;
      directOrder.push(id);
      const p = checked(await waitForDelivery(receiver, id));
      assert.equal(p.chat.responsible_name, DANA.full_name);
      assert.equal(p.chat.responsible_email, DANA.email);
      assert.equal(p.chat.is_new_chat, false);

      const clear = await server.api("PATCH", `/api/v1/chats/${directChatId}`, {
        token: s.key,
        body: { responsible_email: null },
      });
      assert.equal(clear.status, 200, clear.text);
      assert.equal(clear.json.responsible, null);
      const id2 = (await ingest(server, s.key, [entry(s, { contact: "972540000000" })])).results[0]!.message_id;
      directOrder.push(id2);
      const p2 = checked(await waitForDelivery(receiver, id2));
      assert.equal(p2.chat.responsible_name, "");
      assert.equal(p2.chat.responsible_email, "");
    });

    it("group chats: phones are empty, the participant or else the chat title sends what is received, the account owner what is sent, the title is the recipient", async () => {
      const group = { external_id: "120363025555555555@g.us", full_name: "Sales Team 🚀", is_group: true };
      const withParticipant = {
        ...entry(s),
        chat: group,
        sender: { full_name: "Pat Participant", phone: "+972541111111" },
      };
      const noSender = { ...entry(s), chat: group };
      const sent = { ...entry(s), chat: group, direction: "sent" as const };
      const r = await ingest(server, s.key, [withParticipant, noSender, sent]);
      const ids = r.results.map((x) => x.message_id);
      const [p1, p2, p3] = await Promise.all(ids.map(async (id) => checked(await waitForDelivery(receiver, id))));
      const groupChat = {
        full_name: "Sales Team 🚀",
        responsible_name: "",
        responsible_email: "",
        chat_url: chatUrl(p1.chat.chat_id),
        chat_id: p1.chat.chat_id,
        is_new_chat: true,
        is_group: true,
        phone: "",
      };
      assert.notEqual(p1.chat.chat_id, directChatId);
      assert.deepEqual(p1.chat, groupChat);
      assert.deepEqual(p2.chat, { ...groupChat, is_new_chat: false });
      assert.deepEqual(p3.chat, { ...groupChat, is_new_chat: false });
      assert.deepEqual(
        [p1.message.sender, p1.message.recipient],
        [
          { full_name: "Pat Participant", phone: "" },
          { full_name: "Sales Team 🚀", phone: "" },
        ],
      );
      assert.deepEqual(
        [p2.message.sender, p2.message.recipient],
        [
          { full_name: "Sales Team 🚀", phone: "" },
          { full_name: "Sales Team 🚀", phone: "" },
        ],
      );
      // docs/api.md: what the account sends into a group is sent by the account side (its owner here), never by the group.
      assert.deepEqual(
        [p3.message.direction, p3.message.sender, p3.message.recipient],
        ["sent", { full_name: OWNER.full_name, phone: "" }, { full_name: "Sales Team 🚀", phone: "" }],
      );
      assert.deepEqual(p3.whatsapp_account, { full_name: OWNER.full_name, email: OWNER.email, phone: "+972500000000" });
    });

    it("a message sent from Threadline with teammate_email is delivered as sent by that teammate", async () => {
      const r = await server.api("POST", `/api/v1/chats/${directChatId}/messages`, {
        token: s.key,
        body: { text: "On my way 🚗", teammate_email: DANA.email },
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.direction, "sent");
      assert.equal(r.json.sender.full_name, DANA.full_name);
      directOrder.push(r.json.message_id);
      const p = checked(await waitForDelivery(receiver, r.json.message_id));
      assert.deepEqual(p.message.sender, { full_name: DANA.full_name, phone: "+972500000000" });
      assert.deepEqual(p.message.recipient, { full_name: "John Doe", phone: "+972540000000" });
      assert.equal(p.message.direction, "sent");
      assert.equal(p.message.text, "On my way 🚗");
      assert.equal(p.chat.chat_id, directChatId);
      assert.equal(p.chat.is_new_chat, false);
      assert.match(p.message.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000$/);

      // Without teammate_email the account owner is the sender.
      const own = await server.api("POST", `/api/v1/chats/${directChatId}/messages`, {
        token: s.key,
        body: { text: "Second" },
      });
      assert.equal(own.status, 201, own.text);
      directOrder.push(own.json.message_id);
      const p2 = checked(await waitForDelivery(receiver, own.json.message_id));
      assert.equal(p2.message.sender.full_name, OWNER.full_name);

      // An unknown teammate is a validation error naming the field.
      const bad = await server.api("POST", `/api/v1/chats/${directChatId}/messages`, {
        token: s.key,
        body: { text: "x", teammate_email: "nobody@acme.com" },
      });
      assert.equal(bad.status, 400);
      assert.ok(bad.json.error.message.includes("teammate_email"), bad.text);
    });

    it("each delivery has its own webhook-id and the chat's messages arrive in order", async () => {
      const ids = new Set(receiver.requests.map((r) => String(r.headers["webhook-id"])));
      assert.equal(ids.size, receiver.requests.length, "webhook-id repeated across different messages");
      const direct = receiver.requests
        .filter((r) => r.json.chat.chat_id === directChatId)
        .map((r) => r.json.message.message_id as string);
      assert.equal(directOrder.length, 8);
      assert.deepEqual(direct, directOrder);
      const listed = await server.api("GET", `/api/v1/chats/${directChatId}/messages?limit=200`, { token: s.key });
      assert.deepEqual(
        new Set((listed.json.items as { message_id: string }[]).map((m) => m.message_id)),
        new Set(directOrder),
      );
    });
  });
