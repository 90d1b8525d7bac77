// A late success from a consumer that lost its lease (another process took the webhook
// over and moved on) or its epoch (a replay) never moves the cursor back: the writer every
// consumer records through writes a cursor only forward, and only in its epoch.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openStorage, type Storage } from "../../src/db/index.js";
import { DeliveryWriter } from "../../src/webhooks/writer.js";
import { TestServer } from "../helpers/server.js";
import { space, type Space } from "../helpers/workspace.js";

describe("a late cursor from a consumer that lost its lease or epoch", () => {
  let server: TestServer;
  let storage: Storage;
  let s: Space;
  let id: string;

  before(async () => {
    server = await TestServer.start({ database: "postgres" });
    s = await space(server);
    // Disabled: no consumer of the server writes this webhook's cursor meanwhile.
    const r = await server.api("POST", "/api/v1/webhooks", {
      token: s.key,
      body: { url: "http://127.0.0.1:9/hook", enabled: false },
    });
    assert.equal(r.status, 201, r.text);
    id = r.json.id;
    // A second process's writer (this test process), on the same database.
    storage = openStorage({ databaseUrl: server.databaseUrl, dataDir: server.dataDir });
  });
  after(async () => {
    await storage?.close();
    await server?.stop();
  });

  const row = () =>
    storage.db.selectFrom("webhooks").select(["cursor_seq", "epoch"]).where("id", "=", id).executeTakeFirstOrThrow();

  it("never moves the cursor back within an epoch, and never writes one from an old epoch", async () => {
    const owner = new DeliveryWriter(storage.db);
    const stale = new DeliveryWriter(storage.db);
    const { epoch } = await row();
    owner.setState(id, { cursor_seq: 120 }, epoch);
    await owner.flush();
    assert.equal((await row()).cursor_seq, 120);

    // The old owner's late success, for a message the new owner acknowledged long ago.
    stale.setState(id, { cursor_seq: 80 }, epoch);
    await stale.flush();
    assert.equal((await row()).cursor_seq, 120, "a late cursor does not move it back");

    owner.setState(id, { cursor_seq: 130 }, epoch);
    await owner.flush();
    assert.equal((await row()).cursor_seq, 130, "and the owner still moves it forward");

    // A replay moved the cursor back and bumped the epoch: the old epoch writes nothing.
    await storage.db
      .updateTable("webhooks")
      .set({ cursor_seq: 10, epoch: epoch + 1 })
      .where("id", "=", id)
      .execute();
    stale.setState(id, { cursor_seq: 200 }, epoch);
    await stale.flush();
    assert.deepEqual(await row(), { cursor_seq: 10, epoch: epoch + 1 });
  });
});
