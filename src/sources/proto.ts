import { isRecord } from "./json.js";

/**
 * What a WhatsApp message proto (Baileys' `message`, whatsmeow's `Message`, as JSON) is:
 * a chat message of a type (with its text, or a media caption), something that is not a
 * message of the conversation (`ignore`: reactions, edits, deletions, poll votes, key
 * exchange), or `none` when the object holds no content at all.
 */
export type ProtoKind =
  { kind: "message"; type: string; text?: string } | { kind: "ignore"; what: string } | { kind: "none" };

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
const PROTO_SIDE_KEYS = new Set([
  "messageContextInfo",
  "senderKeyDistributionMessage",
  "fastRatchetKeySenderKeyDistributionMessage",
  "contextInfo",
  "base64",
  "mediaUrl",
]);

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
  const keys = Object.keys(message).filter(
    (k) => !PROTO_SIDE_KEYS.has(k) && message[k] !== null && message[k] !== undefined,
  );
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
