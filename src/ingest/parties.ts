import type { AccountRow } from "../accounts/service.js";
import type { IngestMessage, IngestParty } from "./types.js";

/** A message that passed validation; its parties are derived once its chat's stored name is known (`parties`). */
export interface Checked {
  index: number;
  account: AccountRow;
  msg: IngestMessage;
  timestamp: number;
  chatKey: string;
  isGroup: boolean;
  chatPhone: string;
  deliverable: boolean;
}

/**
 * The chat's name and the message's parties. `knownName` is the name its chat already
 * has: messages often come without the contact's name (a gateway's echo of the account's
 * own message, an API client sending only the chat id), and then the contact side is
 * "Sheena Nelson", not a bare phone.
 */
export function parties(
  c: Checked,
  knownName: string | undefined,
): { chatName: string; sender: IngestParty; recipient: IngestParty } {
  const { msg, account, chatPhone } = c;
  const chatName = msg.chat.full_name?.trim() || knownName || chatPhone || msg.chat.external_id;
  if (c.isGroup) {
    // docs/api.md: in a group phones are "" and the group's title stands for the other side; what
    // the account sends is sent by the account side (the one given, else the account's owner).
    const other = msg.direction === "sent" ? account.full_name : chatName;
    return {
      chatName,
      sender: { full_name: msg.sender?.full_name?.trim() || other, phone: "" },
      recipient: { full_name: msg.recipient?.full_name?.trim() || chatName, phone: "" },
    };
  }
  const contact = { full_name: chatName, phone: chatPhone };
  const own = { full_name: account.full_name, phone: account.phone };
  const [s, r] = msg.direction === "received" ? [contact, own] : [own, contact];
  return {
    chatName,
    sender: { full_name: msg.sender?.full_name?.trim() || s.full_name, phone: msg.sender?.phone?.trim() || s.phone },
    recipient: {
      full_name: msg.recipient?.full_name?.trim() || r.full_name,
      phone: msg.recipient?.phone?.trim() || r.phone,
    },
  };
}
