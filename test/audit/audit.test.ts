// The audit log (issue 22, item 6): every change with its actor (a person, an API key by its
// name, Threadline itself), before → after, the client address, never a secret; filters and
// pages; `updated_by` on webhook reads and the actor on activity rows.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES, TestServer, createWorkspace, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { as, invite, ownerOf, PASSWORD, type Person } from "../helpers/people.js";
import { assertError, ingest, entry } from "../helpers/workspace.js";

for (const database of DATABASES)
  describe(`audit log (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let ws: Awaited<ReturnType<typeof createWorkspace>>;
    let owner: Person;
    let member: Person;
    before(async () => {
      [server, receiver] = await Promise.all([
        TestServer.start({ database, env: { THREADLINE_RATE_LIMIT_SIGNIN: "0" } }),
        Receiver.start(),
      ]);
      ws = await createWorkspace(server, { owner: { full_name: "Audrey Owner", email: "audrey@audit.example" } });
      owner = await ownerOf(server, ws);
      member = await invite(server, owner, "max@audit.example", "member", "Max Member");
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });
    const log = async (query = "") => {
      const r = await as(server, owner, "GET", `/api/v1/audit${query}`);
      assert.equal(r.status, 200, r.text);
      return r.json as {
        items: {
          id: string;
          at: string;
          actor: { type: string; id: string; name: string };
          action: string;
          object: { type: string; id: string };
          before: any;
          after: any;
          address: string | null;
        }[];
        next_cursor: string | null;
      };
    };

    it("a webhook's changes name who made them: in the audit log (before → after), in updated_by and in the activity", async () => {
      const key = await as(server, owner, "POST", "/api/v1/api-keys", { name: "CRM sync" });
      const made = await server.api("POST", "/api/v1/webhooks", {
        token: key.json.key,
        body: { url: `${receiver.url}/hook?token=s3cr3t-in-url` },
      });
      assert.equal(made.status, 201, made.text);
      const id = made.json.id as string;
      assert.deepEqual(made.json.updated_by, { type: "api_key", id: key.json.id, name: "CRM sync" });

      const changed = await as(server, owner, "PATCH", `/api/v1/webhooks/${id}`, { aggregation: "1h" });
      assert.equal(changed.status, 200, changed.text);
      assert.deepEqual(changed.json.updated_by, { type: "person", id: owner.id, name: "Audrey Owner" });
      const rotated = await server.api("POST", `/api/v1/webhooks/${id}/rotate-secret`, { token: key.json.key });
      assert.equal(rotated.status, 200);
      assert.equal((await as(server, owner, "PATCH", `/api/v1/webhooks/${id}`, { enabled: false })).status, 200);
      assertError(await as(server, member, "PATCH", `/api/v1/webhooks/${id}`, { enabled: true }), 403, "FORBIDDEN");

      const entries = (await log(`?object=${id}`)).items;
      assert.deepEqual(
        entries.map((e) => [e.action, e.actor.type, e.actor.name]),
        [
          ["webhook.disabled", "person", "Audrey Owner"],
          ["webhook.secret_rotated", "api_key", "CRM sync"],
          ["webhook.updated", "person", "Audrey Owner"],
          ["webhook.created", "api_key", "CRM sync"],
        ],
      );
      const update = entries.find((e) => e.action === "webhook.updated")!;
      assert.equal(update.before.aggregation, "none");
      assert.equal(update.after.aggregation, "1h");
      assert.equal(update.address, "127.0.0.1");
      assert.equal(update.object.type, "webhook");
      // Never a secret: neither the signing secret, the key, nor the URL's own credential.
      const all = JSON.stringify(await log());
      for (const secret of [made.json.secret, rotated.json.secret, key.json.key, "s3cr3t-in-url", PASSWORD])
        assert.ok(!all.includes(secret), `no ${String(secret).slice(0, 8)}… in the audit log`);

      const activity = (await server.api("GET", `/api/v1/webhooks/${id}/activity`, { token: ws.api_key })).json
        .items as { kind: string; actor?: { name: string } }[];
      assert.deepEqual(
        activity.filter((a) => a.kind !== "delivered").map((a) => [a.kind, a.actor?.name]),
        [
          ["disabled", "Audrey Owner"],
          ["updated", "CRM sync"],
          ["updated", "Audrey Owner"],
        ],
      );
    });

    it("sign-ins, failed sign-ins, invitations, keys and people are recorded; filters by actor, object and time, and pages", async () => {
      await server.api("POST", "/api/v1/session", {
        body: { email: "max@audit.example", password: "not max's password" },
      });
      const byMax = (await log(`?actor=${member.id}`)).items.map((e) => e.action);
      assert.ok(
        byMax.includes("person.sign_in_failed") &&
          byMax.includes("person.signed_in") &&
          byMax.includes("invitation.accepted"),
        byMax.join(),
      );
      const byOwner = (await log(`?actor=${owner.id}`)).items.map((e) => e.action);
      assert.ok(byOwner.includes("invitation.created") && byOwner.includes("api_key.created"), byOwner.join());
      assert.ok((await log("?actor=threadline")).items.some((e) => e.action === "workspace.created"));

      const first = await log("?limit=2");
      assert.equal(first.items.length, 2);
      assert.ok(first.next_cursor);
      const second = await log(`?limit=2&cursor=${first.next_cursor}`);
      assert.ok(Number(second.items[0]!.id) < Number(first.items[1]!.id), "the next page is older");
      const future = new Date(Date.parse(first.items[0]!.at) + 1).toISOString();
      assert.equal((await log(`?since=${future}`)).items.length, 0);
      assert.ok((await log(`?until=${future}`)).items.length > 2);
      assertError(await as(server, owner, "GET", "/api/v1/audit?since=yesterday"), 400, "VALIDATION_ERROR", "since");
      assertError(await as(server, owner, "GET", "/api/v1/audit?cursor=abc"), 400, "VALIDATION_ERROR", "cursor");

      // A member may not read it; another workspace sees none of it.
      assertError(await as(server, member, "GET", "/api/v1/audit"), 403, "FORBIDDEN", "admin");
      const other = await createWorkspace(server, { owner: { full_name: "Otto Other", email: "otto@audit.example" } });
      const theirs = await server.api("GET", "/api/v1/audit", { token: other.api_key });
      assert.deepEqual(
        theirs.json.items.map((e: { action: string }) => e.action),
        ["workspace.created"],
      );
    });

    it("Threadline's own changes are its: the automatic disable (410 Gone)", async () => {
      receiver.respond = () => ({ status: 410 });
      const acc = await server.api("POST", "/api/v1/accounts", {
        token: ws.api_key,
        body: { phone: "+15550007001", owner_email: ws.owner.email, source: "api" },
      });
      assert.equal(acc.status, 201, acc.text);
      const hook = await server.api("POST", "/api/v1/webhooks", {
        token: ws.api_key,
        body: { url: `${receiver.url}/gone` },
      });
      await ingest(server, ws.api_key, [entry({ phone: "+15550007001" })]);
      const entryOf = await waitFor(
        async () => (await log(`?object=${hook.json.id}`)).items.find((e) => e.action === "webhook.auto_disabled"),
        "the auto-disable in the audit log",
      );
      assert.deepEqual(entryOf.actor, { type: "threadline", id: "threadline", name: "Threadline" });
      assert.equal(entryOf.address, null);
      const read = await server.api("GET", `/api/v1/webhooks/${hook.json.id}`, { token: ws.api_key });
      assert.equal(read.json.enabled, false);
      assert.deepEqual(read.json.updated_by, { type: "threadline", id: "threadline", name: "Threadline" });
      // The account's creation is there too, by the Default key.
      const created = (await log(`?object=account:${acc.json.id}`)).items;
      assert.deepEqual(
        created.map((e) => [e.action, e.actor.name]),
        [["account.created", "Default key"]],
      );
    });
  });
