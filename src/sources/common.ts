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
  }
  else if (isRecord(value) && typeof value.low === "number" && typeof value.high === "number") {
    seconds = (value.high >>> 0) * 2 ** 32 + (value.low >>> 0);
  }
  if (seconds !== undefined && seconds > 1e11) seconds = seconds / 1000; // milliseconds
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

/** The first of `values` that is a hidden `…@lid` id, normalized. */
export function firstLidJid(...values: unknown[]): string | undefined {
  for (const v of values) if (typeof v === "string" && normalizeJid(v).endsWith("@lid")) return normalizeJid(v);
  return undefined;
}

/** The first of `values` that is a phone JID (`…@s.whatsapp.net`, `…@c.us`), normalized. */
export function firstPhoneJid(...values: unknown[]): string | undefined {
  for (const v of values) if (typeof v === "string" && isPhoneJid(normalizeJid(v))) return normalizeJid(v);
  return undefined;
}

/** A push name that is a real name, not the bare number some gateways put there when they have none. */
export function realName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const trimmed = name.trim();
  if (!trimmed || /^\+?[\d\s-]+(@\S+)?$/.test(trimmed)) return undefined;
  return trimmed;
}

// ---------------------------------------------------------------- WhatsApp message protos

/**
 * What a WhatsApp message proto (Baileys' `message`, whatsmeow's `Message`, as JSON) is:
 * a chat message of a type (with its text, or a media caption), something that is not a
 * message of the conversation (`ignore`: reactions, edits, deletions, poll votes, key
 * exchange), or `none` when the object holds no content at all.
 */
export type ProtoKind = { kind: "message"; type: string; text?: string } | { kind: "ignore"; what: string } | { kind: "none" };

/** Wrappers whose `.message` holds the real content (disappearing, view-once, captioned documents...). */
const PROTO_WRAPPERS = [
  "ephemeralMessage",
  "viewOnceMessage",
  "viewOnceMessageV2",
  "viewOnceMessageV2Extension",
  "documentWithCaptionMessage",
  "deviceSentMessage",
  "botInvokeMessage",
  "groupMentionedMessage",
  "lottieStickerMessage",
  "associatedChildMessage",
];

/** Content kinds that are not new messages of the conversation. */
const PROTO_NOT_MESSAGES = new Set([
  "protocolMessage", // revokes, edits, ephemeral settings, history sync
  "editedMessage",
  "reactionMessage",
  "encReactionMessage",
  "pollUpdateMessage",
  "keepInChatMessage",
  "pinInChatMessage",
  "encEventResponseMessage",
  "secretEncryptedMessage",
  "messageHistoryBundle",
  "call",
]);

/** Keys that ride along with content and are never the content. */
const PROTO_SIDE_KEYS = new Set(["messageContextInfo", "senderKeyDistributionMessage", "fastRatchetKeySenderKeyDistributionMessage", "contextInfo", "base64", "mediaUrl"]);

const PROTO_MEDIA: Record<string, string> = {
  imageMessage: "image",
  videoMessage: "video",
  ptvMessage: "video",
  audioMessage: "audio",
  documentMessage: "document",
  stickerMessage: "sticker",
  locationMessage: "location",
  liveLocationMessage: "location",
  contactMessage: "contact",
  contactsArrayMessage: "contact",
  pollCreationMessage: "poll",
  pollCreationMessageV2: "poll",
  pollCreationMessageV3: "poll",
  eventMessage: "event",
};

function stringAt(obj: unknown, ...path: string[]): string | undefined {
  let cur: unknown = obj;
  for (const key of path) {
    if (!isRecord(cur)) return undefined;
    cur = cur[key];
  }
  return typeof cur === "string" && cur.trim() !== "" ? cur : undefined;
}

export function classifyProto(message: unknown, depth = 0): ProtoKind {
  if (!isRecord(message) || depth > 4) return { kind: "none" };
  const keys = Object.keys(message).filter((k) => !PROTO_SIDE_KEYS.has(k) && message[k] !== null && message[k] !== undefined);
  if (keys.length === 0) return { kind: "none" };
  for (const w of PROTO_WRAPPERS) {
    const inner = message[w];
    if (isRecord(inner) && isRecord(inner.message)) {
      const kind = classifyProto(inner.message, depth + 1);
      if (kind.kind !== "none") return kind;
    }
  }
  const conversation = stringAt(message, "conversation");
  if (conversation) return { kind: "message", type: "text", text: conversation };
  const extended = stringAt(message, "extendedTextMessage", "text");
  if (extended) return { kind: "message", type: "text", text: extended };
  // Replies to buttons and lists are what the contact chose, as text.
  const choice =
    stringAt(message, "buttonsResponseMessage", "selectedDisplayText") ??
    stringAt(message, "templateButtonReplyMessage", "selectedDisplayText") ??
    stringAt(message, "listResponseMessage", "title");
  if (choice) return { kind: "message", type: "text", text: choice };
  for (const key of keys) {
    const media = PROTO_MEDIA[key];
    if (media) {
      const caption = stringAt(message, key, "caption");
      return caption ? { kind: "message", type: media, text: caption } : { kind: "message", type: media };
    }
  }
  for (const key of keys) if (PROTO_NOT_MESSAGES.has(key)) return { kind: "ignore", what: key };
  const first = keys[0]!;
  if (first === "conversation" || first === "extendedTextMessage") return { kind: "message", type: "unknown" }; // empty text
  return { kind: "message", type: first.replace(/Message$/, "") || first };
}

// ---------------------------------------------------------------- building IngestMessages

export interface MessageParts {
  account: SourceAccount;
  externalId: string;
  direction: "received" | "sent";
  timestamp: number;
  type: string;
  text?: string;
  chat: { externalId: string; isGroup: boolean; phone: string; name?: string; aliasId?: string; nameSource?: "push" | "gateway" };
  /** The contact's name in a direct chat, when the gateway gives it. */
  contactName?: string;
  /** The sending participant's name in a group (received messages), when given. */
  participantName?: string;
  /** The sending participant's phone in a group (received messages), E.164, when known. */
  participantPhone?: string;
  /** The sending participant's hidden `…@lid` id in a group, when the body gives it with the phone. */
  participantLid?: string;
}

/**
 * The one IngestMessage shape. The account side is always explicit (named after the
 * account's owner, never a gateway's placeholder; phone "" in groups); the contact side
 * only when the gateway names it — otherwise ingest derives it from the chat, which may
 * know better. A group participant without a name is named by its phone (E.164), which
 * the inbound route replaces by a stored contact's name when it has one.
 */
export function buildMessage(p: MessageParts): IngestMessage {
  const chat: IngestMessage["chat"] = { external_id: p.chat.externalId, is_group: p.chat.isGroup, phone: p.chat.phone };
  if (p.chat.name) {
    chat.full_name = p.chat.name;
    if (p.chat.nameSource) chat.name_source = p.chat.nameSource;
  }
  if (p.chat.aliasId && p.chat.aliasId !== p.chat.externalId) chat.alias_id = p.chat.aliasId;

  const own: IngestParty = {
    full_name: p.account.owner_full_name,
    phone: p.chat.isGroup ? "" : p.account.phone,
  };
  let other: IngestParty | undefined;
  if (p.chat.isGroup) {
    const name = p.participantName ?? p.participantPhone;
    if (p.direction === "received" && name) other = { full_name: name, phone: "" };
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
  // Only a text carries its text: a caption stays with its (skipped) media.
  if (p.text !== undefined && p.type === "text") message.text = p.text;
  if (p.chat.isGroup && p.participantLid && p.participantPhone) message.identities = [{ hidden_id: p.participantLid, phone: p.participantPhone }];
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
 * it ends in `@g.us`. `chatPhone` is the contact's phone when the JID hides it (`@lid`);
 * `contactName` names the contact of a direct chat (received messages), `participantName`
 * and `participantPhone` the sender of a received group message.
 */
export function jidMessage(p: {
  account: SourceAccount;
  externalId: string;
  fromMe: boolean;
  timestamp: number;
  type: string;
  text?: string;
  chatJid: string;
  chatPhone?: string;
  /** The contact's hidden `…@lid` id when the body gives it beside the phone chat id. */
  chatLid?: string;
  /** A push name (what the contact calls themself), the only kind of name these bodies carry. */
  contactName?: string;
  participantName?: string;
  participantPhone?: string;
  participantLid?: string;
}): IngestMessage {
  const isGroup = isGroupJid(p.chatJid);
  const contactName = p.fromMe ? undefined : p.contactName;
  return buildMessage({
    account: p.account,
    externalId: p.externalId,
    direction: p.fromMe ? "sent" : "received",
    timestamp: p.timestamp,
    type: p.type,
    text: p.text,
    chat: isGroup
      ? { externalId: p.chatJid, isGroup: true, phone: "" }
      : { externalId: p.chatJid, isGroup: false, phone: p.chatPhone || phoneFromJid(p.chatJid), name: contactName, nameSource: "push", aliasId: p.chatLid },
    contactName: isGroup ? undefined : contactName,
    participantName: isGroup && !p.fromMe ? p.participantName : undefined,
    participantPhone: isGroup && !p.fromMe ? p.participantPhone : undefined,
    participantLid: isGroup && !p.fromMe ? p.participantLid : undefined,
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
// ---------------------------------------------------------------- group subjects

/** The subject in a group-info answer (Baileys `subject`, whatsapp-web.js `groupMetadata.subject`, whatsmeow `Name`). */
export function subjectOf(answer: unknown): string | undefined {
  if (!isRecord(answer)) return undefined;
  const meta = isRecord(answer.groupMetadata) ? answer.groupMetadata : undefined;
  const subject = optionalString(answer, "subject") ?? optionalString(meta, "subject") ?? optionalString(answer, "Name") ?? optionalString(answer, "name");
  return subject?.trim() || undefined;
}
