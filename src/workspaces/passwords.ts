import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { invalid } from "../errors.js";

/**
 * Passwords are stored with scrypt (node's crypto: no native package to build), at one of
 * OWASP's recommended settings: N=2^13, r=8, p=10 (8 MiB; the cheapest of the equal-cost
 * settings on the test machine: BENCHMARKS.md, "Signing in"). The
 * parameters are stored with each hash, so they can be raised later without a migration.
 */
export const PASSWORD_COST = { N: 2 ** 13, r: 8, p: 10 };
let cost = PASSWORD_COST;
const KEY_LENGTH = 32;

/**
 * Tests only (THREADLINE_TEST_PASSWORDS=1, refused without the test clock): a low cost, so a
 * suite that signs in hundreds of times stays quick. The same code path; test/workspaces/passwords.test.ts
 * checks the production cost.
 */
export function useTestPasswordCost(): void {
  cost = { N: 2 ** 10, r: 8, p: 1 };
}

export const MIN_PASSWORD = 10;
export const MAX_PASSWORD = 200;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize("NFKC"),
      salt,
      KEY_LENGTH,
      { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

/** Refuses a password too short or too long to be one (the field is named `password`). */
export function checkPassword(password: string, field = "password"): string {
  if (password.length < MIN_PASSWORD) throw invalid(field, `must be at least ${MIN_PASSWORD} characters.`);
  if (password.length > MAX_PASSWORD) throw invalid(field, `must be at most ${MAX_PASSWORD} characters.`);
  return password;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { N, r, p } = cost;
  const key = await derive(password, salt, N, r, p);
  return `scrypt$${N}$${r}$${p}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

/** A hash of a password nobody has: verifying against it costs what a real check costs. */
let dummy: Promise<string> | undefined;

/**
 * Whether `password` matches `stored`. With no stored hash (an unknown e-mail, a person who
 * never set a password) it still spends a real check's time, so the answer's timing does
 * not tell which e-mails exist.
 */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const hash = stored ?? (await (dummy ??= hashPassword(randomBytes(16).toString("hex"))));
  const [scheme, n, r, p, salt, key] = hash.split("$");
  if (scheme !== "scrypt" || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, "base64url");
  const got = await derive(password, Buffer.from(salt, "base64url"), Number(n), Number(r), Number(p));
  return timingSafeEqual(expected, got) && stored !== null && stored !== undefined;
}
