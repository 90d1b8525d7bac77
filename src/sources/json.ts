/** Reading untrusted JSON of gateways' bodies and answers, with errors that name the field. */
import type { IngestMessage } from "../ingest/types.js";
import { SourceInputError } from "./types.js";

export type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The raw body parsed, or a SourceInputError when it is not JSON at all (the one body refused with 400). */
export function parseJson(rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString("utf8")) as unknown;
  } catch {
    throw new SourceInputError("The request body is not valid JSON.", "body");
  }
}

/** The raw body as a JSON object, or a SourceInputError. */
export function parseJsonObject(rawBody: Buffer): Json {
  const parsed = parseJson(rawBody);
  if (!isRecord(parsed)) throw new SourceInputError("The request body must be a JSON object.", "body");
  return parsed;
}

/** Why mapping a part of a body failed, for the unrecognised-event record. */
export function reasonOf(err: unknown): string {
  if (err instanceof SourceInputError) return err.message;
  return `Could not map it: ${err instanceof Error ? err.message : String(err)}`;
}

/** Messages plus the reasons of the parts that could not be mapped. */
export interface Mapped {
  messages: IngestMessage[];
  unrecognised: string[];
}

/** Runs `map` on one part of a body; a failure becomes a reason (prefixed with the part's path), never a throw. */
export function mapPart(out: Mapped, path: string, map: () => IngestMessage[]): void {
  try {
    out.messages.push(...map());
  } catch (err) {
    out.unrecognised.push(path ? `${path}: ${reasonOf(err)}` : reasonOf(err));
  }
}

function fieldPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

export function requireRecord(obj: Json, key: string, path: string): Json {
  const value = obj[key];
  const field = fieldPath(path, key);
  if (value === undefined || value === null) throw new SourceInputError(`${field} is required.`, field);
  if (!isRecord(value)) throw new SourceInputError(`${field} must be an object.`, field);
  return value;
}

export function requireArray(obj: Json, key: string, path: string): unknown[] {
  const value = obj[key];
  const field = fieldPath(path, key);
  if (value === undefined || value === null) throw new SourceInputError(`${field} is required.`, field);
  if (!Array.isArray(value)) throw new SourceInputError(`${field} must be an array.`, field);
  return value;
}

/** An optional array: absent is [], anything else but an array is an error. */
export function optionalArray(obj: Json, key: string, path: string): unknown[] {
  const value = obj[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    const field = fieldPath(path, key);
    throw new SourceInputError(`${field} must be an array.`, field);
  }
  return value;
}

export function requireString(obj: Json, key: string, path: string): string {
  const value = obj[key];
  const field = fieldPath(path, key);
  if (value === undefined || value === null || value === "") throw new SourceInputError(`${field} is required.`, field);
  if (typeof value !== "string") throw new SourceInputError(`${field} must be a string.`, field);
  return value;
}

export function requireBoolean(obj: Json, key: string, path: string): boolean {
  const value = obj[key];
  const field = fieldPath(path, key);
  if (typeof value !== "boolean") throw new SourceInputError(`${field} must be true or false.`, field);
  return value;
}

/** A non-empty string, else undefined. */
export function optionalString(obj: Json | undefined, key: string): string | undefined {
  const value = obj?.[key];
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** The element at `path` (e.g. `entry[0]`) as an object, or a SourceInputError naming it. */
export function recordAt(value: unknown, path: string): Json {
  if (!isRecord(value)) throw new SourceInputError(`${path} must be an object.`, path);
  return value;
}

/**
 * Unix seconds given as a number, a numeric string, an ISO 8601 date (whatsmeow), or a
 * protobuf Long `{low, high}` (Baileys-based gateways). Milliseconds are recognised by
 * size. Returns a number of seconds.
 */
export function unixSeconds(value: unknown, field: string): number {
  let seconds: number | undefined;
  if (typeof value === "number") seconds = value;
  else if (typeof value === "string" && /^\d+$/.test(value.trim())) seconds = Number(value.trim());
  else if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value) && !value.startsWith("0001-")) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) seconds = ms / 1000;
  } else if (isRecord(value) && typeof value.low === "number" && typeof value.high === "number") {
    seconds = (value.high >>> 0) * 2 ** 32 + (value.low >>> 0);
  }
  if (seconds !== undefined && seconds > 1e11) seconds = seconds / 1000; // milliseconds
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) {
    throw new SourceInputError(`${field} must be a Unix timestamp in seconds.`, field);
  }
  return Math.trunc(seconds);
}
