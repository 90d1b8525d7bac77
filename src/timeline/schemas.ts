/** What the chat and message routes answer (src/schemas.ts says how schemas are kept). */
import { Type, type Static } from "typebox";
import { Nullable, Page, StringEnum, Time } from "../schemas.js";

export const Direction = StringEnum(["received", "sent"] as const);
export type Direction = Static<typeof Direction>;

export const Party = Type.Object({ full_name: Type.String(), phone: Type.String() });
export type Party = Static<typeof Party>;

/** A chat as the Timeline lists it (timeline/service.ts `chatView`). */
export const Chat = Type.Object({
  chat_id: Type.String(),
  full_name: Type.String(),
  is_group: Type.Boolean(),
  phone: Type.String(),
  account_phone: Type.String(),
  responsible: Nullable(Type.Object({ full_name: Type.String(), email: Type.String() })),
  created_at: Time(),
  /** The newest message's time (the Timeline's order). */
  last_message_at: Time(),
  /** The oldest message's time: when the conversation started. */
  first_message_at: Nullable(Time()),
  last_message: Nullable(
    Type.Object({ direction: Direction, type: Type.String(), sender_name: Type.String(), preview: Type.String() }),
  ),
  chat_url: Type.String(),
});
export type Chat = Static<typeof Chat>;
export const ChatPage = Page(Chat);

/** `GET /api/v1/chats/{id}`: the chat, and the chats merged into it. */
export const ChatWithHistory = Type.Object({
  ...Chat.properties,
  history: Type.Array(
    Type.Object({
      event: StringEnum(["merged"] as const),
      at: Time(),
      chat_id: Type.String(),
      external_id: Type.String(),
    }),
  ),
});

const messageFields = {
  message_id: Type.String(),
  direction: Direction,
  timestamp: Time(),
  type: Type.String(),
  text: Type.String(),
  sender: Party,
  recipient: Party,
};

/** A message of the log (timeline/service.ts `messageView`). */
export const Message = Type.Object({ ...messageFields, permalink: Type.String(), status: Type.String() });
export type Message = Static<typeof Message>;

/** A message with how sending it from Threadline went: queued, sent or failed (with send_error); null for the others. */
export const MessageWithSend = Type.Object({
  ...messageFields,
  /** null while the message waits in the send queue (or failed there). */
  permalink: Nullable(Type.String()),
  status: Type.String(),
  send_status: Nullable(StringEnum(["queued", "sent", "failed"] as const)),
  send_error: Nullable(Type.String()),
});
export type MessageWithSend = Static<typeof MessageWithSend>;
export const MessagePage = Page(MessageWithSend);

export const Permalink = Type.Object({ chat_id: Type.String(), message_id: Type.String() });
