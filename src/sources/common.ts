/**
 * Helpers shared by the source adapters: reading untrusted JSON with errors that name
 * the field, WhatsApp JID handling, constant-time comparison and config validation (the
 * outgoing HTTP call to a gateway is `gateway-http.ts`).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { phoneFromJid } from "../ingest/jid.js";
import type { IngestMessage, IngestParty } from "../ingest/types.js";
import { SourceInputError, type InboundOutcome, type InboundRequest, type SourceAccount } from "./types.js";

export type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------- comparison, signatures

/** Constant-time string equality (both sides are hashed first, so lengths do not leak). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a, "utf8").digest();
  const hb = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(ha, hb);
}

export function hmacHex(algorithm: "sha256" | "sha512", key: string, data: Buffer): string {
  return createHmac(algorithm, key).update(data).digest("hex");
}

/** A request header by case-insensitive name (first value when repeated). */
export function header(req: InboundRequest, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(req.headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

// ---------------------------------------------------------------- reading untrusted JSON

/** The raw body as a JSON object, or a SourceInputError. */
export function parseJsonObject(rawBody: Buffer): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody.toString("utf8"));
  } catch {
    throw new SourceInputError("The request body is not valid JSON.", "body");
  }
  if (!isRecord(parsed)) throw new SourceInputError("The request body must be a JSON object.", "body");
  return parsed;
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
 * Unix seconds given as a number, a numeric string, or a protobuf Long `{low, high}`
 * (Baileys-based gateways). Returns a number of seconds.
 */
export function unixSeconds(value: unknown, field: string): number {
  let seconds: number | undefined;
  if (typeof value === "number") seconds = value;
  else if (typeof value === "string" && /^\d+$/.test(value.trim())) seconds = Number(value.trim());
  else if (isRecord(value) && typeof value.low === "number" && typeof value.high === "number") {
    seconds = (value.high >>> 0) * 2 ** 32 + (value.low >>> 0);
  }
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) {
    throw new SourceInputError(`${field} must be a Unix timestamp in seconds.`, field);
  }
  return Math.trunc(seconds);
}

// ---------------------------------------------------------------- phones and JIDs

export function digits(value: string): string {
  return value.replace(/\D/g, "");
}

/** "+" + the digits of a phone-ish string, or "" when it has none. */
export function e164(value: string): string {
  const d = digits(value);
  return d ? `+${d}` : "";
}

/** The user part of a JID without a device suffix: "15551234567:12@s.whatsapp.net" → "15551234567". */
export function jidUser(jid: string): string {
  const user = jid.split("@")[0] ?? "";
  return user.split(":")[0] ?? "";
}

/** A JID without a device suffix: "15551234567:12@s.whatsapp.net" → "15551234567@s.whatsapp.net". */
export function normalizeJid(jid: string): string {
  const at = jid.indexOf("@");
  if (at < 0) return jid;
  return `${jidUser(jid)}${jid.slice(at)}`;
}

export function isGroupJid(jid: string): boolean {
  return jid.endsWith("@g.us");
}

/** A JID whose user part is a phone number (@c.us, @s.whatsapp.net). */
export function isPhoneJid(jid: string): boolean {
  return jid.endsWith("@c.us") || jid.endsWith("@s.whatsapp.net");
}

/** Status updates, broadcast lists and channels are not chats. */
export function isIgnoredJid(jid: string): boolean {
  return jid.endsWith("@broadcast") || jid.endsWith("@newsletter");
}

/** "+15551234567" for a phone JID, "" otherwise (groups, @lid hidden ids): ingest's one rule. */
export { phoneFromJid };

// ---------------------------------------------------------------- building IngestMessages

export interface MessageParts {
  account: SourceAccount;
  externalId: string;
  direction: "received" | "sent";
  timestamp: number;
  type: string;
  text?: string;
  chat: { externalId: string; isGroup: boolean; phone: string; name?: string };
  /** The contact's name in a direct chat, when the gateway gives it. */
  contactName?: string;
  /** The sending participant's name in a group (received messages), when given. */
  participantName?: string;
  /** The account's own WhatsApp name, when the gateway gives it (else the owner's full name). */
  ownName?: string;
}

/**
 * The one IngestMessage shape. The account side is always explicit (its push name or the
 * owner's name; phone "" in groups); the contact side only when the gateway names it —
 * otherwise ingest derives it from the chat, which may know better.
 */
export function buildMessage(p: MessageParts): IngestMessage {
  const chat: IngestMessage["chat"] = { external_id: p.chat.externalId, is_group: p.chat.isGroup, phone: p.chat.phone };
  if (p.chat.name) chat.full_name = p.chat.name;

  const own: IngestParty = {
    full_name: p.ownName ?? p.account.owner_full_name,
    phone: p.chat.isGroup ? "" : p.account.phone,
  };
  let other: IngestParty | undefined;
  if (p.chat.isGroup) {
    if (p.direction === "received" && p.participantName) other = { full_name: p.participantName, phone: "" };
  } else if (p.contactName) {
    other = { full_name: p.contactName, phone: p.chat.phone };
  }

  const message: IngestMessage = {
    account_phone: p.account.phone,
    chat,
    external_id: p.externalId,
    direction: p.direction,
    timestamp: p.timestamp,
    type: p.type,
  };
  if (p.text !== undefined) message.text = p.text;
  if (p.direction === "received") {
    if (other) message.sender = other;
    // In a group the recipient is the group itself: ingest names it after the chat.
    if (!p.chat.isGroup) message.recipient = own;
  } else {
    message.sender = own;
    if (other) message.recipient = other;
  }
  return message;
}

/**
 * A message of a JID-addressed gateway (WAHA, Evolution): the chat is the JID, a group when
 * it ends in `@g.us`; `theirName` is the contact's name in a direct chat, the participant's
 * in a group.
 */
export function jidMessage(p: {
  account: SourceAccount;
  externalId: string;
  fromMe: boolean;
  timestamp: number;
  type: string;
  text?: string;
  chatJid: string;
  theirName?: string;
  ownName?: string;
}): IngestMessage {
  const isGroup = isGroupJid(p.chatJid);
  return buildMessage({
    account: p.account,
    externalId: p.externalId,
    direction: p.fromMe ? "sent" : "received",
    timestamp: p.timestamp,
    type: p.type,
    text: p.text,
    chat: isGroup ? { externalId: p.chatJid, isGroup: true, phone: "" } : { externalId: p.chatJid, isGroup: false, phone: phoneFromJid(p.chatJid), name: p.theirName },
    contactName: isGroup ? undefined : p.theirName,
    participantName: isGroup ? p.theirName : undefined,
    ownName: p.ownName,
  });
}

export const METHOD_NOT_ALLOWED: InboundOutcome = {
  kind: "reply",
  status: 405,
  contentType: "text/plain; charset=utf-8",
  body: "This inbound URL accepts POST only.",
};

// ---------------------------------------------------------------- config

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
