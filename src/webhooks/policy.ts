/**
 * The delivery rules as pure functions of a webhook's health and one attempt's outcome:
 * the backoff schedule, the thresholds, how many requests may be in flight, and how a
 * failure is counted. No I/O and no clock of its own: the consumer passes `now` and applies
 * the verdict (log, activity, alert, disable). Unit-tested in test/webhooks/policy.test.ts.
 */

/** More than this many consecutive errors disable a webhook. */
export const MAX_CONSECUTIVE_FAILURES = 10;
/** The consecutive error at which the owner is warned by e-mail. */
export const WARNING_AT = 5;
/** Standard Webhooks-style backoff: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then hourly (±10 % jitter). */
export const RETRY_SCHEDULE_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000] as const;
/** A receiver's `Retry-After` is honoured within these bounds. */
export const MIN_RETRY_AFTER_MS = 1_000;
export const MAX_RETRY_AFTER_MS = 6 * 3600_000;
/** Requests in flight per webhook at full speed (each to a different chat, or bundle). */
export const MAX_IN_FLIGHT = 64;

export type DisabledReason = "consecutive_failures" | "gone";
/** Every value `disabled_reason` can take (docs/api.md). */
export const DISABLED_REASONS = ["manual", "consecutive_failures", "gone"] as const;

/**
 * What a consumer knows of its receiver. `failures > 0` is the *failing* state: one
 * attempt at a time (the probe), not before `retryAt`.
 */
export interface Health {
  /** Consecutive errors, counted in time (see `judge`). */
  failures: number;
  /** Numbers the runs of errors: bumped when one begins, so attempts know which run they belong to. */
  run: number;
  /** While failing: the earliest time of the next attempt. */
  retryAt: number;
  /** While healthy: how many attempts may be in flight; grows back after a recovery. */
  limit: number;
  /** When the current run of errors began (as this process saw it). */
  failingSince?: number;
}

/** What an attempt carries from its dispatch to its outcome. */
export interface Ticket {
  run: number;
  /** Sent while failing: the one probe at a time, whose failure counts. */
  probe: boolean;
}

/** The part of an attempt's outcome that the rules look at. */
export interface Outcome {
  ok: boolean;
  /** The receiver's HTTP status, if it answered. */
  status: number | null;
  retryAfterMs?: number;
}

export interface Verdict {
  health: Health;
  /** This failure is one more consecutive error (false for attempts in flight when a run began). */
  counted: boolean;
  /** This success ended a run of errors. */
  recovered: boolean;
  /** The count just reached WARNING_AT: warn the owner. */
  warn: boolean;
  /** Disable the webhook, for this reason. */
  disable?: DisabledReason;
}

/** The schedule's backoff after the `failures`-th consecutive error, before its jitter. */
export function scheduledDelay(failures: number): number {
  return RETRY_SCHEDULE_MS[Math.min(Math.max(failures, 1), RETRY_SCHEDULE_MS.length) - 1]!;
}

/** The backoff after the `failures`-th consecutive error; a receiver's `Retry-After` wins. */
export function retryDelay(failures: number, retryAfterMs?: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, MIN_RETRY_AFTER_MS), MAX_RETRY_AFTER_MS);
  return scheduledDelay(failures) * (0.9 + random() * 0.2);
}

/**
 * A consumer's starting health: a webhook that was failing before (a restart, another
 * process) keeps backing off, and ramps up from one request once it recovers; a healthy one
 * starts at full speed.
 */
export function initialHealth(failures: number, now: number, random: () => number = Math.random): Health {
  return failures > 0
    ? { failures, run: 1, retryAt: now + retryDelay(failures, undefined, random), limit: 1 }
    : { failures: 0, run: 0, retryAt: 0, limit: MAX_IN_FLIGHT };
}

/** How many attempts may be in flight now. */
export function capacity(h: Health): number {
  return h.failures > 0 ? 1 : h.limit;
}

/** While failing, whether the probe may go now (else wait until `h.retryAt`). */
export function mayProbe(h: Health, now: number): boolean {
  return h.failures === 0 || now >= h.retryAt;
}

/** Stamped on an attempt when it is sent. */
export function ticket(h: Health): Ticket {
  return { run: h.run, probe: h.failures > 0 };
}

/**
 * The failure rule, counted in time as the receiver experiences it:
 * - any 2xx ends a run of errors (and the speed ramps up again from one request);
 * - the first failure begins a run: one error, the failing state, the first backoff;
 * - attempts that were already in flight when it began are logged and sent again, but
 *   count as that same one error (a blip under 64 requests in flight is one error, not 64);
 * - from then on, each failed probe (one at a time, at the backoff) is one more error;
 * - 410 Gone disables at once; more than MAX_CONSECUTIVE_FAILURES disable; the
 *   WARNING_AT-th warns; `Retry-After` replaces the backoff.
 */
export function judge(h: Health, t: Ticket, o: Outcome, now: number, random: () => number = Math.random): Verdict {
  if (o.ok) {
    if (h.failures > 0)
      return {
        health: { failures: 0, run: h.run, retryAt: 0, limit: 1 },
        counted: false,
        recovered: true,
        warn: false,
      };
    // The steady state (thousands a second): the same health, nothing to change.
    if (h.limit >= MAX_IN_FLIGHT) return { health: h, counted: false, recovered: false, warn: false };
    return { health: { ...h, limit: h.limit + 1 }, counted: false, recovered: false, warn: false };
  }
  let health: Health;
  let counted: boolean;
  if (h.failures === 0) {
    health = {
      failures: 1,
      run: h.run + 1,
      retryAt: now + retryDelay(1, o.retryAfterMs, random),
      limit: 1,
      failingSince: now,
    };
    counted = true;
  } else if (t.probe && t.run === h.run) {
    const failures = h.failures + 1;
    health = { ...h, failures, retryAt: now + retryDelay(failures, o.retryAfterMs, random) };
    counted = true;
  } else {
    // In flight when the run began: already counted as its first error.
    health =
      o.retryAfterMs !== undefined
        ? { ...h, retryAt: Math.max(h.retryAt, now + retryDelay(h.failures, o.retryAfterMs)) }
        : h;
    counted = false;
  }
  if (o.status === 410) return { health, counted, recovered: false, warn: false, disable: "gone" };
  if (counted && health.failures > MAX_CONSECUTIVE_FAILURES)
    return { health, counted, recovered: false, warn: false, disable: "consecutive_failures" };
  return { health, counted, recovered: false, warn: counted && health.failures === WARNING_AT };
}
