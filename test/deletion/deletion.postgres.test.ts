// Deleting across processes (issue 24, item 5): an account deleted through A stops being
// served by B (which held it in its cache) as soon as the change is announced; a workspace
// deleted through B, whose webhook A holds, delivers nothing after B's answer.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { FIXTURES } from "../helpers/contract.js";
import { OPERATOR_TOKEN, waitFor } from "../helpers/server.js";
import { entry, ingest } from "../helpers/workspace.js";
import { twoProcesses } from "../helpers/postgres.js";

const raw = readFileSync(path.join(FIXTURES, "waha/webjs-received-direct.json"), "utf8");
function variant(tag: string): string {
  const body = JSON.parse(raw);
  body.payload.id = `${body.payload.id}_${tag}`;
  body.payload.body = `text ${tag}`;
  return JSON.stringify(body);
}

describe("deleting accounts and workspaces with two processes", () => {
  const f = twoProcesses();

  it("an account deleted through A: B answers its inbound URL 404 once the change is announced, and keeps serving another account's", async () => {
    const { a, b, s } = f;
    const create = async (phone: string) => {
      const r = await a.api("POST", "/api/v1/accounts", {
        token: s.key,
        body: {
          phone,
          owner_email: s.owner.email,
          source: "waha",
          source_config: { base_url: "http://127.0.0.1:9", api_key: "k", session: "default" },
        },
      });
      assert.equal(r.status, 201, r.text);
      return { id: r.json.id as string, path: new URL(r.json.inbound_url).pathname };
    };
    const doomed = await create("+15557654331");
    const other = await create("+15557654332");
    const post = (server: typeof a, p: string, tag: string) =>
      server.request("POST", p, { headers: { "content-type": "application/json" }, body: variant(tag) });
    // Both processes hold both accounts in memory.
    for (const [server, name] of [
      [a, "a"],
      [b, "b"],
    ] as const) {
      assert.equal((await post(server, doomed.path, `warm-${name}`)).status, 200);
      assert.equal((await post(server, other.path, `warm-other-${name}`)).status, 200);
    }
    const r = await a.api("DELETE", `/api/v1/accounts/${doomed.id}`, { token: s.key });
    assert.equal(r.status, 204, r.text);
    assert.equal((await post(a, doomed.path, "after-a")).status, 404, "A at once");
    await waitFor(
      async () => (await post(b, doomed.path, "after-b")).status === 404 || undefined,
      "B to refuse the deleted account's inbound URL",
    );
    assert.equal((await post(b, other.path, "other-after")).status, 200);
  });

  it("a workspace deleted through B while A holds its webhook: nothing is delivered after B's answer", async () => {
    const { a, b, s, receiver } = f;
    // The receiver fails, so messages wait in A's consumer for a retry.
    const before = receiver.requests.length;
    receiver.respond = () => ({ status: 503, body: "down" });
    await ingest(a, s.key, [entry(s, { text: "waiting 1" }), entry(s, { text: "waiting 2" })]);
    await waitFor(() => receiver.requests.length > before || undefined, "A's first failed attempt");
    assert.ok((await a.api("GET", `/api/v1/webhooks/${s.webhook!.id}`, { token: s.key })).json.pending_messages >= 2);
    const r = await b.api("DELETE", `/api/v1/workspaces/${s.workspace.id}`, { token: OPERATOR_TOKEN });
    assert.equal(r.status, 204, r.text);
    const seen = receiver.requests.length;
    receiver.respond = () => ({ status: 200, body: "ok" });
    for (const server of [a, b]) {
      await waitFor(
        async () => (await server.api("GET", "/api/v1/workspace", { token: s.key })).status === 401 || undefined,
        "the key refused",
      );
    }
    // A second workspace's webhook on the same receiver delivers through A and B; the deleted one's retry (5 s) stays silent.
    const ws = await a.api("POST", "/api/v1/workspaces", {
      token: OPERATOR_TOKEN,
      body: { name: "After", owner: { full_name: "Ada After", email: "ada@after.example" } },
    });
    assert.equal(ws.status, 201, ws.text);
    const acc = await a.api("POST", "/api/v1/accounts", {
      token: ws.json.api_key,
      body: { phone: "+15557654340", owner_email: "ada@after.example", source: "api" },
    });
    assert.equal(acc.status, 201, acc.text);
    const hook = await b.api("POST", "/api/v1/webhooks", { token: ws.json.api_key, body: { url: receiver.url } });
    assert.equal(hook.status, 201, hook.text);
    // Past the first backoff step (5 s) of the deleted webhook, in real time (these processes share no test clock).
    await new Promise((done) => setTimeout(done, 6000));
    await ingest(b, ws.json.api_key, [entry({ phone: "+15557654340" }, { text: "after the delete" })]);
    await waitFor(
      () => receiver.requests.some((q) => q.json?.message?.text === "after the delete") || undefined,
      "the other workspace's delivery",
    );
    const late = receiver.requests.slice(seen).map((q) => q.text);
    assert.deepEqual(late, ["after the delete"], "nothing of the deleted workspace after the answer");
  });
});
