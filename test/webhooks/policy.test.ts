// The delivery rules as pure functions: no server, no clock, no receiver.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { leasesHeldUntil } from "../../src/webhooks/leases.js";
import { DEFAULT_LEASE_MS } from "../../src/config/index.js";
import {
  capacity,
  initialHealth,
  judge,
  MAX_IN_FLIGHT,
  mayProbe,
  retryDelay,
  RETRY_SCHEDULE_MS,
  ticket,
  type Health,
  type Outcome,
} from "../../src/webhooks/policy.js";

const fixed = () => 0.5; // no jitter
const OK: Outcome = { ok: true, status: 200 };
const ERR: Outcome = { ok: false, status: 500 };
const REFUSED: Outcome = { ok: false, status: null };

describe("the failure rule, counted in time", () => {
  it("attempts in flight when the first failure arrives count as that one error, and are re-queued", () => {
    let h = initialHealth(0, 0, fixed);
    for (let i = 0; i < 100; i++) h = judge(h, ticket(h), OK, 0, fixed).health;
    assert.equal(capacity(h), MAX_IN_FLIGHT);
    // 64 requests go out while healthy; the receiver blips and every one of them fails.
    const tickets = Array.from({ length: 64 }, () => ticket(h));
    let counted = 0;
    for (const [i, t] of tickets.entries()) {
      const v = judge(h, t, i % 2 ? ERR : REFUSED, 1000 + i, fixed);
      h = v.health;
      if (v.counted) counted++;
      assert.equal(v.disable, undefined);
      assert.equal(v.warn, false);
    }
    assert.equal(counted, 1);
    assert.equal(h.failures, 1);
    assert.equal(h.failingSince, 1000);
    assert.equal(h.retryAt, 1000 + RETRY_SCHEDULE_MS[0]);
    // Failing: one attempt at a time, at the backoff.
    assert.equal(capacity(h), 1);
    assert.equal(mayProbe(h, 1000 + 4000), false);
    assert.equal(mayProbe(h, 1000 + RETRY_SCHEDULE_MS[0]), true);
  });

  it("each failed probe is one more error: the warning at the 5th, the disable at the 11th", () => {
    let h = initialHealth(0, 0, fixed);
    let now = 0;
    const verdicts = [];
    for (let n = 1; n <= 11; n++) {
      now = Math.max(now, h.retryAt);
      const v = judge(h, ticket(h), ERR, now, fixed);
      verdicts.push(v);
      h = v.health;
      assert.equal(h.failures, n);
      assert.equal(v.counted, true);
    }
    assert.deepEqual(
      verdicts.map((v) => (v.warn ? "warn" : (v.disable ?? "-"))),
      ["-", "-", "-", "-", "warn", "-", "-", "-", "-", "-", "consecutive_failures"],
    );
    // Disabling takes hours of backoff, not a second.
    assert.ok(now > 4 * 3600_000, `the 11th error came after ${now} ms`);
  });

  it("a 2xx resets the count; speed comes back from one request, one more per success", () => {
    let h = initialHealth(0, 0, fixed);
    h = judge(h, ticket(h), ERR, 0, fixed).health;
    h = judge(h, ticket(h), ERR, h.retryAt, fixed).health;
    assert.equal(h.failures, 2);
    const v = judge(h, ticket(h), OK, h.retryAt, fixed);
    assert.equal(v.recovered, true);
    h = v.health;
    assert.equal(h.failures, 0);
    const limits = [capacity(h)];
    for (let i = 0; i < 70; i++) {
      h = judge(h, ticket(h), OK, 0, fixed).health;
      limits.push(capacity(h));
    }
    assert.deepEqual(limits.slice(0, 5), [1, 2, 3, 4, 5]);
    assert.equal(Math.max(...limits), MAX_IN_FLIGHT);
  });

  it("410 Gone disables at once, with its own reason, even as the first error", () => {
    const h = initialHealth(0, 0, fixed);
    const v = judge(h, ticket(h), { ok: false, status: 410 }, 0, fixed);
    assert.equal(v.disable, "gone");
    assert.equal(v.health.failures, 1);
  });

  it("Retry-After replaces the backoff, within bounds, also from an attempt that is not counted", () => {
    let h = initialHealth(0, 0, fixed);
    const t1 = ticket(h);
    const t2 = ticket(h);
    h = judge(h, t1, ERR, 0, fixed).health;
    assert.equal(h.retryAt, RETRY_SCHEDULE_MS[0]);
    const v = judge(h, t2, { ok: false, status: 503, retryAfterMs: 120_000 }, 10, fixed);
    assert.equal(v.counted, false);
    assert.equal(v.health.retryAt, 10 + 120_000);
    assert.equal(retryDelay(3, 0), 1000, "at least a second");
    assert.equal(retryDelay(3, 30 * 86_400_000), 6 * 3600_000, "at most six hours");
  });

  it("the backoff schedule with its ±10 % jitter, hourly after the sixth error", () => {
    assert.equal(
      retryDelay(1, undefined, () => 0),
      4500,
    );
    assert.equal(
      retryDelay(1, undefined, () => 1),
      5500,
    );
    assert.equal(retryDelay(2, undefined, fixed), 30_000);
    assert.equal(retryDelay(6, undefined, fixed), 3_600_000);
    assert.equal(retryDelay(10, undefined, fixed), 3_600_000);
  });

  it("a webhook that was failing before a restart keeps backing off, as a probe of the same run", () => {
    const h: Health = initialHealth(7, 1000, fixed);
    assert.equal(h.failures, 7);
    assert.equal(h.retryAt, 1000 + RETRY_SCHEDULE_MS[5]);
    assert.equal(capacity(h), 1);
    const v = judge(h, ticket(h), ERR, h.retryAt, fixed);
    assert.equal(v.counted, true);
    assert.equal(v.health.failures, 8);
  });

  it("a success of an attempt from before the run ends it too (any 2xx resets)", () => {
    let h = initialHealth(0, 0, fixed);
    const early = ticket(h);
    h = judge(h, ticket(h), ERR, 0, fixed).health;
    const v = judge(h, early, OK, 1, fixed);
    assert.equal(v.recovered, true);
    assert.equal(v.health.failures, 0);
  });
});

describe("the webhook lease (several processes on PostgreSQL)", () => {
  it("THREADLINE_WEBHOOK_LEASE_MS: 15 s by default, 3000 to 600000 else start-up stops naming it; held leases last two thirds of it", () => {
    assert.equal(DEFAULT_LEASE_MS, 15_000);
    assert.equal(loadConfig({}).webhookLeaseMs, 15_000);
    assert.equal(loadConfig({ THREADLINE_WEBHOOK_LEASE_MS: "3000" }).webhookLeaseMs, 3000);
    for (const bad of ["2999", "1.5", "-1", "soon", "600001"])
      assert.throws(
        () => loadConfig({ THREADLINE_WEBHOOK_LEASE_MS: bad }),
        (e) => e instanceof ConfigError && /THREADLINE_WEBHOOK_LEASE_MS/.test(e.message),
      );
    // Renewed once under 10 s of 15 remain, so every lease held after a claim runs 10 s more at least.
    assert.equal(leasesHeldUntil(1_000, 15_000), 11_000);
    assert.equal(leasesHeldUntil(0, 3_000), 2_000);
  });
});
