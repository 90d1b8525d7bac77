// Ingest announces the workspace whose log grew (PostgreSQL NOTIFY at commit), so consumers
// in other processes wake at once instead of at their next sync.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { listenLogGrowth } from "../../src/db/index.js";
import { freshPostgres, TestServer, waitFor } from "../helpers/server.js";
import { entry, ingest, space } from "../helpers/workspace.js";

describe("log growth announcements on PostgreSQL", () => {
  let db: Awaited<ReturnType<typeof freshPostgres>>;
  let server: TestServer;
  let listener: { close(): Promise<void> } | undefined;

  before(async () => {
    db = await freshPostgres();
    server = await TestServer.start({ env: { DATABASE_URL: db.url } });
  });
  after(async () => {
    await listener?.close();
    await server?.stop();
    await db?.drop();
  });

  it("another process hears the workspace of each committed ingest, and nothing for a batch of duplicates", async () => {
    const heard: string[] = [];
    const errors: unknown[] = [];
    listener = listenLogGrowth(
      db.url,
      (ws) => heard.push(ws),
      (e) => errors.push(e),
    );
    const s = await space(server);
    const other = await space(server);
    // LISTEN is set up asynchronously: announce a third workspace until it is heard. Its
    // announcements may still arrive late (one per try), so it is left out of the count.
    const warmUp = await space(server);
    await waitFor(async () => {
      await ingest(server, warmUp.key, [entry(warmUp)]);
      return heard.includes(warmUp.workspace.id);
    }, "the first announcement");

    const batch = [entry(other), entry(other)];
    await ingest(server, other.key, batch);
    await waitFor(() => heard.includes(other.workspace.id), "the other workspace's announcement");
    const dup = await ingest(server, other.key, batch);
    assert.equal(dup.duplicates, 2);
    // A marker after the duplicates: once it is heard, anything the duplicates sent would be too.
    await ingest(server, s.key, [entry(s)]);
    await waitFor(() => heard.includes(s.workspace.id), "the marker");
    const counted = heard.filter((ws) => ws !== warmUp.workspace.id);
    assert.deepEqual(
      counted,
      [other.workspace.id, s.workspace.id],
      "one announcement per committed ingest with new messages",
    );
    assert.deepEqual(errors, []);
  });
});
