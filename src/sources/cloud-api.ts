/**
 * Meta WhatsApp Cloud API (`source: cloud_api`).
 *
 * Inbound: `GET` is the webhook verification handshake; `POST` carries
 * `object: whatsapp_business_account` notifications signed with `X-Hub-Signature-256`.
 * `messages` changes are received messages (statuses are ignored); `smb_message_echoes`
 * are messages the business sent from the WhatsApp Business app (coexistence).
 * Group messages carry `group_id`. Only changes for the account's `phone_number_id` count.
 */
import type { IngestMessage } from "../ingest/types.js";
import {
  accountConfig,
  buildMessage,
  configRecord,
  configString,
  configUrl,
  digits,
  e164,
  hmacHex,
  header,
  isRecord,
  optionalArray,
  optionalString,
  parseJsonObject,
  recordAt,
  requireArray,
  requireRecord,
  requireString,
  safeEqual,
  unixSeconds,
  type Json,
} from "./common.js";
import { SourceAuthError, SourceInputError, type InboundOutcome, type InboundRequest, type SourceAccount, type SourceAdapter } from "./types.js";

export const GRAPH_BASE_URL = "https://graph.facebook.com";
export const GRAPH_API_VERSION = "v21.0";

export interface CloudApiConfig {
  phone_number_id: string;
  app_secret: string;
  verify_token: string;
  access_token: string;
  graph_base_url?: string;
}

export function validateCloudApiConfig(config: unknown): CloudApiConfig {
  const c = configRecord(config);
  const out: CloudApiConfig = {
    phone_number_id: configString(c, "phone_number_id", true),
    app_secret: configString(c, "app_secret", true),
    verify_token: configString(c, "verify_token", true),
    access_token: configString(c, "access_token", true),
  };
  const base = configUrl(c, "graph_base_url", false);
  if (base !== undefined) out.graph_base_url = base;
  return out;
}

function verificationHandshake(config: CloudApiConfig, query: InboundRequest["query"]): InboundOutcome {
  const mode = query["hub.mode"];
  const token = query["hub.verify_token"];
  const challenge = query["hub.challenge"];
  if (!mode) throw new SourceInputError("hub.mode is required.", "hub.mode");
  if (mode !== "subscribe") throw new SourceInputError('hub.mode must be "subscribe".', "hub.mode");
  if (!token || !safeEqual(token, config.verify_token)) {
    throw new SourceAuthError("hub.verify_token does not match the account's verify_token.");
  }
  if (!challenge) throw new SourceInputError("hub.challenge is required.", "hub.challenge");
  return { kind: "reply", status: 200, contentType: "text/plain; charset=utf-8", body: challenge };
}

function checkSignature(config: CloudApiConfig, req: InboundRequest): void {
  const given = header(req, "x-hub-signature-256");
  if (!given) throw new SourceAuthError("The X-Hub-Signature-256 header is missing.");
  const expected = `sha256=${hmacHex("sha256", config.app_secret, req.rawBody)}`;
  if (!safeEqual(given.trim().toLowerCase(), expected)) {
    throw new SourceAuthError("The X-Hub-Signature-256 header does not match the body signed with the app secret.");
  }
}

/** The profile name of the contact whose wa_id is `phone` (or of the only contact given). */
function contactName(contacts: unknown[], phone: string): string | undefined {
  const records = contacts.filter(isRecord);
  const match = records.find((c) => typeof c.wa_id === "string" && digits(c.wa_id) === digits(phone)) ??
    (records.length === 1 ? records[0] : undefined);
  return match && isRecord(match.profile) ? optionalString(match.profile, "name") : undefined;
}

function mapMessage(
  account: SourceAccount,
  msg: Json,
  path: string,
  direction: "received" | "sent",
  contacts: unknown[],
): IngestMessage {
  const externalId = requireString(msg, "id", path);
  const type = requireString(msg, "type", path);
  const timestamp = unixSeconds(msg.timestamp, `${path}.timestamp`);
  const groupId = optionalString(msg, "group_id");

  let text: string | undefined;
  if (type === "text") text = requireString(requireRecord(msg, "text", path), "body", `${path}.text`);

  if (groupId) {
    // In a group `from` is the participant who wrote (received) or the business (echo).
    const participant = direction === "received" ? requireString(msg, "from", path) : undefined;
    return buildMessage({
      account,
      externalId,
      direction,
      timestamp,
      type,
      text,
      chat: { externalId: groupId, isGroup: true, phone: "" },
      participantName: participant ? contactName(contacts, participant) : undefined,
    });
  }

  const key = direction === "received" ? "from" : "to";
  const counterpart = requireString(msg, key, path);
  const phone = e164(counterpart);
  if (!phone) throw new SourceInputError(`${path}.${key} must be a phone number.`, `${path}.${key}`);
  const name = contactName(contacts, counterpart);
  return buildMessage({
    account,
    externalId,
    direction,
    timestamp,
    type,
    text,
    chat: { externalId: digits(counterpart), isGroup: false, phone, name },
    contactName: name,
  });
}

/** Maps one notification body to IngestMessages (exported for tests and tools). */
export function parseCloudApiNotification(account: SourceAccount, config: CloudApiConfig, body: Json): IngestMessage[] {
  if (body.object !== "whatsapp_business_account") return [];
  const out: IngestMessage[] = [];
  requireArray(body, "entry", "").forEach((entryValue, i) => {
    const entryPath = `entry[${i}]`;
    const entry = recordAt(entryValue, entryPath);
    requireArray(entry, "changes", entryPath).forEach((changeValue, j) => {
      const changePath = `${entryPath}.changes[${j}]`;
      const change = recordAt(changeValue, changePath);
      const field = requireString(change, "field", changePath);
      let listKey: string;
      let direction: "received" | "sent";
      if (field === "messages") {
        listKey = "messages";
        direction = "received";
      } else if (field === "smb_message_echoes") {
        listKey = "message_echoes";
        direction = "sent";
      } else {
        return; // other subscriptions (account updates, templates, ...) are acknowledged and ignored
      }
      const valuePath = `${changePath}.value`;
      const value = requireRecord(change, "value", changePath);
      const list = optionalArray(value, listKey, valuePath); // a statuses-only change has none
      if (list.length === 0) return;
      const metadata = requireRecord(value, "metadata", valuePath);
      const phoneNumberId = requireString(metadata, "phone_number_id", `${valuePath}.metadata`);
      if (phoneNumberId !== config.phone_number_id) return; // another number of the same app
      const contacts = optionalArray(value, "contacts", valuePath);
      list.forEach((msgValue, k) => {
        const msgPath = `${valuePath}.${listKey}[${k}]`;
        out.push(mapMessage(account, recordAt(msgValue, msgPath), msgPath, direction, contacts));
      });
    });
  });
  return out;
}

export const cloudApiAdapter: SourceAdapter = {
  source: "cloud_api",

  validateConfig(config) {
    return { ...validateCloudApiConfig(config) };
  },

  handleInbound(account, req) {
    const config = accountConfig(account, validateCloudApiConfig);
    if (req.method === "GET") return verificationHandshake(config, req.query);
    checkSignature(config, req);
    return { kind: "messages", messages: parseCloudApiNotification(account, config, parseJsonObject(req.rawBody)) };
  },

  async sendText(account, chat, text, http) {
    const config = accountConfig(account, validateCloudApiConfig);
    const base = config.graph_base_url ?? GRAPH_BASE_URL;
    const url = `${base}/${GRAPH_API_VERSION}/${encodeURIComponent(config.phone_number_id)}/messages`;
    const to = chat.is_group ? chat.external_id : digits(chat.phone) || digits(chat.external_id);
    if (!to) throw new Error("The chat has no phone number to send to.");
    const answer = await http.postJson(
      "WhatsApp Cloud API",
      url,
      { authorization: `Bearer ${config.access_token}` },
      {
        messaging_product: "whatsapp",
        recipient_type: chat.is_group ? "group" : "individual",
        to,
        type: "text",
        text: { body: text },
      },
    );
    const first = isRecord(answer) && Array.isArray(answer.messages) ? answer.messages[0] : undefined;
    const id = isRecord(first) ? optionalString(first, "id") : undefined;
    if (!id) throw new Error("WhatsApp Cloud API answered without messages[0].id.");
    return { external_id: id };
  },
};
