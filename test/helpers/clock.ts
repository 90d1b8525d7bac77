// The server's test clock (THREADLINE_TEST_CLOCK=1) and window boundaries computed
// independently of the product.
import assert from "node:assert/strict";
import type { TestServer } from "./server.js";

export const HOUR = 3600_000;
export const MINUTE = 60_000;

/** The server's clock now (ms). */
export async function serverNow(server: TestServer): Promise<number> {
  return Date.parse(await server.advance(0));
}

/** Moves the server's clock forward to `at` (ms); answers the new now. */
export async function advanceTo(server: TestServer, at: number): Promise<number> {
  const now = await serverNow(server);
  assert.ok(at >= now, `cannot move the clock back (${new Date(at).toISOString()} < ${new Date(now).toISOString()})`);
  return Date.parse(await server.advance(at - now));
}

/**
 * The next window boundary after `t` for a fixed-offset zone (`offsetMin` east of UTC),
 * computed independently of the product: local time floored to `hours`, plus `hours`.
 */
export function nextBoundary(t: number, hours: number, offsetMin = 0): number {
  const local = t + offsetMin * MINUTE;
  return (Math.floor(local / (hours * HOUR)) + 1) * hours * HOUR - offsetMin * MINUTE;
}

/** `YYYY-MM-DD HH:MM` of `ms` shifted by a fixed offset (independent of the product's code). */
export function minuteAt(ms: number, offsetMin = 0): string {
  const d = new Date(ms + offsetMin * MINUTE).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 16)}`;
}
