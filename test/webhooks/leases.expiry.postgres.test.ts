// A process that cannot reach the database cannot renew its leases: once they run out it
// stops delivering (another process may have taken the webhooks over), and it starts again
// when the database is back.
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import pg from "pg";
import { Receiver } from "../helpers/receiver.js";
import { freshPostgres, TestServer, waitFor } from "../helpers/server.js";
import { entry, ingest, space, type Space, waitForDelivery } from "../helpers/workspace.js";

let db: Awaited<ReturnType<typeof freshPostgres>>;
let server: TestServer;
let receiver: Receiver;
let s: Space;

/** Runs SQL on the server's maintenance database (not the one under test). */
async function admin(sql: string): Promise<void> {
  const c = new pg.Client({
    connectionString: process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

before(async () => {
  db = await freshPostgres();
  receiver = await Receiver.start();
  // The shortest lease: its consumers stop 2 s after the last renewal instead of 10 s.
  server = await TestServer.start({
    env: { DATABASE_URL: db.url, THREADLINE_TEST_CLOCK: undefined, THREADLINE_WEBHOOK_LEASE_MS: "3000" },
  });
  s = await space(server, { receiver });
});
after(async () => {
  await server?.stop();
  await receiver?.close();
  await db?.drop();
});

it("stops its consumers when its leases run out unrenewed, and resumes once the database is back", async () => {
  const name = new URL(db.url).pathname.slice(1);
  await admin(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
  await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
  try {
    await waitFor(() => /leases expired without renewal/.test(server.output), "the consumers to stop");
  } finally {
    await admin(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`);
  }
  const id = (await ingest(server, s.key, [entry(s, { text: "after the outage" })])).results[0]!.message_id;
  const got = await waitForDelivery(receiver, id);
  assert.equal(got.json.message.text, "after the outage");
});
