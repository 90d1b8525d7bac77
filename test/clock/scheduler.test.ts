// The process's one scheduler for retries and window ends, in-process: entries run in due
// order when the (test) clock reaches them, cancelled ones never, a throwing one does not
// stop the rest, and however many wait there is one Clock timer.
import assert from "node:assert/strict";
import { it } from "node:test";
import { Clock } from "../../src/clock/index.js";
import { Scheduler } from "../../src/clock/scheduler.js";

/** The Clock's live timers (private: what a scheduler costs the event loop). */
const timersOf = (clock: Clock) => (clock as unknown as { timers: Set<unknown> }).timers.size;

it("runs thousands of entries in due order on one clock timer; cancelled ones never run; an error stays with its entry", async () => {
  // An advance fires due timers on the next turn of the event loop.
  const settle = () => new Promise((r) => setTimeout(r, 10));
  const clock = new Clock();
  const errors: unknown[] = [];
  const scheduler = new Scheduler(clock, (e) => errors.push(e));
  const now = clock.now();
  const ran: number[] = [];
  const entries = [];
  // Due an hour ahead, in a shuffled order.
  for (let i = 0; i < 5000; i++) {
    const due = now + 3600_000 + ((i * 7919) % 5000) * 1000;
    entries.push({ i, due, s: scheduler.at(due, () => ran.push(due)) });
  }
  scheduler.at(now + 3600_000, () => {
    throw new Error("one webhook's bug");
  });
  for (const e of entries) if (e.i % 3 === 0) e.s.cancel();
  assert.equal(timersOf(clock), 1, "one timer for every entry");
  assert.equal(scheduler.size, 5001 - Math.ceil(5000 / 3));

  // Half a second past a due time: the real time the test takes does not reach the next one.
  const at = clock.advance(3600_000 + 25_500);
  await settle();
  const expected = entries.filter((e) => e.i % 3 !== 0 && e.due <= at).map((e) => e.due);
  assert.deepEqual(
    ran,
    [...expected].sort((a, b) => a - b),
    "the due ones, in order",
  );
  assert.equal(errors.length, 1);
  assert.equal(timersOf(clock), 1, "armed for the next one");

  clock.advance(2 * 3600_000);
  await settle();
  assert.equal(ran.length, entries.filter((e) => e.i % 3 !== 0).length, "all that were not cancelled");
  assert.equal(scheduler.size, 0);
  assert.equal(timersOf(clock), 0, "nothing waits: no timer");
});
