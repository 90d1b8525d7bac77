// Passwords at the production cost (servers in tests hash at a low one: THREADLINE_TEST_PASSWORDS).
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkPassword, hashPassword, PASSWORD_COST, verifyPassword } from "../../src/workspaces/passwords.js";

test("scrypt at OWASP's N=2^13, r=8, p=10: the stored hash carries its parameters and a salt; only the right password verifies", async () => {
  const a = await hashPassword("correct horse battery staple");
  const b = await hashPassword("correct horse battery staple");
  assert.match(a, new RegExp(`^scrypt\\$${PASSWORD_COST.N}\\$8\\$10\\$[\\w-]{22}\\$[\\w-]{43}$`));
  assert.notEqual(a, b, "a new salt each time");
  assert.equal(await verifyPassword("correct horse battery staple", a), true);
  assert.equal(await verifyPassword("correct horse battery stapler", a), false);
  // No stored hash (an unknown e-mail, no password yet): false, after a real check's work.
  assert.equal(await verifyPassword("correct horse battery staple", null), false);
  assert.equal(await verifyPassword("x", "not a hash"), false);
  assert.throws(() => checkPassword("short"), /at least 10/);
  assert.throws(() => checkPassword("x".repeat(201)), /at most 200/);
});
