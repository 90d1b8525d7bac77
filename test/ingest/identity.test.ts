/**
 * One contact, one chat (issue #23): real Evolution bodies posted through the inbound route,
 * a contact first known by its hidden `@lid` id, then by both ids. Both databases.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { advanceTo, HOUR, MINUTE, nextBoundary, serverNow } from "../helpers/clock.js";
import { validateBundle } from "../helpers/contract.js";
import { received, Receiver, waitForCount } from "../helpers/receiver.js";
import { DATABASES, TestServer, createWorkspace, waitFor } from "../helpers/server.js";
import { fixtureJson } from "../helpers/inbound.js";

const PUBLIC_URL = "https://threadline.example.test";
const KEY = "B6D711FCDE4D4FD5936544120E713976";

/** An Evolution `messages.upsert` body (from the real fixtures) with this key, id and text. */
function upsert(file: string, key: Record<string, unknown>, id: string, text: string, pushName?: string) {
  const body = fixtureJson(`evolution/${file}`);
  body.data.key = { ...key, fromMe: false, id };
  body.data.message.conversation = text;
  if (pushName === undefined) delete body.data.pushName;
  else body.data.pushName = pushName;
  return JSON.stringify(body);
}

for (const database of DATABASES) {
  describe(`one contact, one chat: @lid ids and phones (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let key: string;
    let owner: string;
    let inboundPath: string;
    const seq = { n: 0 };

    before(async () => {
      [server, receiver] = await Promise.all([
        TestServer.start({ database, env: { THREADLINE_PUBLIC_URL: PUBLIC_URL } }),
        Receiver.start(),
      ]);
      const ws = await createWorkspace(server);
      key = ws.api_key;
      owner = ws.owner.email;
      const acc = await server.api("POST", "/api/v1/accounts", {
        token: key,
        body: {
          phone: "+15557654322",
          owner_email: ws.owner.email,
          source: "evolution",
          source_config: { base_url: "http://127.0.0.1:9", api_key: KEY, instance: "sales-1" },
        },
      });
      assert.equal(acc.status, 201, acc.text);
      inboundPath = new URL(acc.json.inbound_url).pathname;
      const hook = await server.api("POST", "/api/v1/webhooks", {
        token: key,
        body: { url: `${receiver.url}?t=each` },
      });
      assert.equal(hook.status, 201, hook.text);
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    const post = async (body: string) => {
      const r = await server.request("POST", inboundPath, { headers: { "content-type": "application/json" }, body });
      assert.equal(r.status, 200, r.text);
      return r.json;
    };
    const chatsOf = async (phoneOrId: string) => {
      const r = await server.api("GET", "/api/v1/chats?limit=200", { token: key });
      assert.equal(r.status, 200, r.text);
      return (r.json.items as any[]).filter((c) => c.phone === phoneOrId || c.full_name === phoneOrId);
    };
    const deliveryOf = async (text: string) =>
      (
        await waitFor(
          () => received(receiver, "t=each").find((r) => r.json?.message?.text === text),
          `delivery of "${text}"`,
        )
      ).json;
    const id = () => `3EB0C0FFEE${String(++seq.n).padStart(10, "0")}`;

    it("a lid-only message, then one with both ids: one chat with the phone; the first chat id still opens it", async () => {
      const lid = "13718000000001@lid";
      await post(upsert("upsert-lid-only.json", { remoteJid: lid }, id(), "first, lid only", "Rodrigo"));
      const first = await deliveryOf("first, lid only");
      assert.equal(first.chat.phone, "", "nothing tells the phone yet");
      const firstChatId = first.chat.chat_id;

      await post(
        upsert(
          "upsert-lid-remotejidalt.json",
          { remoteJid: lid, remoteJidAlt: "15551240101@s.whatsapp.net", addressingMode: "lid" },
          id(),
          "second, both ids",
          "Rodrigo",
        ),
      );
      const second = await deliveryOf("second, both ids");
      assert.equal(second.chat.phone, "+15551240101");
      assert.equal(second.chat.chat_id, firstChatId, "the same chat");
      assert.equal(second.message.sender.phone, "+15551240101");

      const chats = await chatsOf("+15551240101");
      assert.equal(chats.length, 1);
      assert.equal(chats[0].chat_id, firstChatId);
      const byId = await server.api("GET", `/api/v1/chats/${firstChatId}`, { token: key });
      assert.equal(byId.json.phone, "+15551240101");

      // A later message with only the hidden id reaches the same chat and carries the phone.
      await post(upsert("upsert-lid-only.json", { remoteJid: lid }, id(), "third, lid only again", "Rodrigo"));
      const third = await deliveryOf("third, lid only again");
      assert.equal(third.chat.chat_id, firstChatId);
      assert.equal(third.chat.phone, "+15551240101");
      assert.equal(third.message.sender.phone, "+15551240101");
      // And one with the phone only (the 2.3.x swap names the phone first).
      await post(
        upsert(
          "upsert-lid-swapped.json",
          { remoteJid: "15551240101@s.whatsapp.net" },
          id(),
          "fourth, phone only",
          "Rodrigo",
        ),
      );
      assert.equal((await deliveryOf("fourth, phone only")).chat.chat_id, firstChatId);
      assert.equal((await chatsOf("+15551240101")).length, 1);
    });

    it("a lid chat and a phone chat of one contact are merged when the pair shows up: aliases, history, metric", async () => {
      const lid = "99887766554433@lid";
      const phoneJid = "15551240202@s.whatsapp.net";
      await post(
        upsert("v2-upsert-received-conversation.json", { remoteJid: phoneJid }, id(), "phone chat first", "Isabela"),
      );
      const phoneChat = (await deliveryOf("phone chat first")).chat;
      await post(upsert("upsert-lid-only.json", { remoteJid: lid }, id(), "lid chat second", "Isabela"));
      const lidChat = (await deliveryOf("lid chat second")).chat;
      assert.notEqual(lidChat.chat_id, phoneChat.chat_id, "two chats while the pair is unknown");

      // A teammate is responsible for the lid chat; the phone chat has none: the merged chat keeps hers.
      const resp = await server.api("PATCH", `/api/v1/chats/${lidChat.chat_id}`, {
        token: key,
        body: { responsible_email: owner },
      });
      assert.equal(resp.status, 200, resp.text);

      // Evolution 2.3.x: remoteJid the phone, remoteJidAlt the @lid.
      await post(
        upsert(
          "upsert-lid-swapped.json",
          { remoteJid: phoneJid, remoteJidAlt: lid, addressingMode: "lid" },
          id(),
          "both ids at last",
          "Isabela",
        ),
      );
      const last = await deliveryOf("both ids at last");
      assert.equal(last.chat.chat_id, phoneChat.chat_id, "the phone chat survives");
      assert.equal(last.chat.phone, "+15551240202");
      assert.equal(last.chat.responsible_email, owner);

      const chats = await chatsOf("+15551240202");
      assert.equal(chats.length, 1, "one chat");
      const all = await server.api("GET", `/api/v1/chats/${phoneChat.chat_id}/messages`, { token: key });
      assert.deepEqual(all.json.items.map((m: any) => m.text).sort(), [
        "both ids at last",
        "lid chat second",
        "phone chat first",
      ]);
      assert.ok(
        all.json.items.every((m: any) => m.sender.phone === "+15551240202"),
        "moved messages take the phone",
      );

      // The lid chat's id, chat_url and its message's permalink still open the conversation.
      const alias = await server.api("GET", `/api/v1/chats/${lidChat.chat_id}`, { token: key });
      assert.equal(alias.status, 200, alias.text);
      assert.equal(alias.json.chat_id, phoneChat.chat_id);
      assert.deepEqual(
        alias.json.history.map((h: any) => [h.event, h.chat_id, h.external_id]),
        [["merged", lidChat.chat_id, lid]],
      );
      const page = await server.request("GET", new URL(lidChat.chat_url).pathname, {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.ok([200, 401].includes(page.status), `chat_url answers (${page.status})`);
      const lidMessage = (await deliveryOf("lid chat second")).message.message_id;
      const m = all.json.items.find((x: any) => x.message_id === lidMessage);
      const perma = await server.api("GET", `/api/v1/permalinks/${new URL(m.permalink).pathname.split("/")[2]}`, {
        token: key,
      });
      assert.equal(perma.json.chat_id, phoneChat.chat_id);
      const other = await createWorkspace(server);
      assert.equal(
        (await server.api("GET", `/api/v1/chats/${lidChat.chat_id}`, { token: other.api_key })).status,
        404,
        "another workspace never opens it",
      );

      const metrics = await server.request("GET", "/metrics");
      assert.match(metrics.text, /^threadline_chats_merged_total 1$/m);
    });

    it("a pair a group message reveals (participant @lid + participantAlt) serves the participant's later direct lid-only message", async () => {
      const group = fixtureJson("evolution/upsert-group-participant.json");
      group.data.key = {
        remoteJid: "120363041234500077@g.us",
        fromMe: false,
        id: id(),
        participant: "66554433221100@lid",
        participantAlt: "15551240505@s.whatsapp.net",
      };
      group.data.message = { conversation: "in the group" };
      await post(JSON.stringify(group));
      await deliveryOf("in the group");
      await post(
        upsert("upsert-lid-only.json", { remoteJid: "66554433221100@lid" }, id(), "then directly, lid only", "Diego"),
      );
      const direct = await deliveryOf("then directly, lid only");
      assert.equal(direct.chat.phone, "+15551240505");
      assert.equal(direct.message.sender.phone, "+15551240505");
    });

    it("Cloud API: a username user's chat (user_id only) takes the phone when a message gives both", async () => {
      const secret = "contacts-cloud-secret";
      const acc = await server.api("POST", "/api/v1/accounts", {
        token: key,
        body: {
          phone: "+15550783881",
          owner_email: owner,
          source: "cloud_api",
          source_config: {
            phone_number_id: "106540352242922",
            app_secret: secret,
            verify_token: "v",
            access_token: "t",
            graph_base_url: "http://127.0.0.1:9",
          },
        },
      });
      assert.equal(acc.status, 201, acc.text);
      const path = new URL(acc.json.inbound_url).pathname;
      const send = async (body: unknown) => {
        const raw = JSON.stringify(body);
        const r = await server.request("POST", path, {
          headers: {
            "content-type": "application/json",
            "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(raw).digest("hex")}`,
          },
          body: raw,
        });
        assert.equal(r.status, 200, r.text);
      };
      const first = fixtureJson("cloud-api/username-user-text.json");
      await send(first);
      const byUser = await deliveryOf("Hi, I found you through your username");
      assert.equal(byUser.chat.phone, "");
      const both = fixtureJson("cloud-api/username-user-with-phone-too.json");
      const value = both.entry[0].changes[0].value;
      value.contacts[0].user_id = "US.13491208655302741918";
      value.messages[0].from_user_id = "US.13491208655302741918";
      value.messages[0].text.body = "now with my number";
      await send(both);
      const withPhone = await deliveryOf("now with my number");
      assert.equal(withPhone.chat.chat_id, byUser.chat.chat_id, "the same chat");
      assert.equal(withPhone.chat.phone, "+16505550004");
      assert.equal(
        (await server.api("GET", `/api/v1/chats/${byUser.chat.chat_id}`, { token: key })).json.phone,
        "+16505550004",
      );
    });

    it("names: a teammate's name is never overwritten; push names fill only empty or push names; an address-book name beats a push name", async () => {
      const phoneJid = "15551240404@s.whatsapp.net";
      const nameNow = async (chatId: string) =>
        (await server.api("GET", `/api/v1/chats/${chatId}`, { token: key })).json.full_name;
      await post(upsert("v2-upsert-received-conversation.json", { remoteJid: phoneJid }, id(), "n1", undefined));
      const chatId = (await deliveryOf("n1")).chat.chat_id;
      assert.equal(await nameNow(chatId), "+15551240404", "no name yet: the phone");
      await post(upsert("v2-upsert-received-conversation.json", { remoteJid: phoneJid }, id(), "n2", "Bia"));
      assert.equal(await nameNow(chatId), "Bia", "a push name fills an empty name");
      await post(upsert("v2-upsert-received-conversation.json", { remoteJid: phoneJid }, id(), "n3", "Bia Souza"));
      assert.equal(await nameNow(chatId), "Bia Souza", "and replaces a push name");

      // An address-book name (an API client's, by default) beats push names.
      const api = (ext: string, name: string | undefined, text: string, extra: Record<string, unknown> = {}) =>
        server.api("POST", "/api/v1/messages", {
          token: key,
          body: {
            messages: [
              {
                account_phone: "+15557654322",
                chat: { external_id: phoneJid, phone: "+15551240404", ...(name ? { full_name: name } : {}), ...extra },
                external_id: ext,
                direction: "received",
                timestamp: 1732011000,
                type: "text",
                text,
              },
            ],
          },
        });
      assert.equal((await api("api-n4", "Beatriz Souza (agenda)", "n4")).status, 202);
      assert.equal(await nameNow(chatId), "Beatriz Souza (agenda)");
      await post(upsert("v2-upsert-received-conversation.json", { remoteJid: phoneJid }, id(), "n5", "Bia 🌸"));
      assert.equal(await nameNow(chatId), "Beatriz Souza (agenda)", "a push name never replaces an address-book name");

      // A teammate's name wins over everything a gateway sends afterwards.
      const p = await server.api("PATCH", `/api/v1/chats/${chatId}`, {
        token: key,
        body: { full_name: "Beatriz — VIP customer" },
      });
      assert.equal(p.status, 200, p.text);
      assert.equal(p.json.full_name, "Beatriz — VIP customer");
      await post(upsert("v2-upsert-received-conversation.json", { remoteJid: phoneJid }, id(), "n6", "Bia again"));
      assert.equal((await api("api-n7", "Someone Else", "n7")).status, 202);
      assert.equal(await nameNow(chatId), "Beatriz — VIP customer");
      assert.equal(
        (await deliveryOf("n7")).chat.full_name,
        "Beatriz — VIP customer",
        "payloads carry the teammate's name",
      );

      // The route's input is checked, and it is the workspace's own.
      const bad = [
        [{}, 400],
        [{ full_name: "" }, 400],
        [{ full_name: "   " }, 400],
        [{ full_name: "x".repeat(1025) }, 400],
        [{ full_name: "a\u0000b" }, 400],
      ] as const;
      for (const [body, status] of bad)
        assert.equal(
          (await server.api("PATCH", `/api/v1/chats/${chatId}`, { token: key, body })).status,
          status,
          JSON.stringify(body),
        );
      assert.equal(
        (
          await server.request("PATCH", `/api/v1/chats/${chatId}`, {
            headers: { "content-type": "application/json" },
            body: '{"full_name":"x"}',
          })
        ).status,
        401,
      );
      const other = await createWorkspace(server);
      assert.equal(
        (await server.api("PATCH", `/api/v1/chats/${chatId}`, { token: other.api_key, body: { full_name: "mine" } }))
          .status,
        404,
      );
      const odd = await server.api("PATCH", `/api/v1/chats/${chatId}`, {
        token: key,
        body: { full_name: "$& <b>Bea</b>" },
      });
      assert.equal(odd.json.full_name, "$& <b>Bea</b>", "kept as given; pages escape it");
    });

    it("an open 1 h window holding both chats' messages is delivered as one bundle", async () => {
      const B = nextBoundary(await serverNow(server), 1);
      await advanceTo(server, B + 5 * MINUTE);
      const hook = await server.api("POST", "/api/v1/webhooks", {
        token: key,
        body: { url: `${receiver.url}?t=hourly`, aggregation: "1h" },
      });
      assert.equal(hook.status, 201, hook.text);
      const lid = "55443322110099@lid";
      const phoneJid = "15551240303@s.whatsapp.net";
      await post(upsert("v2-upsert-received-conversation.json", { remoteJid: phoneJid }, id(), "w: by phone", "Ana"));
      await post(upsert("upsert-lid-only.json", { remoteJid: lid }, id(), "w: by lid", "Ana"));
      await post(
        upsert(
          "upsert-lid-remotejidalt.json",
          { remoteJid: lid, remoteJidAlt: phoneJid, addressingMode: "lid" },
          id(),
          "w: both",
          "Ana",
        ),
      );
      await advanceTo(server, B + HOUR + 1000);
      const [bundle] = await waitForCount(receiver, "t=hourly", 1, "the window's bundle");
      await new Promise((r) => setTimeout(r, 500));
      const bundles = received(receiver, "t=hourly").filter((r) => r.json.chat.phone === "+15551240303");
      assert.equal(bundles.length, 1, "one bundle for the contact");
      validateBundle(bundle!.json);
      assert.deepEqual(bundles[0]!.json.messages.map((m: any) => m.text).sort(), [
        "w: both",
        "w: by lid",
        "w: by phone",
      ]);
    });
  });
}
