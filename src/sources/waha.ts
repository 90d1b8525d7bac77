/**
 * WAHA — WhatsApp HTTP API (`source: waha`).
 *
 * Inbound: the `message.any` event carries both directions (`payload.fromMe`). When the
 * session is configured with an HMAC key, WAHA signs the raw body: `X-Webhook-Hmac` is the
 * hex HMAC-SHA512 and `X-Webhook-Hmac-Algorithm` is `sha512`.
 * Outbound: `POST {base_url}/api/sendText` with `X-Api-Key`.
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
  header,
  hmacHex,
  isGroupJid,
  isIgnoredJid,
  isPhoneJid,
  isRecord,
  jidUser,
  normalizeJid,
  optionalString,
  parseJsonObject,
  requireBoolean,
  requireRecord,
  requireString,
  safeEqual,
  unixSeconds,
  type Json,
} from "./common.js";
import { SourceAuthError, SourceInputError, type InboundRequest, type SourceAccount, type SourceAdapter } from "./types.js";

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

/** "image" / "video" / "audio" / "document" from the media's mimetype. */
function mediaType(payload: Json): string {
  const mimetype = isRecord(payload.media) ? optionalString(payload.media, "mimetype") : undefined;
  if (!mimetype) return "media";
  const kind = mimetype.split("/")[0]?.toLowerCase();
  if (kind === "image" || kind === "video" || kind === "audio") return kind;
  return "document";
}

/** The sender's push name as the engines give it (WEBJS notifyName, NOWEB pushName, GOWS Info.PushName). */
function pushNameOf(payload: Json): string | undefined {
  const data = isRecord(payload._data) ? payload._data : undefined;
  const info = data && isRecord(data.Info) ? data.Info : undefined;
  return optionalString(data, "notifyName") ?? optionalString(data, "pushName") ?? optionalString(info, "PushName");
}

function mapMessageAny(account: SourceAccount, body: Json): IngestMessage[] {
  const payload = requireRecord(body, "payload", "");
  const externalId = requireString(payload, "id", "payload");
  const fromMe = requireBoolean(payload, "fromMe", "payload");
  const timestamp = unixSeconds(payload.timestamp, "payload.timestamp");
  const from = optionalString(payload, "from");
  const to = optionalString(payload, "to");

  // The chat: the group when either side is one, else the other party.
  let chatJid = [from, to].find((jid) => jid !== undefined && isGroupJid(jid));
  if (!chatJid) chatJid = fromMe ? requireString(payload, "to", "payload") : requireString(payload, "from", "payload");
  if (isIgnoredJid(chatJid)) return []; // status updates, broadcasts, channels
  chatJid = normalizeJid(chatJid);

  let type: string;
  let text: string | undefined;
  const bodyText = payload.body;
  if (payload.hasMedia === true) type = mediaType(payload);
  else if (isRecord(payload.location)) type = "location";
  else if (Array.isArray(payload.vCards) && payload.vCards.length > 0) type = "contact";
  else if (typeof bodyText === "string" && bodyText !== "") {
    type = "text";
    text = bodyText;
  } else {
    type = "unknown"; // a system notice or an engine-specific kind without text: stored as skipped
  }

  const me = isRecord(body.me) ? body.me : undefined;
  const ownName = optionalString(me, "pushName");
  return [jidMessage({ account, externalId, fromMe, timestamp, type, text, chatJid, theirName: fromMe ? undefined : pushNameOf(payload), ownName })];
}

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

/** 11111111111@s.whatsapp.net → 11111111111@c.us (WAHA's chat id form); others unchanged. */
function toCus(jid: string): string {
  return isPhoneJid(jid) ? `${jidUser(jid)}@c.us` : jid;
}

function chatIdFor(chat: { external_id: string; is_group: boolean; phone: string }): string {
  if (chat.is_group || (chat.external_id.includes("@") && !isPhoneJid(chat.external_id))) return chat.external_id;
  const number = isPhoneJid(chat.external_id) ? jidUser(chat.external_id) : digits(chat.phone) || digits(chat.external_id);
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
    const body = parseJsonObject(req.rawBody);
    const event = body.event;
    if (typeof event !== "string" || event === "") throw new SourceInputError("event is required.", "event");
    if (event !== "message.any") return { kind: "messages", messages: [] };
    // A WAHA-wide webhook sends every session's events: only this account's session counts.
    if (typeof body.session === "string" && body.session !== config.session) return { kind: "messages", messages: [] };
    return { kind: "messages", messages: mapMessageAny(account, body) };
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
