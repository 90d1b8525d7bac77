// Several processes on one PostgreSQL database share the webhooks: each holds its fair share,
// ceil(enabled / live processes), read from its own /metrics; when one is killed the others
// take its webhooks within the lease time, and every webhook delivers what arrives next,
// nothing lost, each chat in order.
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Receiver } from "../helpers/receiver.js";
import { freshPostgres, TestServer, waitFor } from "../helpers/server.js";
import { entry, ingest, space, type Space } from "../helpers/workspace.js";

const WORKSPACES = 10;
const WEBHOOKS_PER_WORKSPACE = 30;
const TOTAL = WORKSPACES * WEBHOOKS_PER_WORKSPACE;
const LEASE_MS = 3000;
const CHATS = ["972540000301", "972540000302"];

let db: Awaited<ReturnType<typeof freshPostgres>>;
let receiver: Receiver;
const servers: TestServer[] = [];
const spaces: Space[] = [];
let during: string[] = [];

async function leasesHeld(server: TestServer): Promise<number> {
  const r = await server.api("GET", "/metrics");
  assert.equal(r.status, 200, r.text);
  const held = /^threadline_webhook_leases_held (\d+)$/m.exec(r.text);
  assert.ok(held, "the gauge threadline_webhook_leases_held");
  return Number(held[1]);
}

async function liveProcesses(server: TestServer): Promise<number> {
  return Number(/^threadline_processes_live (\d+)$/m.exec((await server.api("GET", "/metrics")).text)?.[1]);
}

/** Posts `n` messages per chat to every workspace, texts `${tag} {chat} {i}` in order. */
async function post(tag: string, n: number): Promise<string[]> {
  const texts: string[] = [];
  for (const s of spaces) {
    const batch = [];
    for (let i = 0; i < n; i++)
      for (const contact of CHATS) batch.push(entry(s, { contact, text: `${tag} ${s.workspace.id} ${contact} ${i}` }));
    texts.push(...batch.map((b) => b.text as string));
    await ingest(servers[0]!, s.key, batch);
  }
  return texts;
}

/** Every webhook got every one of `texts` of its workspace, each chat's first arrivals in order. */
async function delivered(texts: string[]): Promise<void> {
  const perWorkspace = texts.length / WORKSPACES;
  await waitFor(
    () => {
      const wanted = new Set(texts);
      let n = 0;
      for (const r of receiver.accepted.values()) if (wanted.has(r.text)) n++;
      return n >= TOTAL * perWorkspace ? true : undefined;
    },
    `${TOTAL * perWorkspace} deliveries`,
  );
  const firsts = new Map<string, number[]>();
  const seen = new Set<string>();
  for (const r of receiver.requests) {
    const [tag, ws, chat, i] = r.text.split(" ");
    if (!texts.includes(r.text) || seen.has(`${r.url} ${r.text}`)) continue;
    seen.add(`${r.url} ${r.text}`);
    const key = `${r.url} ${tag} ${ws} ${chat}`;
    firsts.set(key, [...(firsts.get(key) ?? []), Number(i)]);
  }
  for (const [key, order] of firsts)
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
      `each chat in order: ${key}`,
    );
}

before(async () => {
  db = await freshPostgres();
  receiver = await Receiver.start();
  const env = { DATABASE_URL: db.url, THREADLINE_TEST_CLOCK: undefined, THREADLINE_WEBHOOK_LEASE_MS: String(LEASE_MS) };
  servers.push(await TestServer.start({ env }));
  for (let w = 0; w < WORKSPACES; w++) spaces.push(await space(servers[0]!));
  // A workspace's webhooks made at once (a few seconds saved on a loaded machine).
  await Promise.all(
    spaces.map(async (s, w) => {
      for (let i = 0; i < WEBHOOKS_PER_WORKSPACE; i++) {
        const r = await servers[0]!.api("POST", "/api/v1/webhooks", {
          token: s.key,
          body: { url: `${receiver.url}?w=${w}-${i}` },
        });
        assert.equal(r.status, 201, r.text);
      }
    }),
  );
  // Deliveries in flight in the first process while the others join and take their shares.
  receiver.respond = () => ({ status: 200, body: "ok", delayMs: 300 });
  during = await post("during", 1);
  servers.push(...(await Promise.all([TestServer.start({ env }), TestServer.start({ env })])));
});
after(async () => {
  for (const s of servers) await s.stop();
  await receiver?.close();
  await db?.drop();
});

it(
  "three processes hold a third of 300 webhooks each, handed over gracefully; a killed one's are taken within the lease time, nothing lost, each chat in order",
  { timeout: 120_000 },
  async () => {
    // Shares, each read from the process's own /metrics.
    const shares = await waitFor(
      async () => {
        const held = await Promise.all(servers.map(leasesHeld));
        return held.reduce((a, b) => a + b, 0) === TOTAL && held.every((h) => Math.abs(h - TOTAL / 3) <= 10)
          ? held
          : undefined;
      },
      "each process holding 100 ± 10",
      20_000,
    );
    assert.equal(shares.length, 3);
    // The handover was graceful: what was in flight finished and was recorded before the lease went, so nothing was sent twice.
    await delivered(during);
    const sent = receiver.requests.filter((r) => during.includes(r.text));
    assert.equal(
      sent.length,
      new Set(sent.map((r) => `${r.url} ${r.text}`)).size,
      "no delivery repeated by a handover",
    );
    receiver.respond = () => ({ status: 200, body: "ok" });
    assert.deepEqual(await Promise.all(servers.map(liveProcesses)), [3, 3, 3]);
    await delivered(await post("before", 1));

    // kill -9: its webhooks go to the other two once its heartbeat is older than the lease time.
    const killed = servers.pop()!;
    const t0 = Date.now();
    await killed.kill("SIGKILL");
    await waitFor(
      async () => {
        const held = await Promise.all(servers.map(leasesHeld));
        return held.reduce((a, b) => a + b, 0) === TOTAL ? held : undefined;
      },
      "the two left holding all 300",
      LEASE_MS + 10_000,
    );
    const took = Date.now() - t0;
    assert.ok(took <= LEASE_MS + 5_000, `taken over in ${took} ms`);
    assert.deepEqual(await Promise.all(servers.map(liveProcesses)), [2, 2]);
    await killed.stop();
    await delivered(await post("after", 2));
  },
);
