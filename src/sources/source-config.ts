/** Validating an account's `source_config` (400s naming the field; a stored one that no longer validates is a 500). */
import { isRecord, type Json } from "./json.js";
import { type SourceAccount, SourceInputError } from "./types.js";

export function configRecord(config: unknown): Json {
  if (config === undefined || config === null) {
    throw new SourceInputError("source_config is required for this source.", "source_config");
  }
  if (!isRecord(config)) throw new SourceInputError("source_config must be an object.", "source_config");
  return config;
}

export function configString(config: Json, key: string, required: true): string;
export function configString(config: Json, key: string, required: false): string | undefined;
export function configString(config: Json, key: string, required: boolean): string | undefined {
  const value = config[key];
  const field = `source_config.${key}`;
  if (value === undefined || value === null || value === "") {
    if (required) throw new SourceInputError(`${field} is required.`, field);
    return undefined;
  }
  if (typeof value !== "string" || value.trim() === "") {
    throw new SourceInputError(`${field} must be a non-empty string.`, field);
  }
  return value.trim();
}

export function configUrl(config: Json, key: string, required: true): string;
export function configUrl(config: Json, key: string, required: false): string | undefined;
export function configUrl(config: Json, key: string, required: boolean): string | undefined {
  const value = required ? configString(config, key, true) : configString(config, key, false);
  if (value === undefined) return undefined;
  const field = `source_config.${key}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SourceInputError(`${field} must be an http(s) URL.`, field);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new SourceInputError(`${field} must be an http(s) URL.`, field);
  }
  return value.replace(/\/+$/, "");
}

/**
 * The account's config, validated. A stored config that no longer validates is a server
 * problem, not the caller's: it becomes a plain Error (500), not a SourceInputError (400).
 */
export function accountConfig<T>(account: SourceAccount, validate: (config: unknown) => T): T {
  try {
    return validate(account.source_config);
  } catch (err) {
    if (err instanceof SourceInputError) {
      throw new Error(`Account ${account.id} has an invalid source_config: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
