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

export const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) }) });
