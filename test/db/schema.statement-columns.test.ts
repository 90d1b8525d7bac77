// The statements written by hand for speed (ingest's SQLite and PostgreSQL inserts, the
// request log's SQLite insert) name their columns from lists typed against db/schema.ts; here
// those lists are held to the migrated tables on both databases, so a column added by a
// migration cannot be written by one path and silently left out by the other.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { migrate, type Storage } from "../../src/db/index.js";
import { MESSAGE_COLUMNS } from "../../src/ingest/prepared.js";
import { CHAT_COLUMNS } from "../../src/ingest/store.js";
import { REQUEST_COLUMNS } from "../../src/webhooks/writer.js";
import { DATABASES, openTestStorage } from "../helpers/server.js";

for (const database of DATABASES)
  describe(`hand-written statements name every column of their table (${database})`, () => {
    let storage: Storage;
    let close: () => Promise<void>;
    const columns = new Map<string, { name: string; generated: boolean }[]>();
    before(async () => {
      ({ storage, close } = await openTestStorage(database));
      await migrate(storage);
      for (const t of await storage.db.introspection.getTables()) {
        columns.set(
          t.name,
          t.columns.map((c) => ({
            name: c.name,
            generated: c.isAutoIncrementing || (c.name === "id" && c.hasDefaultValue),
          })),
        );
      }
    });
    after(async () => close?.());

    /** The table's columns that a row insert writes: all but the generated key. */
    const written = (table: string) => {
      const cols = columns.get(table);
      assert.ok(cols, `no table ${table}`);
      return cols
        .filter((c) => !c.generated && !(table === "messages" && c.name === "seq"))
        .map((c) => c.name)
        .sort();
    };

    it("ingest's message insert: workspace_id, stored_at and MESSAGE_COLUMNS are the columns of messages but seq", () => {
      assert.deepEqual(["workspace_id", "stored_at", ...MESSAGE_COLUMNS].sort(), written("messages"));
    });

    it("ingest's chat insert: CHAT_COLUMNS are the columns of chats but id", () => {
      assert.deepEqual([...CHAT_COLUMNS].sort(), written("chats"));
    });

    it("the request log's insert: REQUEST_COLUMNS are the columns of webhook_requests but id", () => {
      assert.deepEqual([...REQUEST_COLUMNS].sort(), written("webhook_requests"));
    });
  });
