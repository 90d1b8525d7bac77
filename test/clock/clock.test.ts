// The Clock's timers: a wait longer than setTimeout's limit (2^31-1 ms, ~24.8 days) is re-armed
// in steps, never fired at once (Node fires an over-long setTimeout after 1 ms).
import assert from "node:assert/strict";
import { it } from "node:test";
import { Clock } from "../../src/clock/index.js";

it("a timer 30 days ahead waits, and fires when the clock gets there", async () => {
  const clock = new Clock();
  let fired = 0;
  const timer = clock.at(clock.now() + 30 * 86_400_000, () => fired++);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(fired, 0, "an over-long wait fired at once");
  clock.advance(30 * 86_400_000 - 60_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(fired, 0, "fired a minute early");
  clock.advance(60_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(fired, 1);
  timer.cancel();
});
