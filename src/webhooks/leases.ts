import type { DB } from "../db/index.js";
import { newId } from "../db/ids.js";
import { DEFAULT_LEASE_MS } from "../config/index.js";
import type { WebhookRow } from "./consumer.js";

/** Until when the leases held after a heartbeat at `beatAt` surely run: two thirds of a lease, a margin for clocks and slow queries. */
export const leasesHeldUntil = (beatAt: number, leaseMs: number): number => beatAt + Math.floor((leaseMs * 2) / 3);

/**
 * Ownership of webhooks among processes sharing one database. Each process has a row in
 * `processes` with a heartbeat; a webhook is held by its `lease_owner` while that process's
 * heartbeat is younger than the lease time, so a process renews one row, however many
 * webhooks it holds. Leases use the wall clock (never the test clock): they are about
 * processes being alive.
 */
export class Leases {
  readonly owner = newId("proc");
  private readonly startedAt = Date.now();

  constructor(
    private db: DB,
    readonly leaseMs = DEFAULT_LEASE_MS,
  ) {}

  /** The processes alive now (a recent heartbeat), as a subquery. */
  private live(now: number) {
    return this.db
      .selectFrom("processes")
      .select("id")
      .where("heartbeat_at", ">=", now - this.leaseMs);
  }

  /** Announces this process alive; answers how many processes are (this one included). */
  async heartbeat(): Promise<number> {
    const now = Date.now();
    await this.db
      .insertInto("processes")
      .values({ id: this.owner, started_at: this.startedAt, heartbeat_at: now })
      .onConflict((oc) => oc.column("id").doUpdateSet({ heartbeat_at: now }))
      .execute();
    // Rows of processes long dead go: the table stays as small as the deployment.
    await this.db
      .deleteFrom("processes")
      .where("heartbeat_at", "<", now - 10 * this.leaseMs)
      .execute();
    const row = await this.db
      .selectFrom("processes")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("heartbeat_at", ">=", now - this.leaseMs)
      .executeTakeFirst();
    return Math.max(1, Number(row?.n ?? 1));
  }

  /** Enabled webhooks in all, and how many of them this process holds. */
  async counts(): Promise<{ enabled: number; held: number }> {
    const row = await this.db
      .selectFrom("webhooks")
      .select((eb) => [
        eb.fn.countAll<number>().as("enabled"),
        eb.fn.sum<number>(eb.case().when("lease_owner", "=", this.owner).then(1).else(0).end()).as("held"),
      ])
      .where("enabled", "=", 1)
      .executeTakeFirst();
    return { enabled: Number(row?.enabled ?? 0), held: Number(row?.held ?? 0) };
  }

  /**
   * The enabled webhooks this process holds, each with its `updated_at` and whether the log
   * holds deliverable messages past its cursor (unaggregated ones; an aggregated webhook
   * waits for its window's end): one query for all of them, the consumers' safety net.
   */
  async held(): Promise<{ id: string; updated_at: number; behind: number }[]> {
    return this.db
      .selectFrom("webhooks as w")
      .select((eb) => [
        "w.id",
        "w.updated_at",
        eb
          .case()
          .when(
            eb.and([
              eb("w.aggregation", "=", "none"),
              eb.exists(
                eb
                  .selectFrom("messages as m")
                  .select("m.seq")
                  .whereRef("m.workspace_id", "=", "w.workspace_id")
                  .whereRef("m.seq", ">", "w.cursor_seq")
                  .where("m.status", "=", "stored"),
              ),
            ]),
          )
          .then(1)
          .else(0)
          .end()
          .as("behind"),
      ])
      .where("w.lease_owner", "=", this.owner)
      .where("w.enabled", "=", 1)
      .execute();
  }

  /** The rows of some webhooks (read in slices: an `in` list stays short). */
  async rows(ids: string[]): Promise<WebhookRow[]> {
    const out: WebhookRow[] = [];
    for (let i = 0; i < ids.length; i += 500)
      out.push(
        ...(await this.db
          .selectFrom("webhooks")
          .selectAll()
          .where("id", "in", ids.slice(i, i + 500))
          .execute()),
      );
    return out;
  }

  /** Claims up to `limit` enabled webhooks that no live process holds; answers their rows. */
  async claim(limit: number): Promise<WebhookRow[]> {
    if (limit <= 0) return [];
    const now = Date.now();
    const free = this.db
      .selectFrom("webhooks")
      .select("id")
      .where("enabled", "=", 1)
      .where((eb) => eb.or([eb("lease_owner", "is", null), eb("lease_owner", "not in", this.live(now))]))
      .orderBy("id")
      .limit(limit);
    // The condition again on the update: two processes claiming at once never both get a webhook.
    return this.db
      .updateTable("webhooks")
      .set({ lease_owner: this.owner, lease_until: null })
      .where("id", "in", free)
      .where((eb) => eb.or([eb("lease_owner", "is", null), eb("lease_owner", "not in", this.live(now))]))
      .returningAll()
      .execute();
  }

  /**
   * Takes every enabled webhook's lease, whoever held it. Only for a process that is alone on
   * its database (SQLite): a lease left by a killed predecessor need not run out first.
   */
  async takeOverAll(): Promise<void> {
    await this.db
      .updateTable("webhooks")
      .set({ lease_owner: this.owner, lease_until: null })
      .where("enabled", "=", 1)
      .execute();
  }

  /** Claims one webhook now (it was just enabled or changed here), if no other live process holds it. */
  async claimOne(id: string): Promise<boolean> {
    const now = Date.now();
    const r = await this.db
      .updateTable("webhooks")
      .set({ lease_owner: this.owner, lease_until: null })
      .where("id", "=", id)
      .where((eb) =>
        eb.or([
          eb("lease_owner", "is", null),
          eb("lease_owner", "=", this.owner),
          eb("lease_owner", "not in", this.live(now)),
        ]),
      )
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Gives some leases back (handed over, or their webhooks disabled), so another process may take them at once. */
  async release(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      await this.db
        .updateTable("webhooks")
        .set({ lease_owner: null, lease_until: null })
        .where("id", "in", ids.slice(i, i + 500))
        .where("lease_owner", "=", this.owner)
        .execute();
    }
  }

  /** A clean shutdown: every lease back and this process gone from the count, so the others take over at once. */
  async leave(): Promise<void> {
    await this.db
      .updateTable("webhooks")
      .set({ lease_owner: null, lease_until: null })
      .where("lease_owner", "=", this.owner)
      .execute();
    await this.db.deleteFrom("processes").where("id", "=", this.owner).execute();
  }
}
