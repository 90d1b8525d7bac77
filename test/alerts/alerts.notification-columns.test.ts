// Migration 0016 gives kept e-mails the columns the UI's banner reads (`kind`, `webhook_id`),
// filled in from the text of e-mails kept before it, on both databases.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Migrator } from "kysely";
import { migrate, type Storage } from "../../src/db/index.js";
import { migrations } from "../../src/db/migrations.js";
import { DATABASES, openTestStorage } from "../helpers/server.js";

const OLD = [
  {
    subject: "Threadline: webhook https://crm.example/hook is failing (5 errors in a row)",
    text: "Your outgoing webhook https://crm.example/hook (id wh_01kc2a9x3m5n7p) has failed 5 times in a row.",
  },
  {
    subject: "Threadline: webhook https://crm.example/hook?q=(id wh_other) was disabled",
    text: "Your outgoing webhook https://crm.example/hook (id wh_01kc2a9x3m5n7p) was disabled on 2026-01-05T10:00:00.000Z.",
  },
  {
    subject: "Threadline: WhatsApp account +4915112345678 stopped receiving",
    text: "The WhatsApp session of account +4915112345678 (id acc_01kc2a) has been disconnected since 2026-01-05T10:00:00.000Z.",
  },
  {
    subject: "Threadline: WhatsApp account +4915112345678 is receiving again",
    text: "The WhatsApp session of account +4915112345678 (id acc_01kc2a) is connected again.",
  },
  { subject: "Hello", text: "Not one of Threadline's alerts (id wh_01kc2a9x3m5n7p)." },
];

for (const database of DATABASES)
  describe(`notifications: kind and webhook_id columns (${database})`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ storage, close: cleanup } = await openTestStorage(database));
      const all = migrations(storage.dialect);
      const migrator = new Migrator({ db: storage.db, provider: { getMigrations: async () => all } });
      const { error } = await migrator.migrateTo("0015_activity_snippet");
      if (error) throw error;
    });
    after(async () => cleanup?.());

    it("fills them in from the subject and text of e-mails kept before the migration", async () => {
      for (const [i, n] of OLD.entries()) {
        await storage.db
          .insertInto("notifications")
          .values({
            workspace_id: "ws_a",
            at: 1_000 + i,
            to_address: "owner@example.com",
            subject: n.subject,
            text: n.text,
            delivered: 1,
          } as never)
          .execute();
      }
      await migrate(storage);
      const rows = await storage.db
        .selectFrom("notifications")
        .select(["subject", "kind", "webhook_id"])
        .orderBy("id", "asc")
        .execute();
      assert.deepEqual(
        rows.map((r) => [r.kind, r.webhook_id]),
        [
          ["webhook_warning", "wh_01kc2a9x3m5n7p"],
          ["webhook_disabled", "wh_01kc2a9x3m5n7p"],
          ["account_disconnected", null],
          ["account_recovered", null],
          ["other", null],
        ],
      );
    });
  });
