/**
 * Server-rendered pages from user text: a message or a chat name holding `$&`, `` $` ``,
 * `$'` or `$$` (String.replace's replacement patterns) appears literally; the page's own
 * head is never copied into its body. A permalink page highlights its message, and asks a
 * signed-out visitor to sign in.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DATABASES, TestServer } from "../helpers/server.js";
import { escapeHtml } from "../../src/html.js";
import { message, send, victim, type Victim } from "../helpers/security.js";

const NASTY = "a $` b $' c $& d $$ e $1 f $<name> g";

for (const database of DATABASES) {
  describe(`server-rendered pages with replacement patterns in user text (${database})`, () => {
    let server: TestServer;
    let v: Victim;
    before(async () => {
      server = await TestServer.start({ database });
      v = await victim(server, "Acme", { text: NASTY, chatName: `Name ${NASTY}` });
      const r = await server.api("POST", "/api/v1/messages", {
        token: v.key,
        body: { messages: [message({ text: "$'" }), message({ text: "$`" })] },
      });
      assert.equal(r.status, 202, r.text);
    });
    after(async () => {
      await server?.stop();
    });

    const assertOnePage = (html: string) => {
      assert.equal(html.match(/<!doctype html>/gi)?.length, 1, "one document");
      assert.equal(html.match(/<head>/g)?.length, 1, "one head");
      assert.equal(html.match(/<title>/g)?.length, 1, "one title");
      assert.equal(html.match(/<div id="root">/g)?.length, 1, "one root");
    };

    it("the conversation page shows the text literally, title and body", async () => {
      const r = await send(server, "GET", `/chat/${v.chatId}/messages/`, { cookie: v.cookie });
      assert.equal(r.status, 200, r.text);
      assertOnePage(r.text);
      const texts = [...r.text.matchAll(/<div class="text">([\s\S]*?)<\/div>/g)].map((m) => m[1]);
      assert.deepEqual(texts, [escapeHtml(NASTY), escapeHtml("$'"), escapeHtml("$`")]);
      assert.ok(
        r.text.includes(`<title>${escapeHtml(`Name ${NASTY}`)} · Threadline</title>`),
        "the title holds the name literally",
      );
    });

    it("the permalink page too: signed out a sign-in form; signed in, its one message highlighted", async () => {
      const msgs = await server.api("GET", `/api/v1/chats/${v.chatId}/messages`, { token: v.key });
      const target = msgs.json.items[0];
      const permalink = new URL(target.permalink).pathname;
      assert.match(permalink, /^\/permalink\/[0-9a-f-]{36}\/$/);
      const r = await send(server, "GET", permalink, { cookie: v.cookie });
      assert.equal(r.status, 200, r.text);
      assertOnePage(r.text);
      assert.ok(r.text.includes(`<div class="text">${escapeHtml(NASTY)}</div>`));
      const highlighted = [...r.text.matchAll(/<li [^>]*data-highlighted="true"[^>]*>/g)].map((m) => m[0]);
      assert.equal(highlighted.length, 1, "exactly one message is highlighted");
      assert.match(highlighted[0]!, new RegExp(`data-message-id="${target.message_id}"`));

      const anon = await send(server, "GET", permalink, {});
      assert.match(anon.text, /<form[^>]*action="\/signin"/, "a signed-out visitor gets a sign-in form");
      assert.match(anon.text, /name="password"/);
      assert.doesNotMatch(anon.text, /data-highlighted/);
    });

    it("the sign-in page with a next holding the patterns", async () => {
      const r = await send(server, "GET", `/chat/${v.chatId}/messages/?x=${encodeURIComponent("$`$'$&")}`, {});
      assert.equal(r.status, 200);
      assertOnePage(r.text);
    });
  });
}
