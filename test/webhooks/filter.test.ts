// Filters per webhook (issue #15): each dimension, a change, an aggregated webhook, the
// cursor passing over what is excluded, and validation.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { advanceTo, HOUR, MINUTE, nextBoundary, serverNow } from "../helpers/clock.js";
import { received, Receiver, waitForCount } from "../helpers/receiver.js";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import {
  assertError,
  createWebhook,
  entry,
  idsOf,
  ingest,
  space,
  waitFailures,
  type Space,
} from "../helpers/workspace.js";

const ALL = { direction: "both", accounts: null, chats: "both", responsible: null };

for (const database of DATABASES)
  describe(`webhook filters (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let s: Space;
    let phoneB: string;
    const dana = { full_name: "Dana Filter", email: "dana.filter@example.com" };
    before(async () => {
      [server, receiver] = await Promise.all([TestServer.start({ database }), Receiver.start()]);
      s = await space(server);
      phoneB = s.phone.replace(/\d{4}$/, (d) => String((Number(d) + 5000) % 10000).padStart(4, "0"));
      const acc = await server.api("POST", "/api/v1/accounts", {
        token: s.key,
        body: { phone: phoneB, owner_email: s.owner.email, source: "api" },
      });
      assert.equal(acc.status, 201, acc.text);
      const t = await server.api("POST", "/api/v1/teammates", { token: s.key, body: dana });
      assert.equal(t.status, 201, t.text);
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
    });

    /** The webhook's cursor once what its consumer buffered is written (GET flushes the writer). */
    async function cursorOf(id: string): Promise<number> {
      const r = await server.api("GET", `/api/v1/webhooks/${id}`, { token: s.key });
      assert.equal(r.status, 200, r.text);
      const [row] = await server.sql<{ cursor_seq: number }>("select cursor_seq from webhooks where id = ?", [id]);
      return Number(row!.cursor_seq);
    }
    async function head(): Promise<number> {
      const [row] = await server.sql<{ seq: number }>("select max(seq) as seq from messages where workspace_id = ?", [
        s.workspace.id,
      ]);
      return Number(row!.seq);
    }
    /** Waits until every webhook's cursor is at the log's head: all it will ever send of it is sent. */
    async function settled(ids: string[]): Promise<void> {
      const h = await head();
      for (const id of ids)
        await waitFor(async () => (await cursorOf(id)) >= h || undefined, `the cursor of ${id} at ${h}`);
    }
    const texts = (tag: string) =>
      received(receiver, tag)
        .map((r) => r.json.message.text as string)
        .sort();
    async function logCount(id: string): Promise<number> {
      const [row] = await server.sql<{ n: number }>("select count(*) as n from webhook_requests where webhook_id = ?", [
        id,
      ]);
      return Number(row!.n);
    }

    it("each dimension delivers only what matches; what is excluded is not logged or counted and does not hold the cursor", async () => {
      const hooks = {
        all: await createWebhook(server, s.key, `${receiver.url}?t=all`),
        received: await createWebhook(server, s.key, `${receiver.url}?t=received`, {
          filter: { direction: "received" },
        }),
        accountB: await createWebhook(server, s.key, `${receiver.url}?t=accountB`, { filter: { accounts: [phoneB] } }),
        groups: await createWebhook(server, s.key, `${receiver.url}?t=groups`, { filter: { chats: "group" } }),
        dana: await createWebhook(server, s.key, `${receiver.url}?t=dana`, {
          filter: { responsible: [dana.email.toUpperCase()] },
        }),
      };
      const read = await server.api("GET", `/api/v1/webhooks/${hooks.dana.id}`, { token: s.key });
      assert.deepEqual(
        read.json.filter,
        { ...ALL, responsible: [dana.email] },
        "answered with defaults, e-mails normalised",
      );
      const plain = await server.api("GET", `/api/v1/webhooks/${hooks.all.id}`, { token: s.key });
      assert.deepEqual(plain.json.filter, ALL);

      // The chat is assigned to Dana after its first message: the filter reads the current responsible.
      const [first] = idsOf(
        await ingest(server, s, [entry(s, { contact: "972548000001", text: "x0 before assignment" })]),
      );
      await settled(Object.values(hooks).map((h) => h.id));
      const [chat] = await server.sql<{ chat_id: number }>("select chat_id from messages where id = ?", [first]);
      const assign = await server.api("PATCH", `/api/v1/chats/${chat!.chat_id}`, {
        token: s.key,
        body: { responsible_email: dana.email },
      });
      assert.equal(assign.status, 200, assign.text);

      // Switched off, the same filters: what waits for each (`pending_messages`) is what it would deliver.
      const paused: Record<string, string> = {};
      for (const [name, filter] of [
        ["all", {}],
        ["received", { direction: "received" }],
        ["accountB", { accounts: [phoneB] }],
        ["groups", { chats: "group" }],
        ["dana", { responsible: [dana.email] }],
      ] as const) {
        paused[name] = (
          await createWebhook(server, s.key, `${receiver.url}?t=paused-${name}`, { filter, enabled: false })
        ).id;
      }

      const group = { external_id: "120363041234567890@g.us", full_name: "Filter group", is_group: true, phone: "" };
      await ingest(server, s, [
        entry(s, { contact: "972548000001", text: "x1 received A dana" }),
        entry(s, { contact: "972548000002", text: "y1 sent A", direction: "sent" }),
        entry(
          { phone: phoneB },
          { text: "g1 received B group", chat: group, sender: { full_name: "Someone", phone: "+972548000009" } },
        ),
        entry({ phone: phoneB }, { contact: "972548000003", text: "z1 sent B", direction: "sent" }),
      ]);
      await settled(Object.values(hooks).map((h) => h.id));

      assert.deepEqual(texts("t=all"), [
        "g1 received B group",
        "x0 before assignment",
        "x1 received A dana",
        "y1 sent A",
        "z1 sent B",
      ]);
      assert.deepEqual(texts("t=received"), ["g1 received B group", "x0 before assignment", "x1 received A dana"]);
      assert.deepEqual(texts("t=accountB"), ["g1 received B group", "z1 sent B"]);
      assert.deepEqual(texts("t=groups"), ["g1 received B group"]);
      assert.deepEqual(texts("t=dana"), ["x1 received A dana"]);
      // Not deliveries, not errors: the request log holds the matching ones only, nothing failed.
      for (const [name, n] of [
        ["all", 5],
        ["received", 3],
        ["accountB", 2],
        ["groups", 1],
        ["dana", 1],
      ] as const) {
        assert.equal(await logCount(hooks[name].id), n, `${name}: request log`);
        const stats = await server.api("GET", `/api/v1/webhooks/${hooks[name].id}/stats`, { token: s.key });
        const totals = stats.json.buckets.reduce(
          (a: { d: number; f: number }, b: { delivered: number; failed: number }) => ({
            d: a.d + b.delivered,
            f: a.f + b.failed,
          }),
          { d: 0, f: 0 },
        );
        assert.deepEqual(totals, { d: n, f: 0 }, `${name}: stats`);
        assert.equal(
          (await server.api("GET", `/api/v1/webhooks/${hooks[name].id}`, { token: s.key })).json.consecutive_failures,
          0,
        );
      }
      for (const [name, n] of [
        ["all", 4],
        ["received", 2],
        ["accountB", 2],
        ["groups", 1],
        ["dana", 1],
      ] as const) {
        const w = await server.api("GET", `/api/v1/webhooks/${paused[name]}`, { token: s.key });
        assert.equal(w.json.enabled, false);
        assert.equal(w.json.pending_messages, n, `${name}: pending_messages`);
      }
      // The groups webhook's last matching message is g1; the cursor went past z1 all the same.
      assert.equal(await cursorOf(hooks.groups.id), await head());

      // A change applies from then on; a partial filter changes only the fields given.
      const p = await server.api("PATCH", `/api/v1/webhooks/${hooks.received.id}`, {
        token: s.key,
        body: { filter: { direction: "sent", chats: "direct" } },
      });
      assert.equal(p.status, 200, p.text);
      assert.deepEqual(p.json.filter, { ...ALL, direction: "sent", chats: "direct" });
      const p2 = await server.api("PATCH", `/api/v1/webhooks/${hooks.received.id}`, {
        token: s.key,
        body: { filter: { accounts: [s.phone] } },
      });
      assert.deepEqual(
        p2.json.filter,
        { ...ALL, direction: "sent", chats: "direct", accounts: [s.phone] },
        "fields left out keep their values",
      );
      const activity = await server.api("GET", `/api/v1/webhooks/${hooks.received.id}/activity`, { token: s.key });
      assert.match(activity.json.items[0].summary, /filter set to sent messages, direct chats, of \+/);
      await ingest(server, s, [
        entry(s, { contact: "972548000002", text: "y2 received A" }),
        entry(s, { contact: "972548000002", text: "y3 sent A", direction: "sent" }),
        entry({ phone: phoneB }, { contact: "972548000003", text: "z2 sent B", direction: "sent" }),
      ]);
      await settled([hooks.received.id, hooks.all.id]);
      assert.deepEqual(texts("t=received"), [
        "g1 received B group",
        "x0 before assignment",
        "x1 received A dana",
        "y3 sent A",
      ]);
      // Back to everything by giving the defaults.
      const reset = await server.api("PATCH", `/api/v1/webhooks/${hooks.received.id}`, {
        token: s.key,
        body: { filter: ALL },
      });
      assert.deepEqual(reset.json.filter, ALL);
      const [stored] = await server.sql<{ filter: string | null }>("select filter from webhooks where id = ?", [
        hooks.received.id,
      ]);
      assert.equal(stored!.filter, null, "the default is stored as null: the consumers' unfiltered path");
    });

    it("validates the filter at creation and on PATCH, naming the field and the unknown values", async () => {
      const url = `${receiver.url}?t=invalid`;
      const create = (filter: unknown) =>
        server.api("POST", "/api/v1/webhooks", { token: s.key, body: { url, filter } });
      assertError(await create({ direction: "incoming" }), 400, "VALIDATION_ERROR", "filter.direction");
      assertError(await create({ chats: "channels" }), 400, "VALIDATION_ERROR", "filter.chats");
      const acc = assertError(
        await create({ accounts: [s.phone, "+15550001234"] }),
        400,
        "VALIDATION_ERROR",
        "+15550001234",
      );
      assert.equal(acc.field, "filter.accounts");
      const resp = assertError(
        await create({ responsible: ["nobody@example.com"] }),
        400,
        "VALIDATION_ERROR",
        "nobody@example.com",
      );
      assert.equal(resp.field, "filter.responsible");
      assert.equal(assertError(await create({ accounts: [] }), 400, "VALIDATION_ERROR").field, "filter.accounts");
      assert.equal(assertError(await create({ accounts: "all" }), 400, "VALIDATION_ERROR").field, "filter.accounts");
      assertError(await create({ direction: "both", colour: "red" }), 400, "VALIDATION_ERROR", "filter.colour");
      const [created] = await server.sql<{ n: number }>("select count(*) as n from webhooks where url = ?", [url]);
      assert.equal(Number(created!.n), 0, "nothing was created");

      const w = await createWebhook(server, s.key, url, { filter: { direction: "sent" } });
      const patch = (filter: unknown) =>
        server.api("PATCH", `/api/v1/webhooks/${w.id}`, { token: s.key, body: { filter } });
      assert.equal(
        assertError(await patch({ responsible: ["ghost@example.com"] }), 400, "VALIDATION_ERROR", "ghost@example.com")
          .field,
        "filter.responsible",
      );
      assertError(await patch({ direction: 1 }), 400, "VALIDATION_ERROR", "filter.direction");
      const r = await server.api("GET", `/api/v1/webhooks/${w.id}`, { token: s.key });
      assert.deepEqual(r.json.filter, { ...ALL, direction: "sent" }, "a refused PATCH changes nothing");
      // The OpenAPI document (/docs) describes it on create and PATCH.
      const doc = (await server.api("GET", "/docs/json")).json;
      for (const [path, method] of [
        ["/api/v1/webhooks", "post"],
        ["/api/v1/webhooks/{id}", "patch"],
      ] as const) {
        const schema = doc.paths[path][method].requestBody.content["application/json"].schema;
        assert.deepEqual(
          Object.keys(schema.properties.filter.properties).sort(),
          ["accounts", "chats", "direction", "responsible"],
          `${method} ${path}`,
        );
      }
      // Another workspace's webhook stays a 404, filter or not.
      const other = await space(server);
      assert.equal(
        (
          await server.api("PATCH", `/api/v1/webhooks/${w.id}`, {
            token: other.key,
            body: { filter: { direction: "both" } },
          })
        ).status,
        404,
      );
    });

    it("excluded messages after a failing delivery wait behind it, then the cursor passes them all", async () => {
      let down = true;
      receiver.respond = (r) => (down && r.url.includes("t=retry") ? { status: 500 } : { status: 200, body: "ok" });
      const w = await createWebhook(server, s.key, `${receiver.url}?t=retry`, { filter: { direction: "received" } });
      const [r1] = idsOf(
        await ingest(server, s, [
          entry(s, { contact: "972548000011", text: "r1 received" }),
          entry(s, { contact: "972548000011", text: "s1 sent", direction: "sent" }),
          entry(s, { contact: "972548000012", text: "s2 sent", direction: "sent" }),
        ]),
      );
      await waitFailures(server, s.key, w.id, 1);
      const [row] = await server.sql<{ seq: number }>("select seq from messages where id = ?", [r1]);
      assert.ok((await cursorOf(w.id)) < Number(row!.seq), "the cursor stays behind the failing delivery");
      // What waits for this webhook is what its filter lets through: the received message, not the two sent ones.
      assert.equal((await server.api("GET", `/api/v1/webhooks/${w.id}`, { token: s.key })).json.pending_messages, 1);
      down = false;
      await server.advance(6000);
      await settled([w.id]);
      assert.deepEqual(texts("t=retry"), ["r1 received", "r1 received"]);
      assert.equal(
        (await server.api("GET", `/api/v1/webhooks/${w.id}`, { token: s.key })).json.consecutive_failures,
        0,
      );
    });

    it("an aggregated webhook's bundle holds only the matching messages; a chat with none sends no bundle", async () => {
      const B = nextBoundary(await serverNow(server), 1);
      await advanceTo(server, B + 5 * MINUTE);
      const w = await createWebhook(server, s.key, `${receiver.url}?t=bundle`, {
        aggregation: "1h",
        filter: { direction: "received" },
      });
      await ingest(server, s, [
        entry(s, { contact: "972549000001", text: "p1 received" }),
        entry(s, { contact: "972549000001", text: "p2 sent", direction: "sent" }),
        entry(s, { contact: "972549000001", text: "p3 received", timestamp: "2021-02-24T16:26:00Z" }),
        entry(s, { contact: "972549000002", text: "q1 sent", direction: "sent" }),
      ]);
      await advanceTo(server, B + HOUR + 1000);
      const [bundle] = await waitForCount(receiver, "t=bundle", 1, "the filtered bundle");
      await settled([w.id]);
      assert.equal(received(receiver, "t=bundle").length, 1, "chat Q, with only sent messages, sends no bundle");
      assert.deepEqual(
        bundle!.json.messages.map((m: { text: string }) => m.text),
        ["p1 received", "p3 received"],
      );
      assert.equal(await logCount(w.id), 1);
    });

    it("a responsible e-mail matches by one rule in delivery and in pending_messages: Ünal is ünal, even in a row stored as typed", async () => {
      const unal = { full_name: "Ünal Filter", email: "ünal.filter@example.com" };
      assert.equal((await server.api("POST", "/api/v1/teammates", { token: s.key, body: unal })).status, 201);
      const [first] = idsOf(await ingest(server, s, [entry(s, { contact: "972547000001", text: "u0 first" })]));
      const [chat] = await server.sql<{ chat_id: number }>("select chat_id from messages where id = ?", [first]);
      assert.equal(
        (
          await server.api("PATCH", `/api/v1/chats/${chat!.chat_id}`, {
            token: s.key,
            body: { responsible_email: unal.email },
          })
        ).status,
        200,
      );
      // A row written before e-mails were normalised keeps its capitals (SQLite's lower() leaves Ü as it is).
      await server.sql("update teammates set email = ? where workspace_id = ? and email = ?", [
        "Ünal.Filter@example.com",
        s.workspace.id,
        unal.email,
      ]);
      const filter = { responsible: ["ÜNAL.FILTER@example.com"] };
      const live = await createWebhook(server, s.key, `${receiver.url}?t=unal`, { filter });
      const paused = await createWebhook(server, s.key, `${receiver.url}?t=unal-paused`, { filter, enabled: false });
      await ingest(server, s, [
        entry(s, { contact: "972547000001", text: "u1 assigned" }),
        entry(s, { contact: "972547000002", text: "u2 other chat" }),
      ]);
      await settled([live.id]);
      assert.deepEqual(texts("t=unal"), ["u1 assigned"]);
      assert.equal(
        (await server.api("GET", `/api/v1/webhooks/${paused.id}`, { token: s.key })).json.pending_messages,
        1,
        "u1, as the consumer delivers it",
      );
    });
  });
