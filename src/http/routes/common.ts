import { Type } from "typebox";
import { invalid } from "../../errors.js";
import { MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_TEXT_LENGTH, MAX_URL_LENGTH } from "../../db/text.js";

/**
 * The strings the API stores, by kind, with their length limits (the same on both databases;
 * a NUL character is refused for every string by the server's preValidation hook).
 */
export const IdString = (opts: { minLength?: number } = {}) => Type.String({ maxLength: MAX_ID_LENGTH, ...opts });
export const NameString = (opts: { minLength?: number } = {}) => Type.String({ maxLength: MAX_NAME_LENGTH, ...opts });
export const UrlString = () => Type.String({ maxLength: MAX_URL_LENGTH });
export const TextString = () => Type.String({ maxLength: MAX_TEXT_LENGTH });

export const ListQuery = Type.Object({
  limit: Type.Optional(Type.String({ maxLength: 8 })),
  cursor: Type.Optional(IdString()),
  q: Type.Optional(NameString()),
});
export const IdParams = Type.Object({ id: IdString() });

/** `?limit=` of lists: 1 to 200, default 50. */
export function parseLimit(raw: string | undefined, def = 50): number {
  if (raw === undefined || raw === "") return def;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 200)
    throw invalid("limit", "must be a whole number from 1 to 200.");
  return Number(raw);
}

/**
 * A page of a short list already in memory (teammates, accounts, webhooks), with an
 * opaque offset cursor; long lists (chats, messages) page in the database instead.
 */
export function pageOf<T>(
  all: T[],
  query: { limit?: string; cursor?: string },
): { items: T[]; next_cursor: string | null } {
  const limit = parseLimit(query.limit);
  let offset = 0;
  if (query.cursor) {
    const n = Number(Buffer.from(query.cursor, "base64url").toString());
    if (!Number.isInteger(n) || n < 0) throw invalid("cursor", "is not a cursor this list returned.");
    offset = n;
  }
  const items = all.slice(offset, offset + limit);
  const next = offset + limit;
  return { items, next_cursor: next < all.length ? Buffer.from(String(next)).toString("base64url") : null };
}

/**
 * The cursor of a list paged in the database (keyset): the sort key of the page's last
 * item, opaque to clients (base64url of its JSON).
 */
export function keysetCursor(key: (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/** The sort key a `keysetCursor` carries, checked against the kinds of its parts; `invalid("cursor")` otherwise. */
export function readKeysetCursor<const K extends readonly ("string" | "number")[]>(
  raw: string | undefined,
  kinds: K,
): { -readonly [I in keyof K]: K[I] extends "string" ? string : number } | undefined {
  if (raw === undefined || raw === "") return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(raw, "base64url").toString());
  } catch {
    key = undefined;
  }
  if (!Array.isArray(key) || key.length !== kinds.length || key.some((k, i) => typeof k !== kinds[i]))
    throw invalid("cursor", "is not a cursor this list returned.");
  return key as { -readonly [I in keyof K]: K[I] extends "string" ? string : number };
}
