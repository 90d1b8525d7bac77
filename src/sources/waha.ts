/**
 * WAHA — WhatsApp HTTP API (`source: waha`).
 *
 * Inbound: the `message.any` event carries both directions (`payload.fromMe`). When the
 * session is configured with an HMAC key, WAHA signs the raw body: `X-Webhook-Hmac` is the
 * hex HMAC-SHA512 and `X-Webhook-Hmac-Algorithm` is `sha512`.
 * Outbound: `POST {base_url}/api/sendText` with `X-Api-Key`.
 */
import type { IngestMessage } from "../ingest/types.js";
import { phoneFromJid } from "../ingest/jid.js";
import {
  digits,
  isGroupJid,
  isIgnoredJid,
  isPhoneJid,
  jidUser,
  normalizeJid,
  firstPhoneJid,
  firstLidJid,
  realName,
} from "./jids.js";
import {
  isRecord,
  optionalString,
  parseJson,
  mapPart,
  type Mapped,
  requireBoolean,
  requireRecord,
  requireString,
  unixSeconds,
  type Json,
} from "./json.js";
import { jidMessage, subjectOf } from "./messages.js";
import { classifyProto } from "./proto.js";
import { METHOD_NOT_ALLOWED, header, hmacHex, safeEqual } from "./request.js";
import { accountConfig, configRecord, configString, configUrl } from "./source-config.js";
import {
  SourceAuthError,
  SourceInputError,
  type ConnectionReport,
  type InboundRequest,
  type SourceAccount,
  type SourceAdapter,
} from "./types.js";

export interface WahaConfig {
  base_url: string;
  api_key: string;
  session: string;
  hmac_key?: string;
}

export function validateWahaConfig(config: unknown): WahaConfig {
  const c = configRecord(config);
  const out: WahaConfig = {
    base_url: configUrl(c, "base_url", true),
    api_key: configString(c, "api_key", true),
    session: configString(c, "session", true),
  };
  const hmacKey = configString(c, "hmac_key", false);
  if (hmacKey !== undefined) out.hmac_key = hmacKey;
  return out;
}

function checkHmac(key: string, req: InboundRequest): void {
  const given = header(req, "x-webhook-hmac");
  if (!given) throw new SourceAuthError("The X-Webhook-Hmac header is missing (the account has an hmac_key).");
  const algorithm = header(req, "x-webhook-hmac-algorithm");
  if (algorithm !== undefined && algorithm.trim().toLowerCase() !== "sha512") {
    throw new SourceAuthError(`X-Webhook-Hmac-Algorithm must be sha512, not "${algorithm}".`);
  }
  if (!safeEqual(given.trim().toLowerCase(), hmacHex("sha512", key, req.rawBody))) {
    throw new SourceAuthError("The X-Webhook-Hmac header does not match the body signed with the hmac_key.");
  }
}

/** "image" / "video" / "audio" / "document" from a mimetype. */
function mimeType(mimetype: string | undefined): string {
  if (!mimetype) return "media";
  const kind = mimetype.split("/")[0]?.toLowerCase();
  if (kind === "image" || kind === "video" || kind === "audio") return kind;
  return "document";
}

/** WEBJS message types (`_data.type`): what each one is. */
const WEBJS_TYPES: Record<string, string> = {
  chat: "text",
  image: "image",
  video: "video",
  ptv: "video",
  gif: "video",
  audio: "audio",
  ptt: "audio",
  document: "document",
  sticker: "sticker",
  location: "location",
  vcard: "contact",
  multi_vcard: "contact",
  poll_creation: "poll",
  buttons_response: "text",
  list_response: "text",
  template_button_reply: "text",
  interactive_response: "interactive",
  order: "order",
  product: "product",
};

/** WEBJS notices and events that are not messages of the conversation. */
const WEBJS_NOT_MESSAGES = new Set([
  "revoked",
  "protocol",
  "reaction",
  "e2e_notification",
  "notification",
  "notification_template",
  "gp2",
  "call_log",
  "ciphertext",
  "broadcast_notification",
  "pinned_message",
  "keep_in_chat",
  "poll_update",
  "debug",
]);

type WahaKind = { kind: "message"; type: string; text?: string } | { kind: "ignore"; what: string };

/**
 * What the message is, from the engine's raw message (`_data`) first — WEBJS `type`,
 * NOWEB `message`, GOWS `Message` — and only then from WAHA's summary fields. Never from
 * `hasMedia` alone: it says whether the media was downloaded, not what the message is.
 */
function kindOf(payload: Json, data: Json | undefined): WahaKind {
  const bodyText = optionalString(payload, "body");
  const webjsType = optionalString(data, "type");
  const proto = data
    ? isRecord(data.message)
      ? data.message
      : isRecord(data.Message)
        ? data.Message
        : undefined
    : undefined;
  if (proto) {
    const kind = classifyProto(proto);
    if (kind.kind === "ignore") return kind;
    if (kind.kind === "message") return { kind: "message", type: kind.type, text: bodyText ?? kind.text };
  } else if (webjsType && data?.id !== undefined) {
    if (WEBJS_NOT_MESSAGES.has(webjsType)) return { kind: "ignore", what: webjsType };
    const type = WEBJS_TYPES[webjsType] ?? webjsType;
    if (type === "text")
      return bodyText ? { kind: "message", type, text: bodyText } : { kind: "message", type: "unknown" };
    return { kind: "message", type, text: bodyText ?? optionalString(data, "caption") };
  }
  // GOWS summary of the raw message, then WAHA's own fields.
  const info = data && isRecord(data.Info) ? data.Info : undefined;
  const infoType = optionalString(info, "Type");
  if (infoType === "reaction" || infoType === "poll_update") return { kind: "ignore", what: infoType };
  const infoMedia = optionalString(info, "MediaType");
  if (infoMedia) return { kind: "message", type: WEBJS_TYPES[infoMedia] ?? infoMedia, text: bodyText };
  if (payload.hasMedia === true || isRecord(payload.media)) {
    return {
      kind: "message",
      type: mimeType(isRecord(payload.media) ? optionalString(payload.media, "mimetype") : undefined),
      text: bodyText,
    };
  }
  if (isRecord(payload.location)) return { kind: "message", type: "location" };
  if (Array.isArray(payload.vCards) && payload.vCards.length > 0) return { kind: "message", type: "contact" };
  if (bodyText) return { kind: "message", type: "text", text: bodyText };
  return { kind: "message", type: "unknown" }; // a notice or an engine-specific kind without text: stored as skipped
}

/** The sender's push name as the engines give it (WEBJS notifyName, NOWEB pushName, GOWS Info.PushName). */
function pushNameOf(data: Json | undefined): string | undefined {
  const info = data && isRecord(data.Info) ? data.Info : undefined;
  return realName(
    optionalString(data, "notifyName") ?? optionalString(data, "pushName") ?? optionalString(info, "PushName"),
  );
}

/** `{fromMe}_{chat}_{id}[_{participant}]`: WAHA's message id in every engine. */
const ID_LAYOUT = /^(true|false)_([^_]+@(?:c\.us|g\.us|lid|s\.whatsapp\.net|broadcast|newsletter))_(.+)$/;

/**
 * The chat of a WAHA message. WEBJS puts `from` = sender and `to` = receiver, NOWEB and
 * GOWS put `from` = the chat and leave `to` empty in direct chats: the chat is read from
 * what every engine carries (the id, `_data.key.remoteJid`, `_data.Info.Chat`,
 * `_data.id.remote`) before falling back to `from`/`to`.
 */
function chatOf(payload: Json, data: Json | undefined, fromMe: boolean): string {
  const fromId = ID_LAYOUT.exec(optionalString(payload, "id") ?? "")?.[2];
  const key = data && isRecord(data.key) ? data.key : undefined;
  const info = data && isRecord(data.Info) ? data.Info : undefined;
  const webjsId = data && isRecord(data.id) ? data.id : undefined;
  const from = optionalString(payload, "from");
  const to = optionalString(payload, "to");
  const group = [from, to].find((jid) => jid !== undefined && isGroupJid(jid));
  const chat =
    fromId ??
    optionalString(key, "remoteJid") ??
    optionalString(info, "Chat") ??
    optionalString(webjsId, "remote") ??
    group ??
    (fromMe ? (to ?? from) : from);
  if (!chat) throw new SourceInputError("payload.from is required (no chat id in the message).", "payload.from");
  return chat;
}

function mapWahaMessage(account: SourceAccount, body: Json): IngestMessage[] {
  const payload = requireRecord(body, "payload", "");
  const data = isRecord(payload._data) ? payload._data : undefined;
  const externalId = requireString(payload, "id", "payload");
  const key = data && isRecord(data.key) ? data.key : undefined;
  const info = data && isRecord(data.Info) ? data.Info : undefined;
  const idFromMe = ID_LAYOUT.exec(externalId)?.[1];
  const fromMeValue = [payload.fromMe, key?.fromMe, info?.IsFromMe].find((v) => typeof v === "boolean");
  const fromMe =
    typeof fromMeValue === "boolean"
      ? fromMeValue
      : idFromMe !== undefined
        ? idFromMe === "true"
        : requireBoolean(payload, "fromMe", "payload");

  let chatJid = chatOf(payload, data, fromMe);
  if (isIgnoredJid(chatJid)) return []; // status updates, broadcasts, channels
  const kind = kindOf(payload, data);
  if (kind.kind === "ignore") return [];
  const timestamp = unixSeconds(
    payload.timestamp ?? data?.messageTimestamp ?? info?.Timestamp ?? data?.t,
    "payload.timestamp",
  );

  // A hidden @lid contact: the phone the body carries, when it carries one, and the @lid
  // beside a phone chat id (both remembered: ingest/identity.ts).
  let chatPhone: string | undefined;
  let chatLid: string | undefined;
  if (!isGroupJid(chatJid)) {
    const alt = fromMe ? info?.RecipientAlt : info?.SenderAlt;
    chatLid = firstLidJid(chatJid, key?.remoteJidAlt, key?.senderLid, alt);
    if (chatJid.endsWith("@lid")) {
      const phoneJid = firstPhoneJid(key?.remoteJidAlt, key?.senderPn, alt);
      if (phoneJid) chatJid = phoneJid;
      else chatPhone = "";
    }
  }
  if (isPhoneJid(chatJid)) chatJid = toCus(normalizeJid(chatJid));

  let participantPhone: string | undefined;
  let participantLid: string | undefined;
  if (isGroupJid(chatJid) && !fromMe) {
    const participant = firstPhoneJid(
      payload.participant,
      key?.participant,
      key?.participantAlt,
      key?.participantPn,
      info?.Sender,
      info?.SenderAlt,
      data?.author,
      data && isRecord(data.author) ? data.author._serialized : undefined,
    );
    participantPhone = participant ? phoneFromJid(participant) : undefined;
    participantLid = firstLidJid(
      payload.participant,
      key?.participant,
      key?.participantAlt,
      key?.participantLid,
      info?.Sender,
      info?.SenderAlt,
    );
  }
  const name = pushNameOf(data);
  return [
    jidMessage({
      account,
      externalId,
      fromMe,
      timestamp,
      type: kind.type,
      text: kind.text,
      chatJid,
      chatPhone,
      chatLid,
      contactName: name,
      participantName: name,
      participantPhone,
      participantLid,
    }),
  ];
}

/** Events that carry a message: `message` (received only) and `message.any` (both directions). */
const MESSAGE_EVENTS = new Set(["message", "message.any"]);

/**
 * The WAHA message id from a sendText answer. Depending on the engine the answer is a WAHA
 * message (`id` string), a WEBJS message (`id._serialized`) or a NOWEB/Baileys message
 * (`key`), which is serialized the way WAHA builds its webhook ids
 * (`{fromMe}_{chat}_{id}[_{participant}]`, chat in @c.us form) so the `message.any` echo of
 * the same message is recognized as a duplicate.
 */
export function wahaMessageId(answer: unknown): string | undefined {
  if (!isRecord(answer)) return undefined;
  if (typeof answer.id === "string" && answer.id) return answer.id;
  if (isRecord(answer.id)) {
    const serialized = optionalString(answer.id, "_serialized");
    if (serialized) return serialized;
  }
  if (isRecord(answer.key)) {
    const id = optionalString(answer.key, "id");
    const remoteJid = optionalString(answer.key, "remoteJid");
    if (!id) return undefined;
    if (!remoteJid) return id;
    const participant = optionalString(answer.key, "participant");
    const fromMe = answer.key.fromMe === false ? "false" : "true";
    return `${fromMe}_${toCus(remoteJid)}_${id}${participant ? `_${toCus(participant)}` : ""}`;
  }
  return undefined;
}

/**
 * A WAHA session status as a connection: WORKING receives; STARTING, SCAN_QR_CODE, FAILED and
 * STOPPED do not (the status is the reason). Undefined for no status at all.
 */
function wahaConnection(status: string | undefined): ConnectionReport | undefined {
  if (!status) return undefined;
  return status.toUpperCase() === "WORKING"
    ? { state: "connected", reason: null }
    : { state: "disconnected", reason: status.toUpperCase() };
}

/** 11111111111@s.whatsapp.net → 11111111111@c.us (WAHA's chat id form); others unchanged. */
function toCus(jid: string): string {
  return isPhoneJid(jid) ? `${jidUser(jid)}@c.us` : jid;
}

function chatIdFor(chat: { external_id: string; is_group: boolean; phone: string }): string {
  if (chat.is_group || (chat.external_id.includes("@") && !isPhoneJid(chat.external_id))) return chat.external_id;
  const number = isPhoneJid(chat.external_id)
    ? jidUser(chat.external_id)
    : digits(chat.phone) || digits(chat.external_id);
  if (!number) throw new Error("The chat has no phone number to send to.");
  return `${number}@c.us`;
}

export const wahaAdapter: SourceAdapter = {
  source: "waha",

  validateConfig(config) {
    return { ...validateWahaConfig(config) };
  },

  handleInbound(account, req) {
    const config = accountConfig(account, validateWahaConfig);
    if (req.method !== "POST") return METHOD_NOT_ALLOWED;
    if (config.hmac_key) checkHmac(config.hmac_key, req);
    const body = parseJson(req.rawBody);
    const out: Mapped = { messages: [], unrecognised: [] };
    if (!isRecord(body))
      return { kind: "messages", messages: [], unrecognised: ["The body is JSON but not an object."] };
    const event = body.event;
    if (typeof event !== "string" || event === "")
      return { kind: "messages", messages: [], unrecognised: ["event is required."] };
    // A WAHA-wide webhook sends every session's events: only this account's session counts.
    if (typeof body.session === "string" && body.session !== config.session) return { kind: "messages", messages: [] };
    if (event === "session.status") {
      const connection = wahaConnection(isRecord(body.payload) ? optionalString(body.payload, "status") : undefined);
      return connection
        ? { kind: "messages", messages: [], connection }
        : { kind: "messages", messages: [], unrecognised: ["payload.status is required."] };
    }
    // Acks, reactions, edits, revokes and group events are not new messages.
    if (!MESSAGE_EVENTS.has(event)) return { kind: "messages", messages: [] };
    mapPart(out, "", () => mapWahaMessage(account, body));
    return { kind: "messages", ...out };
  },

  async groupSubject(account, groupId, http) {
    const config = accountConfig(account, validateWahaConfig);
    const url = `${config.base_url}/api/${encodeURIComponent(config.session)}/groups/${encodeURIComponent(groupId)}`;
    return subjectOf(await http.getJsonQuietly(url, { "x-api-key": config.api_key }));
  },

  // WAHA's lids API: GET /api/{session}/lids/{lid} answers {lid, pn} (pn "…@c.us", or null when unknown).
  async lookupPhone(account, hiddenId, http) {
    const config = accountConfig(account, validateWahaConfig);
    const url = `${config.base_url}/api/${encodeURIComponent(config.session)}/lids/${encodeURIComponent(hiddenId)}`;
    const answer = await http.getJsonQuietly(url, { "x-api-key": config.api_key });
    const pn = isRecord(answer) ? firstPhoneJid(answer.pn) : undefined;
    return pn ? phoneFromJid(pn) || undefined : undefined;
  },

  // GET /api/sessions/{session} answers the session with its `status`.
  async connectionStatus(account, http) {
    const config = accountConfig(account, validateWahaConfig);
    const answer = await http.getJsonQuietly(`${config.base_url}/api/sessions/${encodeURIComponent(config.session)}`, {
      "x-api-key": config.api_key,
    });
    return isRecord(answer) ? wahaConnection(optionalString(answer, "status")) : undefined;
  },

  directChatId(phoneDigits) {
    return `${phoneDigits}@c.us`;
  },

  async sendText(account, chat, text, http) {
    const config = accountConfig(account, validateWahaConfig);
    const answer = await http.postJson(
      "WAHA",
      `${config.base_url}/api/sendText`,
      { "x-api-key": config.api_key },
      { session: config.session, chatId: chatIdFor(chat), text },
    );
    const id = wahaMessageId(answer);
    if (!id) throw new Error("WAHA answered sendText without a message id.");
    return { external_id: id };
  },
};
