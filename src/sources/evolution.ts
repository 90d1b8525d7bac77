/**
 * Evolution API (`source: evolution`).
 *
 * Inbound: `messages.upsert` carries both directions (`data.key.fromMe`); the body's
 * `apikey` (the instance token) must equal the configured api_key.
 * Outbound: `POST {base_url}/message/sendText/{instance}` with header `apikey`.
 */
import type { IngestMessage } from "../ingest/types.js";
import {
  METHOD_NOT_ALLOWED,
  accountConfig,
  jidMessage,
  configRecord,
  configString,
  configUrl,
  digits,
  isIgnoredJid,
  isPhoneJid,
  isRecord,
  jidUser,
  normalizeJid,
  optionalString,
  parseJsonObject,
  recordAt,
  requireBoolean,
  requireRecord,
  requireString,
  safeEqual,
  unixSeconds,
  type Json,
} from "./common.js";
import { SourceAuthError, SourceInputError, type SourceAccount, type SourceAdapter } from "./types.js";

export interface EvolutionConfig {
  base_url: string;
  api_key: string;
  instance: string;
}

export function validateEvolutionConfig(config: unknown): EvolutionConfig {
  const c = configRecord(config);
  return {
    base_url: configUrl(c, "base_url", true),
    api_key: configString(c, "api_key", true),
    instance: configString(c, "instance", true),
  };
}

/** Baileys message kinds that are not messages of the conversation (edits, deletions, reactions, key exchange). */
const NOT_CHAT_MESSAGES = new Set(["protocolMessage", "reactionMessage", "pollUpdateMessage", "senderKeyDistributionMessage"]);

const TYPE_NAMES: Record<string, string> = {
  imageMessage: "image",
  videoMessage: "video",
  ptvMessage: "video",
  audioMessage: "audio",
  documentMessage: "document",
  documentWithCaptionMessage: "document",
  stickerMessage: "sticker",
  locationMessage: "location",
  liveLocationMessage: "location",
  contactMessage: "contact",
  contactsArrayMessage: "contact",
};

/** "imageMessage" → "image"; unknown kinds keep their name minus the "Message" suffix. */
function typeName(messageType: string): string {
  return TYPE_NAMES[messageType] ?? (messageType.replace(/Message$/, "") || messageType);
}

/** Newer Evolution versions address some contacts by a hidden @lid id and give the phone JID beside it. */
function chatJidOf(key: Json): string {
  const remoteJid = requireString(key, "remoteJid", "data.key");
  if (remoteJid.endsWith("@lid")) {
    const alt = [key.remoteJidAlt, key.senderPn].find((v): v is string => typeof v === "string" && isPhoneJid(v));
    if (alt) return normalizeJid(alt);
  }
  return normalizeJid(remoteJid);
}

function mapUpsert(account: SourceAccount, data: Json, path: string): IngestMessage[] {
  const key = requireRecord(data, "key", path);
  const externalId = requireString(key, "id", `${path}.key`);
  const fromMe = requireBoolean(key, "fromMe", `${path}.key`);
  const chatJid = chatJidOf(key);
  if (isIgnoredJid(chatJid)) return []; // status updates, broadcasts, channels
  const messageType = requireString(data, "messageType", path);
  if (NOT_CHAT_MESSAGES.has(messageType)) return [];
  const timestamp = unixSeconds(data.messageTimestamp, `${path}.messageTimestamp`);

  let type: string;
  let text: string | undefined;
  if (messageType === "conversation") {
    type = "text";
    text = requireString(requireRecord(data, "message", path), "conversation", `${path}.message`);
  } else if (messageType === "extendedTextMessage") {
    type = "text";
    const message = requireRecord(data, "message", path);
    text = requireString(requireRecord(message, "extendedTextMessage", `${path}.message`), "text", `${path}.message.extendedTextMessage`);
  } else {
    type = typeName(messageType);
  }

  // pushName is the sender's: the contact (or group participant) when received, the account when sent.
  const pushName = optionalString(data, "pushName");
  return [
    jidMessage({ account, externalId, fromMe, timestamp, type, text, chatJid, theirName: fromMe ? undefined : pushName, ownName: fromMe ? pushName : undefined }),
  ];
}

function isMessagesUpsert(event: string): boolean {
  // "messages.upsert" (webhook_by_events off) or "MESSAGES_UPSERT" (as some versions name it).
  return event.toLowerCase().replace(/_/g, ".") === "messages.upsert";
}

function numberFor(chat: { external_id: string; is_group: boolean; phone: string }): string {
  if (chat.is_group) return chat.external_id;
  const number = digits(chat.phone) || (isPhoneJid(chat.external_id) ? jidUser(chat.external_id) : "");
  if (number) return number;
  if (chat.external_id.includes("@")) return chat.external_id; // e.g. an @lid contact without a known phone
  throw new Error("The chat has no phone number to send to.");
}

export const evolutionAdapter: SourceAdapter = {
  source: "evolution",

  validateConfig(config) {
    return { ...validateEvolutionConfig(config) };
  },

  handleInbound(account, req) {
    const config = accountConfig(account, validateEvolutionConfig);
    if (req.method !== "POST") return METHOD_NOT_ALLOWED;
    const body = parseJsonObject(req.rawBody);
    const apikey = body.apikey;
    if (typeof apikey !== "string" || apikey === "") throw new SourceAuthError("The body's apikey is missing.");
    if (!safeEqual(apikey, config.api_key)) throw new SourceAuthError("The body's apikey does not match the account's api_key.");
    const event = body.event;
    if (typeof event !== "string" || event === "") throw new SourceInputError("event is required.", "event");
    if (!isMessagesUpsert(event)) return { kind: "messages", messages: [] };
    if (typeof body.instance === "string" && body.instance !== config.instance) return { kind: "messages", messages: [] };

    const data = body.data;
    if (data === undefined || data === null) throw new SourceInputError("data is required.", "data");
    const items = Array.isArray(data) ? data.map((d, i) => ({ d, path: `data[${i}]` })) : [{ d: data, path: "data" }];
    return { kind: "messages", messages: items.flatMap(({ d, path }) => mapUpsert(account, recordAt(d, path), path)) };
  },

  async sendText(account, chat, text, http) {
    const config = accountConfig(account, validateEvolutionConfig);
    const answer = await http.postJson(
      "Evolution API",
      `${config.base_url}/message/sendText/${encodeURIComponent(config.instance)}`,
      { apikey: config.api_key },
      { number: numberFor(chat), text },
    );
    const id = isRecord(answer) && isRecord(answer.key) ? optionalString(answer.key, "id") : undefined;
    if (!id) throw new Error("Evolution API answered sendText without key.id.");
    return { external_id: id };
  },
};
