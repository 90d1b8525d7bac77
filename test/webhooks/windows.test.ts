// Window boundaries (src/webhooks/windows.ts). The bundles a window's close sends: bundles.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { windowEndAfter, windowStartOf } from "../../src/webhooks/windows.js";

describe("window alignment (unit)", () => {
  const iso = (ms: number) => new Date(ms).toISOString();
  it("aligns 1h, 6h, 12h and 24h windows to the workspace's wall clock", () => {
    const t = Date.parse("2021-02-24T16:25:29Z");
    assert.equal(iso(windowEndAfter(t, "UTC", 1)), "2021-02-24T17:00:00.000Z");
    assert.equal(iso(windowStartOf(t, "UTC", 1)), "2021-02-24T16:00:00.000Z");
    assert.equal(iso(windowEndAfter(t, "UTC", 6)), "2021-02-24T18:00:00.000Z");
    assert.equal(iso(windowEndAfter(t, "UTC", 12)), "2021-02-25T00:00:00.000Z");
    assert.equal(iso(windowEndAfter(t, "UTC", 24)), "2021-02-25T00:00:00.000Z");
    // Kolkata is +05:30: hours start at :30 UTC, local midnight is 18:30 UTC.
    assert.equal(iso(windowEndAfter(t, "Asia/Kolkata", 1)), "2021-02-24T16:30:00.000Z");
    assert.equal(iso(windowStartOf(t, "Asia/Kolkata", 1)), "2021-02-24T15:30:00.000Z");
    assert.equal(iso(windowEndAfter(t, "Asia/Kolkata", 6)), "2021-02-24T18:30:00.000Z");
    assert.equal(iso(windowStartOf(t, "Asia/Kolkata", 6)), "2021-02-24T12:30:00.000Z");
    assert.equal(
      iso(windowEndAfter(Date.parse("2021-02-24T19:00:00Z"), "Asia/Kolkata", 12)),
      "2021-02-25T06:30:00.000Z",
    );
    assert.equal(iso(windowEndAfter(t, "Asia/Kolkata", 24)), "2021-02-24T18:30:00.000Z");
    assert.equal(iso(windowStartOf(t, "Asia/Kolkata", 24)), "2021-02-23T18:30:00.000Z");
    // A boundary itself starts the next window.
    assert.equal(iso(windowEndAfter(Date.parse("2021-02-24T17:00:00Z"), "UTC", 1)), "2021-02-24T18:00:00.000Z");
    assert.equal(iso(windowStartOf(Date.parse("2021-02-24T17:00:00Z"), "UTC", 1)), "2021-02-24T17:00:00.000Z");
  });

  it("follows daylight saving time (24h windows end at local midnight)", () => {
    // New York switched to EDT on 2021-03-14 at 02:00 local.
    assert.equal(
      iso(windowEndAfter(Date.parse("2021-03-14T03:00:00Z"), "America/New_York", 24)),
      "2021-03-14T05:00:00.000Z",
    );
    assert.equal(
      iso(windowEndAfter(Date.parse("2021-03-14T12:00:00Z"), "America/New_York", 24)),
      "2021-03-15T04:00:00.000Z",
    );
    assert.equal(
      iso(windowEndAfter(Date.parse("2021-03-14T06:30:00Z"), "America/New_York", 1)),
      "2021-03-14T07:00:00.000Z",
    );
    assert.equal(
      iso(windowEndAfter(Date.parse("2021-03-14T07:00:00Z"), "America/New_York", 1)),
      "2021-03-14T08:00:00.000Z",
    );
  });
});
