/**
 * What the account routes answer, and what an inbound URL answers a gateway (src/schemas.ts
 * says how schemas are kept). `SOURCES` is the one list of sources.
 */
import { Type, type Static } from "typebox";
import { AnyJson, Nullable, Page, StringEnum, Time } from "../schemas.js";

export const SOURCES = ["api", "cloud_api", "waha", "evolution"] as const;
export const Source = StringEnum(SOURCES);
export type Source = Static<typeof Source>;

/** Whether an account's gateway session receives (`unknown` for sources without a session; accounts/connection.ts). */
export const Connection = Type.Object({
  state: StringEnum(["connected", "disconnected", "unknown"] as const),
  since: Nullable(Time()),
  reason: Nullable(Type.String()),
  last_message_at: Nullable(Time()),
});
export type Connection = Static<typeof Connection>;

export const Account = Type.Object({
  id: Type.String(),
  phone: Type.String(),
  full_name: Type.String(),
  email: Type.String(),
  source: Source,
  /** The gateway's settings, secrets shown by a hint only. */
  source_config: Type.Record(Type.String(), AnyJson()),
  /** The URL its gateway posts to (null for source api, and for members: the token is a credential). */
  inbound_url: Nullable(Type.String()),
  /** The pause between messages sent through it; null: the THREADLINE_SEND_PAUSE_MS default. */
  send_pause_ms: Nullable(Type.Integer()),
  created_at: Time(),
  connection: Connection,
});
export type Account = Static<typeof Account>;
export const AccountPage = Page(Account);

/** What an account's gateway sent that could not be mapped to messages. */
export const InboundEvent = Type.Object({
  id: Type.String(),
  account_id: Type.String(),
  source: Source,
  reason: Type.String(),
  body: Type.String({ description: "The request body exactly as received" }),
  received_at: Time(),
});
export type InboundEvent = Static<typeof InboundEvent>;
export const InboundEventPage = Page(InboundEvent);

/** What an inbound URL answers an authenticated gateway request (never a refusal of the event). */
export const InboundAnswer = Type.Object({
  ok: Type.Boolean(),
  accepted: Type.Integer(),
  duplicates: Type.Integer(),
  skipped: Type.Integer(),
  unrecognised: Type.Integer(),
});
export type InboundAnswer = Static<typeof InboundAnswer>;
