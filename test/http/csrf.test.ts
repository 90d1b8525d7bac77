/**
 * CSRF: a page on another origin (another site, another port of the same host) makes the
 * victim's browser post with the victim's session cookie. Every such state change is
 * refused before anything is parsed, and nothing changes; bearer-key requests are unaffected.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DATABASES, TestServer } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { crossSiteForm, form, send, victim, type Victim } from "../helpers/security.js";

for (const database of DATABASES) {
  describe(`CSRF (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let v: Victim;
    before(async () => {
      [server, receiver] = await Promise.all([TestServer.start({ database }), Receiver.start()]);
      v = await victim(server);
    });
    after(async () => {
      await Promise.all([server?.stop(), receiver?.close()]);
    });

    const refused = (r: { status: number; json: any; text: string }) => {
      assert.equal(r.status, 403, r.text);
      assert.equal(r.json?.error?.code, "CROSS_ORIGIN");
    };
    const state = async () => {
      const [hooks, ws, msgs, accounts] = await Promise.all([
        server.api("GET", "/api/v1/webhooks", { token: v.key }),
        server.api("GET", "/api/v1/workspace", { token: v.key }),
        server.api("GET", `/api/v1/chats/${v.chatId}/messages`, { token: v.key }),
        server.api("GET", "/api/v1/accounts", { token: v.key }),
      ]);
      return {
        webhooks: hooks.json.items.length,
        name: ws.json.name,
        messages: msgs.json.items.length,
        accounts: accounts.json.items.length,
      };
    };

    it("a cross-origin form with the victim's cookie cannot create a webhook, send a message, rename the workspace or delete an account", async () => {
      const before = await state();
      const accountId = (await server.api("GET", "/api/v1/accounts", { token: v.key })).json.items[0].id;
      for (const origin of ["http://evil.example", new URL(server.url).origin.replace(/:\d+$/, ":1"), "null"]) {
        refused(
          await send(server, "POST", "/api/v1/webhooks", crossSiteForm(v.cookie, origin), form({ url: receiver.url })),
        );
        refused(
          await send(
            server,
            "POST",
            `/api/v1/chats/${v.chatId}/messages`,
            crossSiteForm(v.cookie, origin),
            form({ text: "sent by the attacker" }),
          ),
        );
        // A form cannot PATCH, but a page's fetch can try (the preflight is not what protects us).
        refused(
          await send(
            server,
            "PATCH",
            "/api/v1/workspace",
            { ...crossSiteForm(v.cookie, origin), "content-type": "application/json" },
            JSON.stringify({ name: "Pwned" }),
          ),
        );
        refused(
          await send(server, "DELETE", `/api/v1/accounts/${accountId}?purge=true`, crossSiteForm(v.cookie, origin), ""),
        );
        // text/plain is a "simple" content type a form can send: a JSON body in disguise.
        refused(
          await send(
            server,
            "POST",
            "/api/v1/webhooks",
            { ...crossSiteForm(v.cookie, origin), "content-type": "text/plain" },
            JSON.stringify({ url: receiver.url }),
          ),
        );
      }
      assert.deepEqual(await state(), before, "nothing changed");
      assert.equal(receiver.requests.length, 0);
    });

    it("sending: a cross-origin page with the cookie cannot send or make a send URL; the send URL itself works cross-origin without a cookie", async () => {
      const json = (headers: Record<string, string>) => ({ ...headers, "content-type": "application/json" });
      const body = JSON.stringify({ phone: "+15550009101", text: "sent by the attacker" });
      refused(
        await send(server, "POST", "/api/v1/messages/send", json(crossSiteForm(v.cookie, "http://evil.example")), body),
      );
      refused(
        await send(
          server,
          "POST",
          "/api/v1/messages/send",
          crossSiteForm(v.cookie, "http://evil.example"),
          form({ phone: "+15550009101", text: "x" }),
        ),
      );
      refused(await send(server, "POST", "/api/v1/send-url", crossSiteForm(v.cookie, "http://evil.example")));
      assert.equal((await server.api("GET", "/api/v1/send-url", { token: v.key })).json.url, null);
      assert.deepEqual(await server.sql("select id from send_queue"), [], "nothing was queued");
      // The send URL is a credential of its own: a tool on another origin, without a cookie, may use it.
      const made = await server.api("POST", "/api/v1/send-url", { token: v.key });
      const path = new URL(made.json.url).pathname;
      const ok = await send(
        server,
        "POST",
        path,
        { origin: "https://crm.example.com", "content-type": "application/json" },
        JSON.stringify({ phone: "+15550009102", text: "from the CRM" }),
      );
      assert.equal(ok.status, 202, ok.text);
      // No exemption: the same request carrying the session cookie is checked like any other.
      refused(await send(server, "POST", path, json(crossSiteForm(v.cookie, "http://evil.example")), body));
    });

    it("with the cookie and no Origin: refused unless Sec-Fetch-Site says same-origin", async () => {
      const body = JSON.stringify({ name: "Renamed" });
      refused(
        await send(
          server,
          "PATCH",
          "/api/v1/workspace",
          { cookie: v.cookie, "content-type": "application/json" },
          body,
        ),
      );
      refused(
        await send(
          server,
          "PATCH",
          "/api/v1/workspace",
          { cookie: v.cookie, "sec-fetch-site": "cross-site", "content-type": "application/json" },
          body,
        ),
      );
      refused(
        await send(
          server,
          "PATCH",
          "/api/v1/workspace",
          { cookie: v.cookie, "sec-fetch-site": "same-site", "content-type": "application/json" },
          body,
        ),
      );
      assert.equal((await state()).name, "Acme");
      const ok = await send(
        server,
        "PATCH",
        "/api/v1/workspace",
        { cookie: v.cookie, "sec-fetch-site": "same-origin", "content-type": "application/json" },
        body,
      );
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await state()).name, "Renamed");
    });

    it("the UI's own requests (Origin = Threadline) work with the cookie", async () => {
      const origin = new URL(server.url).origin;
      const r = await send(
        server,
        "PATCH",
        "/api/v1/workspace",
        { cookie: v.cookie, origin, "content-type": "application/json" },
        JSON.stringify({ name: "Acme" }),
      );
      assert.equal(r.status, 200, r.text);
      const hook = await send(
        server,
        "POST",
        "/api/v1/webhooks",
        { cookie: v.cookie, origin, "content-type": "application/json" },
        JSON.stringify({ url: receiver.url }),
      );
      assert.equal(hook.status, 201, hook.text);
      const del = await send(server, "DELETE", `/api/v1/webhooks/${hook.json.id}`, { cookie: v.cookie, origin });
      assert.equal(del.status, 204);
    });

    it("form bodies are accepted only where a form posts (/signin): the API answers 415 even with a key", async () => {
      const r = await send(
        server,
        "POST",
        "/api/v1/webhooks",
        { authorization: `Bearer ${v.key}`, "content-type": "application/x-www-form-urlencoded" },
        form({ url: receiver.url }),
      );
      assert.equal(r.status, 415, r.text);
      assert.equal(r.json.error.code, "UNSUPPORTED_MEDIA_TYPE");
      assert.equal((await state()).webhooks, 0);
    });

    it("bearer-key requests are unaffected by Origin (a page cannot set Authorization)", async () => {
      const r = await send(
        server,
        "POST",
        "/api/v1/webhooks/check-target",
        { authorization: `Bearer ${v.key}`, origin: "http://evil.example", "content-type": "application/json" },
        JSON.stringify({ url: "https://example.com/" }),
      );
      assert.equal(r.status, 200, r.text);
    });

    it("signing out from another origin is refused (the session stays valid)", async () => {
      refused(await send(server, "DELETE", "/api/v1/session", crossSiteForm(v.cookie)));
      const me = await send(server, "GET", "/api/v1/session", { cookie: v.cookie });
      assert.equal(me.status, 200);
    });

    it("login CSRF: a cross-site form cannot sign the victim into the attacker's workspace", async () => {
      const attacker = await victim(server, "Attacker");
      const viaForm = await send(
        server,
        "POST",
        "/signin",
        crossSiteForm("", "http://evil.example"),
        form({ email: attacker.email, password: attacker.password, next: "/" }),
      );
      refused(viaForm);
      assert.equal(viaForm.headers.get("set-cookie"), null);
      const viaApi = await send(
        server,
        "POST",
        "/api/v1/session",
        { origin: "http://evil.example", "content-type": "application/json" },
        JSON.stringify({ email: attacker.email, password: attacker.password }),
      );
      refused(viaApi);
      assert.equal(viaApi.headers.get("set-cookie"), null);
      // The other sign-in routes (an invitation, a link, a reset) are held to the same rule.
      for (const route of [
        "/api/v1/invitations/accept",
        "/api/v1/sign-in-links/accept",
        "/api/v1/password-resets/accept",
        "/api/v1/sign-in-links",
      ]) {
        const r = await send(
          server,
          "POST",
          route,
          { origin: "http://evil.example", "content-type": "application/json" },
          JSON.stringify({ token: "tli_x", password: "a long password", email: v.email }),
        );
        refused(r);
        assert.equal(r.headers.get("set-cookie"), null, route);
      }
      // Our own sign-in form still works.
      const own = await send(
        server,
        "POST",
        "/signin",
        { origin: new URL(server.url).origin, "content-type": "application/x-www-form-urlencoded" },
        form({ email: v.email, password: v.password, next: "/webhooks" }),
      );
      assert.equal(own.status, 303, own.text);
      assert.equal(own.headers.get("location"), "/webhooks");
    });
  });
  describe(`CSRF with a public URL other than the address in use (${database})`, () => {
    let server: TestServer;
    let v: Victim;
    before(async () => {
      server = await TestServer.start({ database, env: { THREADLINE_PUBLIC_URL: "https://threadline.example.test" } });
      v = await victim(server);
    });
    after(async () => server?.stop());

    it("a page served at the address the request goes to is Threadline's own; another port or host of it is not", async () => {
      const own = new URL(server.url).origin;
      const signIn = await send(
        server,
        "POST",
        "/signin",
        { origin: own, "content-type": "application/x-www-form-urlencoded" },
        form({ email: v.email, password: v.password, next: "/" }),
      );
      assert.equal(signIn.status, 303, signIn.text);
      // Behind https (the public URL), the session cookie is Secure.
      assert.match(signIn.headers.get("set-cookie") ?? "", /tl_session=[^;]+;.*\bSecure\b/i);
      const body = JSON.stringify({ name: "Renamed here" });
      const ok = await send(
        server,
        "PATCH",
        "/api/v1/workspace",
        { cookie: v.cookie, origin: own, "content-type": "application/json" },
        body,
      );
      assert.equal(ok.status, 200, ok.text);
      for (const origin of [own.replace(/:\d+$/, ":1"), "http://localhost:1", "https://evil.threadline.example.test"]) {
        const r = await send(
          server,
          "PATCH",
          "/api/v1/workspace",
          { cookie: v.cookie, origin, "content-type": "application/json" },
          JSON.stringify({ name: "Pwned" }),
        );
        assert.equal(r.status, 403, `${origin}: ${r.text}`);
      }
      assert.equal((await server.api("GET", "/api/v1/workspace", { token: v.key })).json.name, "Renamed here");
    });
  });
}
