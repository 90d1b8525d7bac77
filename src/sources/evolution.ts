/**
 * Evolution API (`source: evolution`).
 *
 * Inbound: `messages.upsert` carries both directions (`data.key.fromMe`); the body's
 * `apikey` (the instance token) must equal the configured api_key.
 * Outbound: `POST {base_url}/message/sendText/{instance}` with header `apikey`.
 */
import type { IngestMessage } from "../ingest/types.js";
import { phoneFromJid } from "../ingest/jid.js";
import {
  digits,
  isIgnoredJid,
  isPhoneJid,
  jidUser,
  normalizeJid,
  firstPhoneJid,
  firstLidJid,
  isGroupJid,
  realName,
} from "./jids.js";
import {
  isRecord,
  optionalString,
  parseJson,
  mapPart,
  type Mapped,
  recordAt,
  requireBoolean,
  requireRecord,
  requireString,
  unixSeconds,
  type Json,
} from "./json.js";
import { jidMessage, subjectOf } from "./messages.js";
import { classifyProto } from "./proto.js";
import { METHOD_NOT_ALLOWED, safeEqual } from "./request.js";
import { accountConfig, configRecord, configString, configUrl } from "./source-config.js";
import {
  SourceAuthError,
  SourceInputError,
  type ConnectionReport,
  type SourceAccount,
  type SourceAdapter,
} from "./types.js";

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

/**
 * The chat of a message. Evolution addresses some contacts by a hidden `@lid` id and gives
 * the phone JID beside it (`remoteJidAlt`, older versions `senderPn`); since 2.3.x it may
 * swap them (`remoteJid` the phone, `remoteJidAlt` the @lid). The phone JID wins when
 * there is one; `phone` is "" for an @lid chat whose phone the body does not carry.
 */
function chatOf(key: Json, path: string): { jid: string; phone?: string; lid?: string } {
  const remoteJid = requireString(key, "remoteJid", `${path}.key`);
  if (isGroupJid(remoteJid)) return { jid: remoteJid };
  const lid = firstLidJid(remoteJid, key.remoteJidAlt, key.senderLid);
  const phoneJid = firstPhoneJid(remoteJid, key.remoteJidAlt, key.senderPn);
  if (phoneJid) return { jid: phoneJid, lid };
  const jid = normalizeJid(remoteJid);
  return jid.endsWith("@lid") ? { jid, phone: "", lid } : { jid };
}

/** The Baileys `messageType` names Evolution uses, when the raw message is absent. */
const MESSAGE_TYPE_NAMES: Record<string, string> = {
  conversation: "text",
  extendedTextMessage: "text",
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

/** Message kinds (`messageType`) that are not messages of the conversation. */
const NOT_CHAT_MESSAGES = new Set([
  "protocolMessage",
  "editedMessage",
  "reactionMessage",
  "pollUpdateMessage",
  "senderKeyDistributionMessage",
  "messageContextInfo",
]);

function mapUpsert(account: SourceAccount, data: Json, path: string): IngestMessage[] {
  const key = requireRecord(data, "key", path);
  const externalId = requireString(key, "id", `${path}.key`);
  const fromMe = requireBoolean(key, "fromMe", `${path}.key`);
  const chat = chatOf(key, path);
  if (isIgnoredJid(chat.jid)) return []; // status updates, broadcasts, channels
  const messageType = optionalString(data, "messageType");
  if (messageType && NOT_CHAT_MESSAGES.has(messageType)) return [];

  // What the message is, from the raw message first (wrappers unwrapped), then messageType.
  let type: string;
  let text: string | undefined;
  const kind = classifyProto(data.message);
  if (kind.kind === "ignore") return [];
  if (kind.kind === "message") {
    type = kind.type;
    text = kind.text;
  } else if (messageType) {
    type = MESSAGE_TYPE_NAMES[messageType] ?? (messageType.replace(/Message$/, "") || messageType);
    if (type === "text") type = "unknown"; // a text kind without its text
  } else {
    throw new SourceInputError(
      `${path}.message is required (neither message nor messageType is given).`,
      `${path}.message`,
    );
  }
  const timestamp = unixSeconds(data.messageTimestamp, `${path}.messageTimestamp`);

  // pushName is the sender's: the contact or group participant when received. For the
  // account's own messages Evolution puts a placeholder ("Você"): never used.
  const pushName = fromMe ? undefined : realName(optionalString(data, "pushName"));
  let participantPhone: string | undefined;
  let participantLid: string | undefined;
  if (isGroupJid(chat.jid) && !fromMe) {
    const participant = firstPhoneJid(key.participant, key.participantAlt, key.participantPn, data.participant);
    participantPhone = participant ? phoneFromJid(participant) : undefined;
    participantLid = firstLidJid(key.participant, key.participantAlt, key.participantLid, data.participant);
  }
  return [
    jidMessage({
      account,
      externalId,
      fromMe,
      timestamp,
      type,
      text,
      chatJid: chat.jid,
      chatPhone: chat.phone,
      chatLid: chat.lid,
      contactName: pushName,
      participantName: pushName,
      participantPhone,
      participantLid,
    }),
  ];
}

/** "messages.upsert" (webhook_by_events off), "MESSAGES_UPSERT" (as some versions name it) → "messages.upsert". */
function eventName(event: string): string {
  return event.toLowerCase().replace(/_/g, ".").replace(/-/g, ".");
}

/**
 * Events that carry messages: `messages.upsert` (received, and sent from the phone) and
 * `send.message` (sent through Evolution's API; the echo of Threadline's own sends is a
 * duplicate of the stored message).
 */
const MESSAGE_EVENTS = new Set(["messages.upsert", "send.message"]);

/**
 * An Evolution (Baileys) connection state: `open` receives; `connecting` and `close` do not
 * (the reason keeps Baileys' status code, e.g. `close (401)`: logged out).
 */
function evolutionConnection(state: string | undefined, statusReason?: unknown): ConnectionReport | undefined {
  if (!state) return undefined;
  if (state === "open") return { state: "connected", reason: null };
  return {
    state: "disconnected",
    reason: typeof statusReason === "number" && state === "close" ? `close (${statusReason})` : state,
  };
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
    const parsed = parseJson(req.rawBody);
    const body = isRecord(parsed) ? parsed : {};
    const apikey = body.apikey;
    if (typeof apikey !== "string" || apikey === "") throw new SourceAuthError("The body's apikey is missing.");
    if (!safeEqual(apikey, config.api_key))
      throw new SourceAuthError("The body's apikey does not match the account's api_key.");
    const event = body.event;
    if (typeof event !== "string" || event === "")
      return { kind: "messages", messages: [], unrecognised: ["event is required."] };
    if (typeof body.instance === "string" && body.instance !== config.instance)
      return { kind: "messages", messages: [] };
    if (eventName(event) === "connection.update") {
      const data = isRecord(body.data) ? body.data : undefined;
      const connection = evolutionConnection(optionalString(data, "state"), data?.statusReason);
      return connection
        ? { kind: "messages", messages: [], connection }
        : { kind: "messages", messages: [], unrecognised: ["data.state is required."] };
    }
    // Status updates, edits, deletions and contact events are not new messages.
    if (!MESSAGE_EVENTS.has(eventName(event))) return { kind: "messages", messages: [] };

    const data = body.data;
    if (data === undefined || data === null)
      return { kind: "messages", messages: [], unrecognised: ["data is required."] };
    const out: Mapped = { messages: [], unrecognised: [] };
    // messages.upsert may carry one message or, in some versions, a list of them.
    const items = Array.isArray(data) ? data.map((d, i) => ({ d, path: `data[${i}]` })) : [{ d: data, path: "data" }];
    for (const { d, path } of items) mapPart(out, path, () => mapUpsert(account, recordAt(d, path), path));
    return { kind: "messages", ...out };
  },

  async groupSubject(account, groupId, http) {
    const config = accountConfig(account, validateEvolutionConfig);
    const url = `${config.base_url}/group/findGroupInfos/${encodeURIComponent(config.instance)}?groupJid=${encodeURIComponent(groupId)}`;
    return subjectOf(await http.getJsonQuietly(url, { apikey: config.api_key }));
  },

  // Evolution's contact lookup: POST /chat/findContacts/{instance} {where: {remoteJid}} answers
  // the stored contacts; a @lid contact's phone JID is in its `phoneNumber` (Baileys' contact
  // field) or `remoteJidAlt` when the gateway learned it.
  async lookupPhone(account, hiddenId, http) {
    const config = accountConfig(account, validateEvolutionConfig);
    const url = `${config.base_url}/chat/findContacts/${encodeURIComponent(config.instance)}`;
    const answer = await http.postJsonQuietly(url, { apikey: config.api_key }, { where: { remoteJid: hiddenId } });
    const rows = Array.isArray(answer) ? answer : isRecord(answer) ? [answer] : [];
    for (const row of rows) {
      if (!isRecord(row) || row.remoteJid !== hiddenId) continue;
      const pn = firstPhoneJid(row.phoneNumber, row.remoteJidAlt, row.senderPn);
      if (pn) return phoneFromJid(pn) || undefined;
    }
    return undefined;
  },

  // GET /instance/connectionState/{instance} answers {instance: {instanceName, state}}.
  async connectionStatus(account, http) {
    const config = accountConfig(account, validateEvolutionConfig);
    const answer = await http.getJsonQuietly(
      `${config.base_url}/instance/connectionState/${encodeURIComponent(config.instance)}`,
      { apikey: config.api_key },
    );
    const instance = isRecord(answer) && isRecord(answer.instance) ? answer.instance : undefined;
    return evolutionConnection(optionalString(instance, "state"));
  },

  directChatId(phoneDigits) {
    return `${phoneDigits}@s.whatsapp.net`;
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
