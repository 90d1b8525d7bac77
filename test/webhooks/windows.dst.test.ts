// Aggregation windows across daylight-saving changes: pure arithmetic, no server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { localTime, windowEndAfter, windowStartOf } from "../../src/webhooks/windows.js";

const H = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const at = (s: string) => Date.parse(s);

/** Every window of `hours` that touches [from, to), as [start, end] pairs. */
function windows(from: number, to: number, zone: string, hours: number): [number, number][] {
  const out: [number, number][] = [];
  for (let t = from; t < to;) {
    const start = windowStartOf(t, zone, hours);
    const end = windowEndAfter(t, zone, hours);
    out.push([start, end]);
    t = end;
  }
  return out;
}

/** Properties that hold in every zone, every day: windows tile time, each ends on the local grid. */
function checkTiling(zone: string, from: number, to: number, longestHour = H) {
  for (const hours of [1, 6, 12, 24]) {
    const ws = windows(from, to, zone, hours);
    for (let i = 0; i < ws.length; i++) {
      const [start, end] = ws[i]!;
      assert.ok(start < end, `${zone} ${hours}h: ${iso(start)} < ${iso(end)}`);
      if (i > 0) assert.equal(start, ws[i - 1]![1], `${zone} ${hours}h windows are contiguous`);
      // Ends at the first instant the local clock reaches the grid (a skipped grid line: the jump).
      assert.ok(
        end - start <= (hours + 1) * H,
        `${zone} ${hours}h window ${iso(start)}..${iso(end)} is at most an hour longer`,
      );
      for (let t = start; t < end; t += 15 * 60_000) {
        assert.equal(windowEndAfter(t, zone, hours), end, `${zone} ${hours}h: ${iso(t)} ends at ${iso(end)}`);
        assert.equal(windowStartOf(t, zone, hours), start, `${zone} ${hours}h: ${iso(t)} starts at ${iso(start)}`);
      }
    }
    if (hours === 1)
      for (const [s, e] of ws)
        assert.ok(
          e - s <= longestHour,
          `${zone}: a 1h window ${iso(s)}..${iso(e)} is never longer than ${longestHour / H} h`,
        );
    // A day ends at local midnight, or at the jump over a midnight that does not exist.
    if (hours === 24)
      for (const [, e] of ws)
        assert.ok(localTime(e, zone) % (24 * H) <= H, `${zone}: a day ends at local midnight (${iso(e)})`);
  }
}

describe("aggregation windows across daylight-saving changes", () => {
  it("Europe/Paris, fall back (03:00 CEST → 02:00 CET): the repeated hour is a 1h window of its own", () => {
    // 2026-10-25 01:00Z is 03:00 CEST = 02:00 CET.
    assert.equal(
      iso(windowEndAfter(at("2026-10-25T00:30:00Z"), "Europe/Paris", 1)),
      "2026-10-25T01:00:00.000Z",
      "02:30 CEST ends at 02:00 CET",
    );
    assert.equal(
      iso(windowStartOf(at("2026-10-25T01:30:00Z"), "Europe/Paris", 1)),
      "2026-10-25T01:00:00.000Z",
      "02:30 CET starts at 02:00 CET",
    );
    assert.equal(
      iso(windowEndAfter(at("2026-10-25T01:30:00Z"), "Europe/Paris", 1)),
      "2026-10-25T02:00:00.000Z",
      "02:30 CET ends at 03:00 CET",
    );
    // 24h: local midnight to local midnight, 25 h long that day.
    assert.equal(iso(windowStartOf(at("2026-10-25T12:00:00Z"), "Europe/Paris", 24)), "2026-10-24T22:00:00.000Z");
    assert.equal(iso(windowEndAfter(at("2026-10-25T12:00:00Z"), "Europe/Paris", 24)), "2026-10-25T23:00:00.000Z");
    // 6h: 00:00–06:00 local holds the repeated hour (7 h), then 06:00 CET.
    assert.equal(iso(windowEndAfter(at("2026-10-25T00:30:00Z"), "Europe/Paris", 6)), "2026-10-25T05:00:00.000Z");
    checkTiling("Europe/Paris", at("2026-10-24T00:00:00Z"), at("2026-10-27T00:00:00Z"));
  });

  it("Europe/Paris, spring forward (02:00 CET → 03:00 CEST): the window holding the jump ends at it", () => {
    // 2026-03-29 01:00Z is 02:00 CET = 03:00 CEST.
    assert.equal(iso(windowEndAfter(at("2026-03-29T00:30:00Z"), "Europe/Paris", 1)), "2026-03-29T01:00:00.000Z");
    assert.equal(
      iso(windowEndAfter(at("2026-03-29T01:00:00Z"), "Europe/Paris", 1)),
      "2026-03-29T02:00:00.000Z",
      "03:00 CEST ends at 04:00 CEST",
    );
    assert.equal(
      iso(windowEndAfter(at("2026-03-29T00:30:00Z"), "Europe/Paris", 24)),
      "2026-03-29T22:00:00.000Z",
      "a 23 h day",
    );
    assert.equal(
      iso(windowEndAfter(at("2026-03-28T23:30:00Z"), "Europe/Paris", 6)),
      "2026-03-29T04:00:00.000Z",
      "06:00 CEST",
    );
    checkTiling("Europe/Paris", at("2026-03-28T00:00:00Z"), at("2026-03-31T00:00:00Z"));
  });

  it("America/New_York, both changes", () => {
    // Fall back 2026-11-01: 06:00Z is 02:00 EDT = 01:00 EST.
    assert.equal(iso(windowEndAfter(at("2026-11-01T05:30:00Z"), "America/New_York", 1)), "2026-11-01T06:00:00.000Z");
    assert.equal(iso(windowEndAfter(at("2026-11-01T06:30:00Z"), "America/New_York", 1)), "2026-11-01T07:00:00.000Z");
    assert.equal(iso(windowEndAfter(at("2026-11-01T12:00:00Z"), "America/New_York", 24)), "2026-11-02T05:00:00.000Z");
    assert.equal(iso(windowStartOf(at("2026-11-01T12:00:00Z"), "America/New_York", 24)), "2026-11-01T04:00:00.000Z");
    // Spring forward 2026-03-08: 07:00Z is 02:00 EST = 03:00 EDT.
    assert.equal(iso(windowEndAfter(at("2026-03-08T06:30:00Z"), "America/New_York", 1)), "2026-03-08T07:00:00.000Z");
    assert.equal(
      iso(windowEndAfter(at("2026-03-08T06:30:00Z"), "America/New_York", 12)),
      "2026-03-08T16:00:00.000Z",
      "noon EDT",
    );
    checkTiling("America/New_York", at("2026-10-31T00:00:00Z"), at("2026-11-03T00:00:00Z"));
    checkTiling("America/New_York", at("2026-03-07T00:00:00Z"), at("2026-03-10T00:00:00Z"));
  });

  it("Australia/Sydney (southern hemisphere: back in April, forward in October)", () => {
    // 2026-04-05 16:00Z is 03:00 AEDT = 02:00 AEST.
    assert.equal(iso(windowEndAfter(at("2026-04-05T15:30:00Z"), "Australia/Sydney", 1)), "2026-04-05T16:00:00.000Z");
    assert.equal(iso(windowEndAfter(at("2026-04-05T16:30:00Z"), "Australia/Sydney", 1)), "2026-04-05T17:00:00.000Z");
    assert.equal(
      iso(windowEndAfter(at("2026-04-05T10:00:00Z"), "Australia/Sydney", 24)),
      "2026-04-05T14:00:00.000Z",
      "midnight AEST",
    );
    // 2026-10-04 16:00Z is 02:00 AEST = 03:00 AEDT.
    assert.equal(iso(windowEndAfter(at("2026-10-04T15:30:00Z"), "Australia/Sydney", 1)), "2026-10-04T16:00:00.000Z");
    checkTiling("Australia/Sydney", at("2026-04-04T00:00:00Z"), at("2026-04-07T00:00:00Z"));
    checkTiling("Australia/Sydney", at("2026-10-03T00:00:00Z"), at("2026-10-06T00:00:00Z"));
  });

  it("half-hour zones: America/St_Johns (with DST), Asia/Kolkata; Lord Howe's half-hour change", () => {
    // St John's: UTC−3:30 → −2:30; midnight is at hh:30 UTC.
    assert.equal(iso(windowEndAfter(at("2026-11-01T12:00:00Z"), "America/St_Johns", 24)), "2026-11-02T03:30:00.000Z");
    assert.equal(iso(windowEndAfter(at("2026-11-01T04:00:00Z"), "America/St_Johns", 1)), "2026-11-01T04:30:00.000Z");
    assert.equal(iso(windowEndAfter(at("2021-02-24T16:25:29Z"), "Asia/Kolkata", 1)), "2021-02-24T16:30:00.000Z");
    checkTiling("America/St_Johns", at("2026-10-31T00:00:00Z"), at("2026-11-03T00:00:00Z"));
    checkTiling("America/St_Johns", at("2026-03-07T00:00:00Z"), at("2026-03-10T00:00:00Z"));
    checkTiling("Asia/Kolkata", at("2026-03-07T00:00:00Z"), at("2026-03-09T00:00:00Z"));
    // Lord Howe goes back 30 minutes: a 1h window then lasts 1.5 h (never 2).
    checkTiling("Australia/Lord_Howe", at("2026-04-04T00:00:00Z"), at("2026-04-07T00:00:00Z"), 1.5 * H);
    checkTiling("Australia/Lord_Howe", at("2026-10-03T00:00:00Z"), at("2026-10-06T00:00:00Z"));
  });

  it("a zone whose midnight does not exist on the change day (America/Havana): the day starts at the jump", () => {
    // 2026-03-08: 00:00 CST → 01:00 CDT at 05:00Z.
    assert.equal(iso(windowEndAfter(at("2026-03-07T12:00:00Z"), "America/Havana", 24)), "2026-03-08T05:00:00.000Z");
    assert.equal(iso(windowEndAfter(at("2026-03-08T12:00:00Z"), "America/Havana", 24)), "2026-03-09T04:00:00.000Z");
    checkTiling("America/Havana", at("2026-03-07T00:00:00Z"), at("2026-03-10T00:00:00Z"));
    checkTiling("America/Havana", at("2026-10-31T00:00:00Z"), at("2026-11-03T00:00:00Z"));
  });
});
