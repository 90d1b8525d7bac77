/**
 * `GET /api/v1/webhooks/{id}/preview?chat_id=` (issue 24, item 4), both databases: the digest
 * an hourly webhook would send for a chat now, exactly the bundle that then goes out.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { validateBundle } from "../helpers/contract.js";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import {
  assertError,
  contactNo,
  createWebhook,
  entry,
  ingest,
  space,
  type Space,
  type WebhookRef,
} from "../helpers/workspace.js";

for (const database of DATABASES) {
  describe(`digest preview (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let s: Space & { webhook: WebhookRef };
    let other: Space;
    let chat1: string;

    before(async () => {
      [server, receiver] = await Promise.all([TestServer.start({ database }), Receiver.start()]);
      s = await space(server, { receiver, aggregation: "1h" });
      other = await space(server);
      const now = Math.floor(Date.now() / 1000);
      await ingest(server, s, [
        entry(s, { contact: contactNo(1), text: "Hello <b>$1</b> 👋", timestamp: now }),
        entry(s, { contact: contactNo(2), text: "other chat", timestamp: now }),
        entry(s, { contact: contactNo(1), text: "second", timestamp: now + 1, direction: "sent" }),
      ]);
      const chats = (await server.api("GET", "/api/v1/chats", { token: s.key })).json.items as {
        chat_id: string;
        phone: string;
      }[];
      chat1 = chats.find((c) => c.phone === `+${contactNo(1)}`)!.chat_id;
    });
    after(async () => Promise.all([server?.stop(), receiver?.close()]));

    const preview = (chat: string, token = s.key, id = s.webhook.id) =>
      server.api("GET", `/api/v1/webhooks/${id}/preview?chat_id=${chat}`, { token });

    it("shows the bundle the open window would send now, which is what the flush then delivers", async () => {
      const r = await preview(chat1);
      assert.equal(r.status, 200, r.text);
      validateBundle(r.json.payload);
      assert.deepEqual(
        r.json.payload.messages.map((m: { text: string }) => m.text),
        ["Hello <b>$1</b> 👋", "second"],
      );
      assert.match(
        r.json.payload.aggregation,
        /Hello &lt;b&gt;\$1&lt;\/b&gt; 👋/,
        "the digest escapes what people wrote",
      );
      assert.equal(r.json.parts, 1);
      assert.equal(r.json.more, false);

      assert.equal((await server.api("POST", `/api/v1/webhooks/${s.webhook.id}/flush`, { token: s.key })).status, 200);
      const sent = await waitFor(
        () => receiver.requests.find((q) => q.json?.chat?.chat_id === chat1),
        "the flushed bundle of the chat",
      );
      assert.deepEqual(sent.json, r.json.payload, "the preview is the bundle that went out");
      assertError(await preview(chat1), 404, "NOT_FOUND");
    });

    it("refuses what has no digest or is not the workspace's", async () => {
      assertError(await preview(chat1, ""), 401, "UNAUTHORIZED");
      assertError(
        await server.api("GET", `/api/v1/webhooks/${s.webhook.id}/preview`, { token: s.key }),
        400,
        "VALIDATION_ERROR",
        "chat_id",
      );
      const theirs = await ingest(server, other, [entry(other, { contact: contactNo(9), text: "theirs" })]);
      const theirChat = (await server.api("GET", "/api/v1/chats", { token: other.key })).json.items[0]
        .chat_id as string;
      assert.ok(theirs.accepted === 1);
      assertError(await preview(theirChat), 404, "NOT_FOUND");
      const plain = await createWebhook(server, s.key, receiver.url);
      assertError(await preview(chat1, s.key, plain.id), 404, "NOT_FOUND");
    });
  });
}
