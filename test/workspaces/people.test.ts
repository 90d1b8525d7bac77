// People sign in as themselves (issue 22, items 1, 3, 4 and 8): e-mail and password, a
// one-time link by e-mail, a reset by e-mail (a real SMTP server), invitations (7 days,
// once), API keys for machines, and revocation ending at once what it opened.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES, TestServer, createWorkspace, waitFor } from "../helpers/server.js";
import { startSmtp, type Mail } from "../helpers/smtp.js";
import { accept, as, cookieOf, invite, ownerOf, PASSWORD, signInApi, tokenOf, type Person } from "../helpers/people.js";
import { assertError } from "../helpers/workspace.js";

const linkIn = (mail: Mail, path: string) => {
  const m = new RegExp(`https?://\\S+/${path}/(\\S+)`).exec(mail.text);
  assert.ok(m, `a ${path} link in: ${mail.text}`);
  return m[1]!;
};

for (const database of DATABASES)
  describe(`people (${database})`, () => {
    let server: TestServer;
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    before(async () => {
      smtp = await startSmtp();
      // Many sign-ins from one address here; the limits have their own test (test/http/rate-limits.test.ts).
      server = await TestServer.start({
        database,
        env: { THREADLINE_SMTP_URL: smtp.url, THREADLINE_RATE_LIMIT_SIGNIN: "0" },
      });
    });
    after(async () => {
      await server?.stop();
      await smtp?.close();
    });
    const mailTo = (to: string, subject: RegExp, already = 0) =>
      waitFor(
        () => smtp.mails.filter((m) => m.to.includes(to) && subject.test(m.subject))[already],
        `an e-mail to ${to} (${subject})`,
      );

    it("the operator's answer keeps api_key and adds owner_invitation_url; the owner sets a password there, once, and is signed in", async () => {
      const ws = await createWorkspace(server, { owner: { full_name: "Olga Owner", email: "olga@people.example" } });
      assert.match(ws.api_key, /^tlk_/);
      assert.match(ws.owner_invitation_url, /^http:\/\/localhost:\d+\/invitation\/tli_/);
      const owner = await ownerOf(server, ws);
      const me = await as(server, owner, "GET", "/api/v1/me");
      assert.equal(me.status, 200, me.text);
      assert.deepEqual(me.json, {
        id: ws.owner.id,
        email: "olga@people.example",
        full_name: "Olga Owner",
        role: "owner",
        workspace: { id: ws.id, name: "Acme" },
      });
      // Once: the same URL again is refused, and signs nobody in.
      const again = await server.api("POST", "/api/v1/invitations/accept", {
        body: { token: tokenOf(ws.owner_invitation_url), password: "another password 123" },
      });
      assertError(again, 404, "NOT_FOUND");
      assert.equal(cookieOf(again.headers), undefined);
      // The password works; a session id is new at every sign-in.
      const a = await signInApi(server, "olga@people.example", PASSWORD);
      const b = await signInApi(server, "OLGA@people.example ", PASSWORD);
      assert.equal(a.status, 200, a.text);
      assert.ok(a.cookie && b.cookie && a.cookie !== b.cookie && a.cookie !== owner.cookie);
      const sessions = await as(server, { cookie: a.cookie }, "GET", "/api/v1/me/sessions");
      assert.equal(sessions.json.items.length, 3);
      assert.equal(sessions.json.items.filter((s: { current: boolean }) => s.current).length, 1);
      // Ending one session (another browser) signs that one out only.
      const other = sessions.json.items.find((s: { current: boolean }) => !s.current);
      assert.equal((await as(server, { cookie: a.cookie }, "DELETE", `/api/v1/me/sessions/${other.id}`)).status, 204);
      assert.equal((await as(server, { cookie: a.cookie }, "GET", "/api/v1/me")).status, 200);
      const alive = [];
      for (const c of [owner.cookie, b.cookie!])
        alive.push((await as(server, { cookie: c }, "GET", "/api/v1/me")).status);
      assert.deepEqual(alive.sort(), [200, 401], "the ended session is signed out, the other is not");
      // Signing out ends the session itself.
      assert.equal((await as(server, { cookie: a.cookie }, "DELETE", "/api/v1/session")).status, 204);
      assertError(await as(server, { cookie: a.cookie }, "GET", "/api/v1/me"), 401, "UNAUTHORIZED");
    });

    it("the same answer for an unknown e-mail and a wrong password; link and reset answers never tell whether an e-mail exists", async () => {
      const ws = await createWorkspace(server, { owner: { full_name: "Sam Same", email: "sam@people.example" } });
      await ownerOf(server, ws);
      const wrong = await signInApi(server, "sam@people.example", "not the password at all");
      const unknown = await signInApi(server, "nobody@people.example", "not the password at all");
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.json, unknown.json);
      for (const path of ["/api/v1/sign-in-links", "/api/v1/password-resets"]) {
        const known = await server.api("POST", path, { body: { email: "sam@people.example" } });
        const none = await server.api("POST", path, { body: { email: "nobody@people.example" } });
        assert.equal(known.status, 202);
        assert.deepEqual([none.status, none.json], [known.status, known.json]);
      }
      // The failed sign-in is in the audit log, never the password.
      const owner = await signInApi(server, "sam@people.example", PASSWORD);
      const log = await as(server, { cookie: owner.cookie! }, "GET", `/api/v1/audit?actor=${ws.owner.id}`);
      const failed = log.json.items.find((e: { action: string }) => e.action === "person.sign_in_failed");
      assert.ok(failed, JSON.stringify(log.json));
      assert.doesNotMatch(JSON.stringify(log.json), /not the password/);
    });

    it("a one-time sign-in link by e-mail signs in once; a reset by e-mail link sets the password and ends the old sessions", async () => {
      const ws = await createWorkspace(server, { owner: { full_name: "Lina Link", email: "lina@people.example" } });
      const owner = await ownerOf(server, ws);
      // A teammate from before people signed in: no password, gets a link.
      const t = await as(server, owner, "POST", "/api/v1/teammates", {
        full_name: "Tom Teammate",
        email: "tom@people.example",
      });
      assert.equal(t.status, 201, t.text);
      assert.equal(t.json.role, "member");
      assert.equal(
        (await server.api("POST", "/api/v1/sign-in-links", { body: { email: "tom@people.example" } })).status,
        202,
      );
      const token = linkIn(await mailTo("tom@people.example", /Sign in/), "sign-in-link");
      const signedIn = await server.api("POST", "/api/v1/sign-in-links/accept", { body: { token } });
      assert.equal(signedIn.status, 200, signedIn.text);
      assert.equal(signedIn.json.email, "tom@people.example");
      const tom = { cookie: cookieOf(signedIn.headers)! };
      assert.equal((await as(server, tom, "GET", "/api/v1/me")).json.role, "member");
      assertError(await server.api("POST", "/api/v1/sign-in-links/accept", { body: { token } }), 404, "NOT_FOUND");

      assert.equal(
        (await server.api("POST", "/api/v1/password-resets", { body: { email: "tom@people.example" } })).status,
        202,
      );
      const reset = linkIn(await mailTo("tom@people.example", /Reset/), "reset-password");
      assertError(
        await server.api("POST", "/api/v1/password-resets/accept", { body: { token: reset, password: "short" } }),
        400,
        "VALIDATION_ERROR",
      );
      const done = await server.api("POST", "/api/v1/password-resets/accept", {
        body: { token: reset, password: "tom's new password" },
      });
      assert.equal(done.status, 200, done.text);
      assertError(await as(server, tom, "GET", "/api/v1/me"), 401, "UNAUTHORIZED");
      assert.equal((await signInApi(server, "tom@people.example", "tom's new password")).status, 200);
      assertError(
        await server.api("POST", "/api/v1/password-resets/accept", {
          body: { token: reset, password: "yet another password" },
        }),
        404,
        "NOT_FOUND",
      );
    });

    it("invitations: 201 with url and expires_at, e-mailed, 7 days, once; listed and withdrawn; an e-mail already a person is refused", async () => {
      const ws = await createWorkspace(server, { owner: { full_name: "Ivy Inviter", email: "ivy@people.example" } });
      const owner = await ownerOf(server, ws);
      const r = await as(server, owner, "POST", "/api/v1/invitations", {
        email: "Nina@People.example",
        full_name: "Nina New",
        role: "admin",
      });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(Object.keys(r.json).sort(), ["email", "expires_at", "full_name", "id", "role", "url"]);
      assert.equal(r.json.email, "nina@people.example");
      const left = Date.parse(r.json.expires_at) - Date.parse(await server.advance(0));
      assert.ok(left > 7 * 24 * 3600_000 - 60_000 && left <= 7 * 24 * 3600_000, `7 days: ${left}`);
      const mail = await mailTo("nina@people.example", /invites you/);
      assert.ok(mail.text.includes(r.json.url), "the URL is e-mailed");
      const listed = await as(server, owner, "GET", "/api/v1/invitations");
      assert.equal(listed.json.items.length, 1);
      assert.doesNotMatch(JSON.stringify(listed.json), /tli_/, "the list never shows the token");
      assertError(
        await as(server, owner, "POST", "/api/v1/invitations", {
          email: "ivy@people.example",
          full_name: "Ivy",
          role: "member",
        }),
        409,
        "CONFLICT",
      );
      // Withdrawn: the URL stops working.
      const w = await as(server, owner, "POST", "/api/v1/invitations", {
        email: "wes@people.example",
        full_name: "Wes",
        role: "member",
      });
      assert.equal((await as(server, owner, "DELETE", `/api/v1/invitations/${w.json.id}`)).status, 204);
      assertError(
        await server.api("POST", "/api/v1/invitations/accept", {
          body: { token: tokenOf(w.json.url), password: PASSWORD },
        }),
        404,
        "NOT_FOUND",
      );
      // Expired after 7 days.
      const late = await as(server, owner, "POST", "/api/v1/invitations", {
        email: "late@people.example",
        full_name: "Late",
        role: "member",
      });
      await server.advance(7 * 24 * 3600_000 + 1000);
      assertError(
        await server.api("POST", "/api/v1/invitations/accept", {
          body: { token: tokenOf(late.json.url), password: PASSWORD },
        }),
        404,
        "NOT_FOUND",
      );
      // Accepted once (within the week: the clock moved, so a new one).
      const again = await as(server, owner, "POST", "/api/v1/invitations", {
        email: "nina@people.example",
        full_name: "Nina New",
        role: "admin",
      });
      const nina = await accept(server, again.json.url, PASSWORD, "Nina N.");
      assert.equal(nina.role, "admin");
      assertError(
        await server.api("POST", "/api/v1/invitations/accept", {
          body: { token: tokenOf(again.json.url), password: PASSWORD },
        }),
        404,
        "NOT_FOUND",
      );
      const people = await as(server, owner, "GET", "/api/v1/teammates");
      assert.deepEqual(
        people.json.items
          .map((p: { email: string; role: string; full_name: string }) => [p.email, p.role, p.full_name])
          .sort(),
        [
          ["ivy@people.example", "owner", "Ivy Inviter"],
          ["nina@people.example", "admin", "Nina N."],
        ],
      );
    });

    it("API keys: created with a name (the key once), listed with created_by and last_used_at, revoked at once; a key does not open the browser UI and acts as admin", async () => {
      const ws = await createWorkspace(server, { owner: { full_name: "Kai Keys", email: "kai@people.example" } });
      const owner = await ownerOf(server, ws);
      const list0 = await as(server, owner, "GET", "/api/v1/api-keys");
      assert.equal(list0.status, 200, list0.text);
      assert.deepEqual(
        list0.json.items.map((k: { name: string }) => k.name),
        ["Default key"],
      );
      const made = await as(server, owner, "POST", "/api/v1/api-keys", { name: "Zapier" });
      assert.equal(made.status, 201, made.text);
      assert.deepEqual(Object.keys(made.json).sort(), ["created_at", "created_by", "id", "key", "name"]);
      assert.equal(made.json.created_by.id, ws.owner.id);
      const key = made.json.key as string;
      assert.equal((await server.api("GET", "/api/v1/webhooks", { token: key })).status, 200);
      const list = await as(server, owner, "GET", "/api/v1/api-keys");
      const zap = list.json.items.find((k: { name: string }) => k.name === "Zapier");
      assert.deepEqual(Object.keys(zap).sort(), ["created_at", "created_by", "id", "last_used_at", "name"]);
      assert.ok(zap.last_used_at, "used once");
      assert.doesNotMatch(JSON.stringify(list.json), /tlk_/);
      // What a key does is attributed to its name; it acts as admin (not owner).
      const hook = await server.api("POST", "/api/v1/webhooks", {
        token: key,
        body: { url: "http://127.0.0.1:9/hook" },
      });
      assert.equal(hook.status, 201, hook.text);
      assert.deepEqual(hook.json.updated_by, { type: "api_key", id: made.json.id, name: "Zapier" });
      const forbidden = await server.api("PATCH", "/api/v1/workspace", { token: key, body: { name: "Mine" } });
      assertError(forbidden, 403, "FORBIDDEN");
      assert.match(forbidden.json.error.message, /owner/);
      // A key does not sign a browser in.
      assertError(await server.api("POST", "/api/v1/session", { body: { api_key: key } }), 400, "VALIDATION_ERROR");
      assertError(await server.api("GET", "/api/v1/me", { token: key }), 403, "FORBIDDEN");
      // Revoked: refused from the next request on.
      assert.equal((await as(server, owner, "DELETE", `/api/v1/api-keys/${made.json.id}`)).status, 204);
      assertError(await server.api("GET", "/api/v1/webhooks", { token: key }), 401, "UNAUTHORIZED");
      // Another workspace's key id is not found.
      const other = await createWorkspace(server, { owner: { full_name: "Oz Other", email: "oz@people.example" } });
      const otherKeys = await server.api("GET", "/api/v1/api-keys", { token: other.api_key });
      assertError(
        await as(server, owner, "DELETE", `/api/v1/api-keys/${otherKeys.json.items[0].id}`),
        404,
        "NOT_FOUND",
      );
      assert.equal((await server.api("GET", "/api/v1/workspace", { token: other.api_key })).status, 200);
    });

    it("removing a person ends every session of theirs at once and unassigns their chats; roles change; the last owner stays", async () => {
      const ws = await createWorkspace(server, { owner: { full_name: "Rita Remover", email: "rita@people.example" } });
      const owner = await ownerOf(server, ws);
      const admin = await invite(server, owner, "adam@people.example", "admin");
      const member = await invite(server, admin, "mia@people.example", "member");
      const second = await signInApi(server, "mia@people.example", PASSWORD);
      assertError(
        await as(server, admin, "POST", "/api/v1/invitations", {
          email: "o2@people.example",
          full_name: "O2",
          role: "owner",
        }),
        403,
        "FORBIDDEN",
      );
      // Assign a chat to the member.
      const acc = await server.api("POST", "/api/v1/accounts", {
        token: ws.api_key,
        body: { phone: "+15550009001", owner_email: "mia@people.example", source: "api" },
      });
      assert.equal(acc.status, 201, acc.text);
      const msg = await server.api("POST", "/api/v1/messages", {
        token: ws.api_key,
        body: {
          messages: [
            {
              account_phone: "+15550009001",
              chat: { external_id: "15550009002@s.whatsapp.net", full_name: "Client" },
              external_id: "rm-1",
              direction: "received",
              timestamp: "2026-01-01T10:00:00Z",
              type: "text",
              text: "hi",
            },
          ],
        },
      });
      assert.equal(msg.status, 202, msg.text);
      const chat = (await as(server, member, "GET", "/api/v1/chats")).json.items[0];
      assert.equal(
        (
          await as(server, member, "PATCH", `/api/v1/chats/${chat.chat_id}`, {
            responsible_email: "mia@people.example",
          })
        ).status,
        200,
      );
      // Sent by someone: a person's message names that person as the sender, whatever teammate_email says.
      const sent = await as(server, member, "POST", `/api/v1/chats/${chat.chat_id}/messages`, {
        text: "from Mia",
        teammate_email: "rita@people.example",
      });
      assert.equal(sent.status, 201, sent.text);
      assert.equal(sent.json.sender.full_name, "mia");

      assert.equal(
        (await as(server, admin, "PATCH", `/api/v1/teammates/${member.id}`, { role: "admin" })).json.role,
        "admin",
      );
      assertError(
        await as(server, admin, "PATCH", `/api/v1/teammates/${ws.owner.id}`, { role: "member" }),
        403,
        "FORBIDDEN",
      );
      assertError(
        await as(server, owner, "PATCH", `/api/v1/teammates/${ws.owner.id}`, { role: "member" }),
        409,
        "CONFLICT",
      );
      assertError(await as(server, owner, "DELETE", `/api/v1/teammates/${ws.owner.id}`), 409, "CONFLICT");

      assert.equal((await as(server, admin, "DELETE", `/api/v1/teammates/${member.id}`)).status, 204);
      assertError(await as(server, member, "GET", "/api/v1/me"), 401, "UNAUTHORIZED");
      assertError(await as(server, { cookie: second.cookie! }, "GET", "/api/v1/chats"), 401, "UNAUTHORIZED");
      assertError(await signInApi(server, "mia@people.example", PASSWORD), 401, "UNAUTHORIZED");
      assert.equal((await as(server, owner, "GET", `/api/v1/chats/${chat.chat_id}`)).json.responsible, null);
      // The account passed to the owner; messages still flow.
      assert.equal(
        (await server.api("GET", `/api/v1/accounts/${acc.json.id}`, { token: ws.api_key })).json.email,
        "rita@people.example",
      );
      // The audit log says who did it.
      const log = await as(server, owner, "GET", `/api/v1/audit?object=person:${member.id}`);
      const removed = log.json.items.find((e: { action: string }) => e.action === "person.removed");
      assert.deepEqual(removed.actor, { type: "person", id: admin.id, name: "adam" });
      assert.equal(removed.address, "127.0.0.1");
    });

    it("one workspace's person cannot reach another's objects", async () => {
      const a = await createWorkspace(server, { owner: { full_name: "A Owner", email: "a@people.example" } });
      const b = await createWorkspace(server, { owner: { full_name: "B Owner", email: "b@people.example" } });
      const ownerA: Person = await ownerOf(server, a);
      const ownerB = await ownerOf(server, b);
      const hook = await server.api("POST", "/api/v1/webhooks", {
        token: b.api_key,
        body: { url: "http://127.0.0.1:9/b" },
      });
      const inv = await as(server, ownerB, "POST", "/api/v1/invitations", {
        email: "x@people.example",
        full_name: "X",
        role: "member",
      });
      for (const [method, path, body] of [
        ["GET", `/api/v1/webhooks/${hook.json.id}`],
        ["PATCH", `/api/v1/webhooks/${hook.json.id}`, { enabled: false }],
        ["DELETE", `/api/v1/teammates/${ownerB.id}`],
        ["PATCH", `/api/v1/teammates/${ownerB.id}`, { role: "member" }],
        ["DELETE", `/api/v1/invitations/${inv.json.id}`],
      ] as const)
        assertError(await as(server, ownerA, method, path, body), 404, "NOT_FOUND");
      assert.equal((await as(server, ownerB, "GET", "/api/v1/me")).status, 200);
      assert.equal(
        (await server.api("GET", `/api/v1/webhooks/${hook.json.id}`, { token: b.api_key })).json.enabled,
        true,
      );
    });
  });
