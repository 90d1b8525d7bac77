import { createHash, randomBytes } from "node:crypto";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// randomBytes per id is slow at ingest rates: draw from a refilled pool instead.
let pool = Buffer.alloc(0);
let poolAt = 0;
function random16(): Buffer {
  if (poolAt + 16 > pool.length) {
    pool = randomBytes(16 * 256);
    poolAt = 0;
  }
  poolAt += 16;
  return pool.subarray(poolAt - 16, poolAt);
}

/** A ULID: 48-bit time + 80 random bits, sortable, 26 characters. */
export function ulid(now = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const rnd = random16();
  let rand = "";
  for (let i = 0; i < 16; i++) rand += CROCKFORD[rnd[i]! % 32];
  return time + rand;
}

/**
 * ULIDs that sort in the order they were made within this process, also within one
 * millisecond (the random part of the previous one, plus one): the send queue's order.
 */
export function monotonicUlids(): (now?: number) => string {
  let last = "";
  let lastTime = -1;
  return (now = Date.now()) => {
    if (now > lastTime || last === "") {
      lastTime = now;
      return (last = ulid(now));
    }
    return (last = last.slice(0, 10) + incremented(last.slice(10)));
  };
}

/** A Crockford base-32 string plus one (the random part of a ULID; 80 bits never overflow in practice). */
function incremented(s: string): string {
  const digits = [...s];
  for (let i = digits.length - 1; i >= 0; i--) {
    const v = CROCKFORD.indexOf(digits[i]!);
    if (v < 31) {
      digits[i] = CROCKFORD[v + 1]!;
      return digits.join("");
    }
    digits[i] = "0";
  }
  return digits.join("");
}

/** A prefixed random id for rows that cross the API (`wh_…`, `acc_…`). */
export function newId(prefix: string): string {
  return `${prefix}_${ulid().toLowerCase()}`;
}

/** An unguessable token (API keys, inbound URL tokens, sessions). */
export function newToken(prefix: string, bytes = 24): string {
  return `${prefix}_${randomBytes(bytes).toString("base64url")}`;
}

/** How secrets are stored: a SHA-256 of a high-entropy token needs no salt. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * A UUIDv7 (time-ordered): unguessable enough for a permalink, and inserted at the end
 * of its unique index instead of at random places.
 */
export function uuidv7(now = Date.now()): string {
  const b = Buffer.from(random16());
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
