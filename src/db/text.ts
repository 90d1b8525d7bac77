/**
 * What text the database stores, the same on SQLite and PostgreSQL. PostgreSQL refuses a
 * NUL byte in text (SQLite keeps it), and a btree index refuses a key over ~2.7 kB, so both
 * are checked before any query: the two databases answer the same 400, never a 500.
 */
export const MAX_ID_LENGTH = 256;
export const MAX_NAME_LENGTH = 1024;
export const MAX_URL_LENGTH = 2048;
/** Message text, and any other string in a request: 64 KiB of characters. */
export const MAX_TEXT_LENGTH = 65_536;

/**
 * Nesting of objects and arrays a JSON body may have. Checked on the raw text before it is
 * parsed (`jsonDepthOver`), so no walk of a parsed body (this file's, a schema's) can
 * overflow the stack: a body nested 20,000 deep answered 500.
 */
export const MAX_JSON_DEPTH = 32;

/** Whether `json` nests objects and arrays deeper than `max`: one pass over the text, strings skipped. */
export function jsonDepthOver(json: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 34 /* " */) {
      for (i++; i < json.length; i++) {
        const d = json.charCodeAt(i);
        if (d === 92 /* \ */) i++;
        else if (d === 34) break;
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/**
 * A UTF-16 surrogate without its pair (JSON's `"\ud800"`): not a character, stored as
 * U+FFFD by PostgreSQL's encoding but kept as it is in memory, so a chat id holding one never
 * matched its stored row again (every later message to it answered 500). Refused.
 */
const LONE_SURROGATE = /\p{Cs}/u;
export const hasLoneSurrogate = (s: string): boolean => LONE_SURROGATE.test(s);
export const LONE_SURROGATE_PROBLEM =
  "must not contain a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape): it is not a character.";

/** Whether any string (or key) in `value` holds a NUL or a lone surrogate, or is over MAX_TEXT_LENGTH: no paths built, no allocation. */
function anyBadText(value: unknown): boolean {
  if (typeof value === "string")
    return value.length > MAX_TEXT_LENGTH || value.includes("\u0000") || LONE_SURROGATE.test(value);
  if (typeof value !== "object" || value === null || Buffer.isBuffer(value)) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (anyBadText(v)) return true;
    return false;
  }
  for (const k in value)
    if (k.includes("\u0000") || LONE_SURROGATE.test(k) || anyBadText((value as Record<string, unknown>)[k]))
      return true;
  return false;
}

/**
 * The path (`messages[3].text`, `q`) of the first string in `value` that holds a NUL byte
 * or is longer than MAX_TEXT_LENGTH, with what is wrong with it; undefined when there is none.
 * A walk that builds every path cost about as much as parsing the JSON; the walk without
 * paths, which goes first, a fraction of it (BENCHMARKS.md, "Behind choices in the code"). Only a bad body pays for the paths.
 */
export function badText(value: unknown, path = ""): { field: string; problem: string } | undefined {
  return anyBadText(value) ? locate(value, path) : undefined;
}

function locate(value: unknown, path: string): { field: string; problem: string } | undefined {
  if (typeof value === "string") {
    if (value.includes("\u0000")) return { field: path, problem: "must not contain a NUL character (\\u0000)." };
    if (value.length > MAX_TEXT_LENGTH)
      return { field: path, problem: `must be at most ${MAX_TEXT_LENGTH} characters.` };
    if (LONE_SURROGATE.test(value)) return { field: path, problem: LONE_SURROGATE_PROBLEM };
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = locate(value[i], `${path}[${i}]`);
      if (bad) return bad;
    }
    return undefined;
  }
  if (typeof value === "object" && value !== null && !Buffer.isBuffer(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes("\u0000")) {
        const name = k.replaceAll("\u0000", "\\u0000");
        return {
          field: path ? `${path}.${name}` : name,
          problem: "must not contain a NUL character (\\u0000) in its name.",
        };
      }
      if (LONE_SURROGATE.test(k))
        return { field: path || "body", problem: `has a field name that ${LONE_SURROGATE_PROBLEM}` };
      const bad = locate(v, path ? `${path}.${k}` : k);
      if (bad) return bad;
    }
  }
  return undefined;
}
