/** Building the one IngestMessage shape from what a gateway's body says, and a group's subject from its answer. */
import { phoneFromJid } from "../ingest/jid.js";
import type { IngestMessage, IngestParty } from "../ingest/types.js";
import { isGroupJid } from "./jids.js";
import { isRecord, optionalString } from "./json.js";
import type { SourceAccount } from "./types.js";

export interface MessageParts {
  account: SourceAccount;
  externalId: string;
  direction: "received" | "sent";
  timestamp: number;
  type: string;
  text?: string;
  chat: {
    externalId: string;
    isGroup: boolean;
    phone: string;
    name?: string;
    aliasId?: string;
    nameSource?: "push" | "gateway";
  };
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
  if (p.chat.isGroup && p.participantLid && p.participantPhone)
    message.identities = [{ hidden_id: p.participantLid, phone: p.participantPhone }];
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
      : {
          externalId: p.chatJid,
          isGroup: false,
          phone: p.chatPhone || phoneFromJid(p.chatJid),
          name: contactName,
          nameSource: "push",
          aliasId: p.chatLid,
        },
    contactName: isGroup ? undefined : contactName,
    participantName: isGroup && !p.fromMe ? p.participantName : undefined,
    participantPhone: isGroup && !p.fromMe ? p.participantPhone : undefined,
    participantLid: isGroup && !p.fromMe ? p.participantLid : undefined,
  });
}

/** The subject in a group-info answer (Baileys `subject`, whatsapp-web.js `groupMetadata.subject`, whatsmeow `Name`). */
export function subjectOf(answer: unknown): string | undefined {
  if (!isRecord(answer)) return undefined;
  const meta = isRecord(answer.groupMetadata) ? answer.groupMetadata : undefined;
  const subject =
    optionalString(answer, "subject") ??
    optionalString(meta, "subject") ??
    optionalString(answer, "Name") ??
    optionalString(answer, "name");
  return subject?.trim() || undefined;
}
