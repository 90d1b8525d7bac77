// The UI's time formats: a time names its zone once, and a time ahead reads as ahead.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatDateTime, formatRelative } from "../../web/src/ui.js";

describe("UI time formats", () => {
  it("a date and time names its zone once", () => {
    const text = formatDateTime("2026-11-29T08:30:00Z", "Europe/Paris");
    assert.equal(text.match(/Europe\/Paris/g)?.length, 1, text);
  });

  it("a retry 16 s ahead reads 'in 16 seconds', one 16 s ago '16 seconds ago', and only the last seconds 'just now'", () => {
    const at = (s: number) => new Date(Date.now() + s * 1000).toISOString();
    assert.match(formatRelative(at(16.4), "UTC"), /^in 16 seconds$/);
    assert.match(formatRelative(at(-16.4), "UTC"), /^16 seconds ago$/);
    assert.equal(formatRelative(at(2), "UTC"), "just now");
    assert.match(formatRelative(at(30 * 60), "UTC"), /^in 30 minutes$/);
  });
});
