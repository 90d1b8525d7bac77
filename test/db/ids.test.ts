// Ids that carry an order: the send queue sends an account's messages oldest id first.
import assert from "node:assert/strict";
import { test } from "node:test";
import { monotonicUlids, ulid } from "../../src/db/ids.js";

test("monotonic ULIDs sort in the order made, within one millisecond and when the clock steps back", () => {
  const next = monotonicUlids();
  const at = Date.UTC(2026, 10, 29, 12);
  const ids = [next(at), next(at), next(at), next(at - 5), next(at + 1), next(at + 1)];
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  // Same time prefix as a plain ULID of that millisecond.
  assert.equal(ids[0]!.slice(0, 10), ulid(at).slice(0, 10));
  assert.equal(ids[4]!.slice(0, 10), ulid(at + 1).slice(0, 10));
});

test("the increment carries across the random part", () => {
  const next = monotonicUlids();
  const at = 1_700_000_000_000;
  const first = next(at);
  const ids = [first];
  for (let i = 0; i < 5000; i++) ids.push(next(at));
  assert.deepEqual([...ids].sort(), ids, "5,000 in one millisecond stay in order (carries included)");
});
