// The operator deletes a workspace (issue 24, item 5): its webhooks deliver nothing more (a
// real receiver), its keys and sessions get 401, its data is gone, and another workspace (and
// a person of both, by e-mail) is untouched. On both databases.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES, OPERATOR_TOKEN, TestServer, createWorkspace, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { as, invite, ownerOf, PASSWORD, signInApi, type Person } from "../helpers/people.js";
import { createWebhook, entry, ingest, space, type Space, type WebhookRef } from "../helpers/workspace.js";

const SHARED = "shared.person@delete-ws.example";

for (const database of DATABASES) {
  describe(`deleting a workspace (${database})`, () => {
    let server: TestServer;
    let doomedReceiver: Receiver;
    let keptReceiver: Receiver;
    let doomed: Space & { webhook: WebhookRef };
    let kept: Space & { webhook: WebhookRef };
    let doomedOwner: Person;
    let keptOwner: Person;
    const del = (id: string, token?: string) => server.api("DELETE", `/api/v1/workspaces/${id}`, { token });

    before(async () => {
      server = await TestServer.start({ database, env: { THREADLINE_RATE_LIMIT_SIGNIN: "0" } });
      doomedReceiver = await Receiver.start();
      keptReceiver = await Receiver.start();
      doomed = await space(server, { receiver: doomedReceiver, owner: { full_name: "Shared Person", email: SHARED } });
      kept = await space(server, { receiver: keptReceiver });
      doomedOwner = await ownerOf(server, doomed.workspace);
      keptOwner = await ownerOf(server, kept.workspace);
      // The same e-mail is a person of the kept workspace too.
      await invite(server, keptOwner, SHARED, "member", "Shared Person");
    });
    after(async () => {
      await server?.stop();
      await doomedReceiver?.close();
      await keptReceiver?.close();
    });

    it("refuses no credential (401), a workspace key (403), a person's session (401) and an unknown id (404)", async () => {
      assert.equal((await del(doomed.workspace.id)).status, 401);
      const key = await del(doomed.workspace.id, doomed.key);
      assert.equal(key.status, 403, key.text);
      assert.equal(key.json.error.code, "FORBIDDEN");
      const person = await as(server, doomedOwner, "DELETE", `/api/v1/workspaces/${doomed.workspace.id}`);
      assert.equal(person.status, 401, person.text);
      assert.equal((await del("ws_nope", OPERATOR_TOKEN)).status, 404);
      // A path id over its length is refused before any lookup (as on every route).
      assert.equal((await del("x".repeat(300), OPERATOR_TOKEN)).status, 414);
      assert.equal((await server.api("GET", "/api/v1/workspace", { token: doomed.key })).status, 200, "still there");
    });

    it("stops its webhooks (nothing more reaches the receiver), refuses its keys and sessions, deletes its data; the other workspace goes on", async () => {
      // The doomed webhook fails (503): its messages wait for a retry that must never come.
      doomedReceiver.respond = () => ({ status: 503, body: "down" });
      const waiting = await ingest(server, doomed, [
        entry(doomed, { text: "never after the delete" }),
        entry(doomed, { text: "nor this" }),
      ]);
      assert.equal(waiting.accepted, 2);
      await waitFor(() => doomedReceiver.requests.length >= 1 || undefined, "the doomed webhook's first attempt");
      await ingest(server, kept, [entry(kept, { text: "kept before" })]);
      await waitFor(
        () => keptReceiver.requests.some((q) => q.json?.message?.text === "kept before") || undefined,
        "the kept workspace's delivery",
      );

      const r = await del(doomed.workspace.id, OPERATOR_TOKEN);
      assert.equal(r.status, 204, r.text);
      const seen = doomedReceiver.requests.length;
      doomedReceiver.respond = () => ({ status: 200, body: "ok" });

      // Keys, sessions and the inbound path of its account: refused at once.
      assert.equal((await server.api("GET", "/api/v1/workspace", { token: doomed.key })).status, 401);
      assert.equal(
        (await server.api("POST", "/api/v1/messages", { token: doomed.key, body: { messages: [entry(doomed)] } }))
          .status,
        401,
      );
      assert.equal((await as(server, doomedOwner, "GET", "/api/v1/workspace")).status, 401);
      assert.equal((await del(doomed.workspace.id, OPERATOR_TOKEN)).status, 404, "the second delete");
      const list = await server.api("GET", "/api/v1/workspaces?limit=200", { token: OPERATOR_TOKEN });
      const ids = list.json.items.map((w: { id: string }) => w.id);
      assert.ok(!ids.includes(doomed.workspace.id) && ids.includes(kept.workspace.id));

      // Every retry would be due by now; a delivery of the kept workspace after that shows the queue moved on.
      await server.advance(3 * 3600_000);
      await ingest(server, kept, [entry(kept, { text: "kept after" })]);
      await waitFor(
        () => keptReceiver.requests.some((q) => q.json?.message?.text === "kept after") || undefined,
        "the kept workspace's delivery after",
      );
      assert.equal(doomedReceiver.requests.length, seen, "nothing of the deleted workspace went out after the answer");

      // Its rows are gone; the kept workspace's are all there.
      for (const table of [
        "messages",
        "chats",
        "accounts",
        "webhooks",
        "teammates",
        "api_keys",
        "sessions",
        "audit_log",
        "notifications",
        "invitations",
      ]) {
        const [row] = await server.sql<{ n: number | string }>(
          `select count(*) as n from ${table} where workspace_id = ?`,
          [doomed.workspace.id],
        );
        assert.equal(Number(row!.n), 0, `${table} of the deleted workspace`);
      }
      assert.equal((await server.sql(`select id from workspaces where id = ?`, [doomed.workspace.id])).length, 0);
      const chats = await server.api("GET", "/api/v1/chats", { token: kept.key });
      assert.equal(chats.status, 200);
      assert.equal(chats.json.items.length, 1);
      assert.equal(
        (await server.api("GET", `/api/v1/webhooks/${kept.webhook.id}`, { token: kept.key })).json.state,
        "ok",
      );
      assert.equal((await as(server, keptOwner, "GET", "/api/v1/me")).status, 200);

      // The person of both workspaces stays a person of the other one.
      const signIn = await signInApi(server, SHARED, PASSWORD);
      assert.equal(signIn.status, 200, signIn.text);
      assert.equal(signIn.json.workspace.id, kept.workspace.id);
    });

    it("a workspace created afterwards works as usual (nothing left behind blocks it)", async () => {
      const ws = await createWorkspace(server, { owner: { full_name: "Shared Person", email: SHARED } });
      assert.equal((await server.api("GET", "/api/v1/workspace", { token: ws.api_key })).status, 200);
    });

    it("a deletion a crash left half done (marked, nothing swept) is finished when the process starts again", async () => {
      const half = await space(server);
      await ingest(server, half, [entry(half, { text: "left behind" })]);
      const purging = await space(server);
      await ingest(server, purging, [entry(purging, { text: "purge me" })]);
      // A webhook with a replay and a sent window on record, left over with the workspace.
      const hook = await createWebhook(server, half.key, "http://127.0.0.1:9/hook");
      const at = Date.now();
      await server.sql(
        "insert into webhook_replays (id, webhook_id, state, kind, since, until, after_seq, max_seq, total, delivered, failed, position, resume_delivered, resume_failed, created_at) values (?, ?, 'done', 'messages', 0, ?, 0, 0, 0, 0, 0, 0, 0, 0, ?)",
        ["rp_left_over", hook.id, at, at],
      );
      await server.sql(
        "insert into webhook_windows (webhook_id, window_end, window_start, after_seq, max_seq, time_zone, aggregation, epoch) values (?, ?, ?, 0, 0, 'UTC', '1h', 0)",
        [hook.id, at, at - 3600_000],
      );
      // What the crash left: the marks only (as written before the sweep), nothing else.
      await server.sql("update workspaces set deleted_at = ? where id = ?", [Date.now(), half.workspace.id]);
      await server.sql("update accounts set deleted_at = ?, purging = 1 where id = ?", [Date.now(), purging.accountId]);
      server = await server.restart();
      await waitFor(
        async () =>
          (await server.sql("select id from workspaces where id = ?", [half.workspace.id])).length === 0 || undefined,
        "the workspace swept at start",
      );
      assert.equal((await server.api("GET", "/api/v1/workspace", { token: half.key })).status, 401);
      for (const table of ["webhooks", "webhook_replays", "webhook_windows"])
        assert.deepEqual(
          await server.sql(`select 1 from ${table} where ${table === "webhooks" ? "id" : "webhook_id"} = ?`, [hook.id]),
          [],
          `${table} of the left-over webhook swept`,
        );
      assert.equal(
        (await server.sql("select seq from messages where workspace_id = ?", [half.workspace.id])).length,
        0,
      );
      await waitFor(
        async () =>
          (await server.sql("select id from accounts where id = ?", [purging.accountId])).length === 0 || undefined,
        "the account purged at start",
      );
      assert.equal((await server.sql("select seq from messages where account_id = ?", [purging.accountId])).length, 0);
      // The other workspace of that process is untouched.
      assert.equal((await server.api("GET", "/api/v1/chats", { token: kept.key })).json.items.length, 1);
    });
  });
}
