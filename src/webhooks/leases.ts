import type { DB } from "../db/index.js";
import { newId } from "../db/ids.js";

/**
 * How long a process owns a webhook without renewing; another process takes over after it
 * (THREADLINE_WEBHOOK_LEASE_MS). A lease is renewed once under two thirds of it remain.
 */
export const DEFAULT_LEASE_MS = 15_000;

const renewBelow = (leaseMs: number) => Math.floor((leaseMs * 2) / 3);
/** Until when every lease held after a claim at `claimedAt` runs at least (`claim` renews those under two thirds). */
export const leasesHeldUntil = (claimedAt: number, leaseMs: number): number => claimedAt + renewBelow(leaseMs);

export interface LeaseView {
  id: string;
  updated_at: number;
}

/**
 * Ownership of webhooks among processes sharing one database: each enabled webhook is
 * consumed by the process holding its lease. Leases use the wall clock (never the test
 * clock): they are about processes being alive.
 */
export class Leases {
  readonly owner = newId("proc");

  constructor(
    private db: DB,
    private leaseMs = DEFAULT_LEASE_MS,
  ) {}

  /** Renews this process's leases, claims free or expired ones; answers the enabled webhooks this process owns. */
  async claim(): Promise<LeaseView[]> {
    const now = Date.now();
    const until = now + this.leaseMs;
    // Renew only leases nearing their end: a quiet database is not written every second.
    await this.db
      .updateTable("webhooks")
      .set({ lease_until: until })
      .where("lease_owner", "=", this.owner)
      .where("enabled", "=", 1)
      .where("lease_until", "<", now + renewBelow(this.leaseMs))
      .execute();
    await this.db
      .updateTable("webhooks")
      .set({ lease_owner: this.owner, lease_until: until })
      .where("enabled", "=", 1)
      .where((eb) => eb.or([eb("lease_owner", "is", null), eb("lease_until", "<", now)]))
      .execute();
    return this.db.selectFrom("webhooks").select(["id", "updated_at"]).where("lease_owner", "=", this.owner).where("enabled", "=", 1).execute();
  }

  /**
   * Takes every enabled webhook's lease, whoever held it. Only for a process that is alone on
   * its database (SQLite): a lease left by a killed predecessor need not run out first.
   */
  async takeOverAll(): Promise<void> {
    await this.db.updateTable("webhooks").set({ lease_owner: this.owner, lease_until: Date.now() + this.leaseMs }).where("enabled", "=", 1).execute();
  }

  /** Claims one webhook now (it was just enabled or created here), if nobody holds it. */
  async claimOne(id: string): Promise<boolean> {
    const now = Date.now();
    const r = await this.db
      .updateTable("webhooks")
      .set({ lease_owner: this.owner, lease_until: now + this.leaseMs })
      .where("id", "=", id)
      .where((eb) => eb.or([eb("lease_owner", "is", null), eb("lease_owner", "=", this.owner), eb("lease_until", "<", now)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Gives every lease back (a clean shutdown), so another process takes over at once. */
  async releaseAll(): Promise<void> {
    await this.db.updateTable("webhooks").set({ lease_owner: null, lease_until: null }).where("lease_owner", "=", this.owner).execute();
  }
}
