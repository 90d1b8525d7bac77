/**
 * Whose name a chat keeps. Each chat's `full_name` remembers where it came from
 * (`chats.name_source`), ranked: "" (no name: the phone or the chat id stands in) < "push"
 * (what the contact calls themself) < "gateway" (a business or address-book name, or one
 * an API client gave) < "teammate" (`PATCH /api/v1/chats/{id}`), never overwritten by a
 * gateway. A push name replaces only an empty or push name; any other name only a lower rank.
 */
export type NameSource = "" | "push" | "gateway" | "teammate";

const RANK: Record<NameSource, number> = { "": 0, push: 1, gateway: 2, teammate: 3 };

function rank(source: string): number {
  return RANK[source as NameSource] ?? 0;
}

/** Whether `offered` (from a message or a merge) replaces the chat's `current` name. */
export function replacesName(
  current: { name: string; source: string },
  offered: { name: string; source: string },
): boolean {
  if (!offered.name || offered.name === current.name) return false;
  if (rank(offered.source) > rank(current.source)) return true;
  return offered.source === "push" && current.source === "push";
}

/** The name a merged chat keeps: `kept`'s, unless `other`'s ranks higher. */
export function betterName(
  kept: { name: string; source: NameSource },
  other: { name: string; source: NameSource },
): { name: string; source: NameSource } {
  return other.name && rank(other.source) > rank(kept.source) ? other : kept;
}
