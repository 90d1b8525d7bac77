// The delivery log's day filter: a day of the workspace's zone, DST days included.
import assert from "node:assert/strict";
import { test } from "node:test";
import { dayStartIn, nextDay } from "../../web/src/days.js";

test("a day starts at the zone's midnight", () => {
  assert.equal(dayStartIn("2026-11-29", "UTC"), "2026-11-29T00:00:00.000Z");
  assert.equal(dayStartIn("2026-11-29", "Asia/Jerusalem"), "2026-11-28T22:00:00.000Z");
  assert.equal(dayStartIn("2026-11-29", "America/New_York"), "2026-11-29T05:00:00.000Z");
  assert.equal(dayStartIn("2026-11-29", "Asia/Kolkata"), "2026-11-28T18:30:00.000Z");
});

test("days around a DST change start at their own midnight", () => {
  // Europe/Berlin moves to summer time on 2026-03-29 at 02:00: that day is 23 hours long.
  assert.equal(dayStartIn("2026-03-29", "Europe/Berlin"), "2026-03-28T23:00:00.000Z");
  assert.equal(dayStartIn("2026-03-30", "Europe/Berlin"), "2026-03-29T22:00:00.000Z");
  // America/Sao_Paulo has no DST now; Asia/Jerusalem moves on a Friday at 02:00.
  assert.equal(dayStartIn("2026-03-27", "Asia/Jerusalem"), "2026-03-26T22:00:00.000Z");
  assert.equal(dayStartIn("2026-03-28", "Asia/Jerusalem"), "2026-03-27T21:00:00.000Z");
});

test("the next day crosses months and years", () => {
  assert.equal(nextDay("2026-11-30"), "2026-12-01");
  assert.equal(nextDay("2026-12-31"), "2027-01-01");
  assert.equal(nextDay("2028-02-28"), "2028-02-29");
});
