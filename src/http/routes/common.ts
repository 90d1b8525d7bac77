import { Type } from "typebox";
import { invalid } from "../errors.js";

export const ListQuery = Type.Object({ limit: Type.Optional(Type.String()), cursor: Type.Optional(Type.String()), q: Type.Optional(Type.String()) });
export const IdParams = Type.Object({ id: Type.String() });

/** `?limit=` of lists: 1 to 200, default 50. */
export function parseLimit(raw: string | undefined, def = 50): number {
  if (raw === undefined || raw === "") return def;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 200) throw invalid("limit", "must be a whole number from 1 to 200.");
  return Number(raw);
}


/**
 * A page of a short list already in memory (teammates, accounts, webhooks), with an
 * opaque offset cursor; long lists (chats, messages) page in the database instead.
 */
export function pageOf<T>(all: T[], query: { limit?: string; cursor?: string }): { items: T[]; next_cursor: string | null } {
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
