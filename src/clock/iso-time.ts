import { invalid } from "../errors.js";

/**
 * The one parser of times a person types into the API (`since`, `until`): a date (UTC
 * midnight), or a date and time with a zone (none: UTC). Date.parse alone takes much more
 * and reads 2026-02-31 as March 3; this refuses it, naming the field.
 */
export function parseIsoTime(field: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(raw);
  const t = m ? Date.parse(m[4] && !m[5] ? `${raw}Z` : raw) : NaN;
  if (Number.isNaN(t) || new Date(Date.UTC(+m![1]!, +m![2]! - 1, +m![3]!)).getUTCDate() !== +m![3]!) {
    throw invalid(field, "must be an ISO 8601 time such as 2026-01-31T09:00:00Z.");
  }
  return t;
}
