/**
 * Meta WhatsApp Cloud API (`source: cloud_api`).
 *
 * Inbound: `GET` is the webhook verification handshake; `POST` carries
 * `object: whatsapp_business_account` notifications signed with `X-Hub-Signature-256`.
 * `messages` changes are received messages (statuses, reactions, edits and revokes are
 * not new messages); `smb_message_echoes`
 * are messages the business sent from the WhatsApp Business app (coexistence).
 * Group messages carry `group_id`. Only changes for the account's `phone_number_id` count.
 */
import type { IngestMessage } from "../ingest/types.js";
import { digits, e164 } from "./jids.js";
import {
  isRecord,
  optionalArray,
  optionalString,
  parseJson,
  mapPart,
  type Mapped,
  recordAt,
  requireArray,
  requireRecord,
  requireString,
  unixSeconds,
  type Json,
} from "./json.js";
import { buildMessage, subjectOf } from "./messages.js";
import { hmacHex, header, safeEqual } from "./request.js";
import { accountConfig, configRecord, configString, configUrl } from "./source-config.js";
import {
  SourceAuthError,
  SourceInputError,
  type InboundOutcome,
  type InboundRequest,
  type SourceAccount,
  type SourceAdapter,
} from "./types.js";

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

/** The contact (in `value.contacts`) whose wa_id or user_id is `who`, or the only one given. */
function contactOf(contacts: unknown[], who: { phone?: string; userId?: string }): Json | undefined {
  const records = contacts.filter(isRecord);
  const match = records.find(
    (c) =>
      (who.phone && typeof c.wa_id === "string" && digits(c.wa_id) === digits(who.phone)) ||
      (who.userId && typeof c.user_id === "string" && c.user_id === who.userId),
  );
  return match ?? (records.length === 1 ? records[0] : undefined);
}

/** A contact's name: its profile name, else its username. */
function contactName(contact: Json | undefined): string | undefined {
  const profile = contact && isRecord(contact.profile) ? contact.profile : undefined;
  return optionalString(profile, "name") ?? optionalString(profile, "username");
}

/** Message types that are not new messages of the conversation. */
const NOT_MESSAGES = new Set(["reaction", "edit", "revoke", "system", "ephemeral", "request_welcome", "deleted"]);

/** The text a message holds: a text body, or what the contact chose on a button or list. */
function textOf(msg: Json, type: string, path: string): { type: string; text?: string } {
  if (type === "text") return { type, text: requireString(requireRecord(msg, "text", path), "body", `${path}.text`) };
  if (type === "button") {
    const text = isRecord(msg.button) ? optionalString(msg.button, "text") : undefined;
    return text ? { type: "text", text } : { type };
  }
  if (type === "interactive" && isRecord(msg.interactive)) {
    const i = msg.interactive;
    const text =
      (isRecord(i.button_reply) ? optionalString(i.button_reply, "title") : undefined) ??
      (isRecord(i.list_reply) ? optionalString(i.list_reply, "title") : undefined);
    return text ? { type: "text", text } : { type };
  }
  // Media keep their caption beside them (stored, never delivered).
  const media = isRecord(msg[type]) ? (msg[type] as Json) : undefined;
  const caption = optionalString(media, "caption");
  return caption ? { type, text: caption } : { type };
}

function mapMessage(
  account: SourceAccount,
  msg: Json,
  path: string,
  direction: "received" | "sent",
  contacts: unknown[],
): IngestMessage[] {
  const externalId = requireString(msg, "id", path);
  const rawType = requireString(msg, "type", path);
  if (NOT_MESSAGES.has(rawType)) return []; // reactions, edits, revokes, system notices
  const timestamp = unixSeconds(msg.timestamp, `${path}.timestamp`);
  const groupId = optionalString(msg, "group_id");
  const { type, text } = textOf(msg, rawType, path);

  if (groupId) {
    // In a group `from` is the participant who wrote (received) or the business (echo).
    let participantName: string | undefined;
    let participantPhone: string | undefined;
    if (direction === "received") {
      const phone = optionalString(msg, "from");
      const userId = optionalString(msg, "from_user_id") ?? optionalString(msg, "user_id");
      participantName = contactName(contactOf(contacts, { phone, userId }));
      participantPhone = phone ? e164(phone) || undefined : undefined;
    }
    return [
      buildMessage({
        account,
        externalId,
        direction,
        timestamp,
        type,
        text,
        chat: { externalId: groupId, isGroup: true, phone: "" },
        participantName,
        participantPhone,
      }),
    ];
  }

  // The other party: `from` for received messages, `to` for echoes; a username user has
  // no phone, only its business-scoped user id.
  const phoneKey = direction === "received" ? "from" : "to";
  const phoneValue = optionalString(msg, phoneKey);
  const userId = optionalString(msg, `${phoneKey}_user_id`) ?? optionalString(msg, "user_id");
  const contact = contactOf(contacts, { phone: phoneValue, userId });
  const contactUserId = userId ?? (contact ? optionalString(contact, "user_id") : undefined);
  const name = contactName(contact);
  const phone = phoneValue ? e164(phoneValue) : "";
  if (phone) {
    // A username user who also shares the number: the pair is remembered (ingest/identity.ts).
    return [
      buildMessage({
        account,
        externalId,
        direction,
        timestamp,
        type,
        text,
        chat: {
          externalId: digits(phoneValue!),
          isGroup: false,
          phone,
          name,
          nameSource: "push",
          aliasId: contactUserId,
        },
        contactName: name,
      }),
    ];
  }
  if (contactUserId && !phoneValue) {
    return [
      buildMessage({
        account,
        externalId,
        direction,
        timestamp,
        type,
        text,
        chat: { externalId: contactUserId, isGroup: false, phone: "", name, nameSource: "push" },
        contactName: name,
      }),
    ];
  }
  if (phoneValue) throw new SourceInputError(`${path}.${phoneKey} must be a phone number.`, `${path}.${phoneKey}`);
  throw new SourceInputError(`${path}.${phoneKey} is required (no phone number or user id).`, `${path}.${phoneKey}`);
}

/**
 * Maps one notification body to IngestMessages (exported for tests and tools). A message
 * that cannot be mapped is reported in `unrecognised` and never stops the others.
 */
export function parseCloudApiNotification(account: SourceAccount, config: CloudApiConfig, body: unknown): Mapped {
  const out: Mapped = { messages: [], unrecognised: [] };
  if (!isRecord(body)) return { messages: [], unrecognised: ["The body is JSON but not an object."] };
  if (body.object !== "whatsapp_business_account") {
    if (body.object === undefined) out.unrecognised.push("object is required.");
    return out; // other objects (pages, instagram) are acknowledged and ignored
  }
  mapPart(out, "", () => {
    requireArray(body, "entry", "").forEach((entryValue, i) => {
      const entryPath = `entry[${i}]`;
      mapPart(out, "", () => {
        const entry = recordAt(entryValue, entryPath);
        requireArray(entry, "changes", entryPath).forEach((changeValue, j) => {
          const changePath = `${entryPath}.changes[${j}]`;
          mapPart(out, "", () => {
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
              return []; // other subscriptions (account updates, templates, ...) are acknowledged and ignored
            }
            const valuePath = `${changePath}.value`;
            const value = requireRecord(change, "value", changePath);
            const list = optionalArray(value, listKey, valuePath); // statuses and errors only: nothing to store
            if (list.length === 0) return [];
            const metadata = isRecord(value.metadata) ? value.metadata : undefined;
            const phoneNumberId = optionalString(metadata, "phone_number_id");
            if (phoneNumberId !== undefined && phoneNumberId !== config.phone_number_id) return []; // another number of the same app
            const contacts = Array.isArray(value.contacts) ? value.contacts : [];
            list.forEach((msgValue, k) => {
              const msgPath = `${valuePath}.${listKey}[${k}]`;
              mapPart(out, msgPath, () =>
                mapMessage(account, recordAt(msgValue, msgPath), msgPath, direction, contacts),
              );
            });
            return [];
          });
        });
        return [];
      });
    });
    return [];
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
    return { kind: "messages", ...parseCloudApiNotification(account, config, parseJson(req.rawBody)) };
  },

  async groupSubject(account, groupId, http) {
    const config = accountConfig(account, validateCloudApiConfig);
    const base = config.graph_base_url ?? GRAPH_BASE_URL;
    const url = `${base}/${GRAPH_API_VERSION}/${encodeURIComponent(groupId)}?fields=subject`;
    return subjectOf(await http.getJsonQuietly(url, { authorization: `Bearer ${config.access_token}` }));
  },

  directChatId(phoneDigits) {
    return phoneDigits;
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
