import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { phoneFromJid } from "../../src/ingest/jid.js";
import { normalizeJid } from "../../src/sources/jids.js";
import { unixSeconds } from "../../src/sources/json.js";
import { header, safeEqual } from "../../src/sources/request.js";
import { adapterFor, GATEWAY_SOURCES } from "../../src/sources/index.js";
import { SourceInputError } from "../../src/sources/types.js";
import { post } from "./helpers.js";

describe("adapterFor", () => {
  it("returns the adapter of each gateway source", () => {
    for (const source of ["cloud_api", "waha", "evolution"]) assert.equal(adapterFor(source)?.source, source);
    assert.deepEqual([...GATEWAY_SOURCES].sort(), ["cloud_api", "evolution", "waha"]);
  });

  it("returns undefined for api and unknown names, including Object.prototype keys", () => {
    for (const source of ["api", "", "cloud-api", "toString", "__proto__", "constructor"])
      assert.equal(adapterFor(source), undefined);
  });
});

describe("shared helpers", () => {
  it("safeEqual compares exactly, whatever the lengths", () => {
    assert.equal(safeEqual("abc", "abc"), true);
    assert.equal(safeEqual("abc", "abd"), false);
    assert.equal(safeEqual("abc", "abcd"), false);
    assert.equal(safeEqual("", "x"), false);
  });

  it("phoneFromJid gives + digits for phone JIDs only", () => {
    assert.equal(phoneFromJid("15551234567@c.us"), "+15551234567");
    assert.equal(phoneFromJid("15551234567:3@s.whatsapp.net"), "+15551234567");
    assert.equal(phoneFromJid("120363041234567890@g.us"), "");
    assert.equal(phoneFromJid("103899771998284@lid"), "");
  });

  it("normalizeJid drops a device suffix only", () => {
    assert.equal(normalizeJid("15551234567:12@s.whatsapp.net"), "15551234567@s.whatsapp.net");
    assert.equal(normalizeJid("120363041234567890@g.us"), "120363041234567890@g.us");
  });

  it("unixSeconds reads numbers, numeric strings and protobuf Longs, and names a bad field", () => {
    assert.equal(unixSeconds(1710000000, "t"), 1710000000);
    assert.equal(unixSeconds("1749416383", "t"), 1749416383);
    assert.equal(unixSeconds({ low: 1759313100, high: 0, unsigned: true }, "t"), 1759313100);
    for (const bad of ["", "12a", -1, 0, null, undefined, {}, Number.NaN]) {
      assert.throws(
        () => unixSeconds(bad, "payload.timestamp"),
        (err: unknown) => err instanceof SourceInputError && err.field === "payload.timestamp",
      );
    }
  });

  it("header is case-insensitive and takes the first of repeated values", () => {
    const req = post("{}", { "X-Hub-Signature-256": "a", "x-other": ["b", "c"] });
    assert.equal(header(req, "x-hub-signature-256"), "a");
    assert.equal(header(req, "X-OTHER"), "b");
    assert.equal(header(req, "missing"), undefined);
  });
});
