// Cost follows the messages, not the number of webhooks: the delivery manager in-process on
// a real database, its queries counted (a Kysely plugin that counts and passes everything
// through). A look at the shares is the same few queries with 5 or 400 webhooks; a wake reaches
// the consumers of its workspace only; an idle consumer reads nothing.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KyselyPlugin } from "kysely";
import { DeliveryManager } from "../../src/webhooks/manager.js";
import { InProcessConsumers } from "../helpers/consumers.js";
import { DATABASES, waitFor } from "../helpers/server.js";

const WORKSPACES = 80;
const PER_WORKSPACE = 5;

for (const database of DATABASES)
  describe(`the delivery manager's cost while idle (${database})`, () => {
    let h: InProcessConsumers;
    let queries = 0;
    const counting: KyselyPlugin = {
      transformQuery: (args) => {
        queries++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    // The consumers' database counts its queries; workspaces and webhooks are written beside it.
    before(async () => (h = await InProcessConsumers.open(database, { wrap: (db) => db.withPlugin(counting) })));
    after(async () => h?.close());

    /** Webhooks (unaggregated, enabled) in `n` new workspaces, 5 each. */
    async function webhooks(prefix: string, n: number): Promise<string[]> {
      const now = Date.now();
      const ids: string[] = [];
      for (let w = 0; w < n; w++) {
        const ws = `ws_${prefix}_${w}`;
        ids.push(ws);
        await h.storage.db
          .insertInto("workspaces")
          .values({ id: ws, name: ws, timezone: "UTC", owner_teammate_id: "tm_none", created_at: now })
          .execute();
        await h.storage.db
          .insertInto("webhooks")
          .values(
            Array.from({ length: PER_WORKSPACE }, (_, i) => ({
              id: `wh_${prefix}_${w}_${i}`,
              workspace_id: ws,
              url: "https://receiver.example/hook",
              enabled: 1,
              aggregation: "none",
              secret: "whsec_x",
              previous_secret: null,
              previous_secret_until: null,
              consecutive_failures: 0,
              disabled_reason: null,
              disabled_at: null,
              cursor_seq: 0,
              epoch: 0,
              window_end: null,
              created_at: now,
              updated_at: now,
              lease_owner: null,
              lease_until: null,
              filter: null,
            })),
          )
          .execute();
      }
      return ids;
    }

    it("a look at the shares costs the same queries with 5 or 400 webhooks; a wake reads its workspace's webhooks only", async () => {
      const [first] = await webhooks("a", 1);
      /** A process's manager on what is stored now, and the queries of one look at the shares once it runs. */
      const started = async () => {
        const manager = new DeliveryManager(h.deps);
        await manager.start({ alone: database === "sqlite" });
        queries = 0;
        await (manager as unknown as { sync(): Promise<void> }).sync();
        return { manager, look: queries };
      };
      const small = await started();
      assert.equal(small.manager.held, PER_WORKSPACE);
      await small.manager.stop();

      await webhooks("b", WORKSPACES - 1);
      const { manager, look } = await started();
      try {
        assert.equal(manager.held, WORKSPACES * PER_WORKSPACE);
        assert.equal(look, small.look, `a look with ${manager.held} webhooks as with ${PER_WORKSPACE}`);
        assert.ok(look <= 4, `${look} queries a look`);

        // Started idle (the safety net found the log empty): a wake reads the log of its workspace's webhooks only.
        queries = 0;
        manager.notify(first!);
        await waitFor(() => (queries >= PER_WORKSPACE ? true : undefined), "the workspace's consumers read the log");
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(
          queries,
          PER_WORKSPACE,
          `one read of the log per webhook of the workspace, none for the other ${manager.held - PER_WORKSPACE}`,
        );
      } finally {
        await manager.stop();
      }
    });
  });
