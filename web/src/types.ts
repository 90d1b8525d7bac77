import type { DeliveryErrorCode } from "../../src/webhooks/outcome.js";
import type { Aggregation } from "../../src/webhooks/windows.js";
import type { WebhookHealth } from "../../src/webhooks/health.js";
import type { TargetProblem } from "../../src/webhooks/targets.js";

export type { TargetProblem };

export interface Workspace {
  id: string;
  name: string;
  timezone: string;
}

/** The server's one list of aggregation values (src/webhooks/windows.ts). */
export type { Aggregation };

/** Which messages a webhook gets (docs/api.md, Filters); the defaults let everything through. */
export interface WebhookFilter {
  direction: "both" | "received" | "sent";
  accounts: string[] | null;
  chats: "both" | "direct" | "group";
  responsible: string[] | null;
}

export interface Webhook {
  id: string;
  url: string;
  enabled: boolean;
  aggregation: Aggregation;
  filter: WebhookFilter;
  secret?: string;
  consecutive_failures: number;
  disabled_reason: null | "manual" | "consecutive_failures" | "gone";
  created_at: string;
  updated_at: string;
  /** Who made the last change (null before people signed in). */
  updated_by?: Actor | null;
  /** How it is doing, computed on each read (docs/api.md, src/webhooks/health.ts). */
  state?: WebhookHealth["state"];
  last_error?: WebhookHealth["last_error"];
  pending_messages?: number;
  next_retry_at?: string | null;
  owner_notified?: WebhookHealth["owner_notified"];
  /** Aggregated webhooks: when the next bundles go out, and how many chats have messages waiting. */
  next_bundle_at?: string | null;
  open_chats?: number | null;
}

export interface ActivityItem {
  at: string;
  kind: "delivered" | "failed" | "disabled" | "enabled" | "updated" | "warning" | string;
  summary: string;
  status_code?: number | null;
  delivery_id?: string | null;
  request_id?: string | null;
  /** The chat a delivery was about, as it was named then. */
  chat?: { chat_id: string; full_name: string };
  /** Who made the change a row reports (settings changes). */
  actor?: Actor;
  /** The delivered message's text on one line (a bundle's first). */
  snippet?: string;
}

export interface LogEntry {
  request_id: string;
  delivery_id?: string;
  attempt?: number;
  at?: string;
  duration_ms?: number;
  response: { status: number; headers?: Record<string, string>; body?: string } | null;
  /** `code` is one of the server's closed set of delivery error codes (src/webhooks/outcome.ts). */
  error: { code: DeliveryErrorCode; message: string } | null;
}

/** One attempt of a delivery, as `GET …/deliveries` answers it. */
export interface Delivery {
  request_id: string;
  delivery_id: string;
  attempt: number;
  at: string;
  duration_ms: number;
  status: "succeeded" | "failed";
  error: { code: DeliveryErrorCode; message: string } | null;
  request: { method?: string; url: string; headers: Record<string, string>; body: string };
  response: { status: number; headers: Record<string, string>; body: string } | null;
  next_retry_at: string | null;
  chat_id: string | null;
  test: boolean;
  resend: boolean;
}

export interface StatsBucket {
  start: string;
  delivered: number;
  failed: number;
}

export interface Party {
  full_name: string;
  phone: string;
}

export interface Chat {
  chat_id: string;
  full_name: string;
  is_group: boolean;
  phone: string;
  account_phone: string;
  responsible: { full_name: string; email: string } | null;
  created_at: string;
  /** The oldest message's time: when the conversation started. */
  first_message_at?: string | null;
  /** The newest message's time (the Timeline's order). */
  last_message_at: string | null;
  last_message?: { direction: "received" | "sent"; type: string; sender_name: string; preview: string } | null;
  chat_url: string;
}

export interface Message {
  message_id: string;
  direction: "received" | "sent";
  timestamp: string;
  type: string;
  text: string;
  sender: Party;
  recipient: Party;
  /** null while the message waits in the send queue (or failed there). */
  permalink: string | null;
  status: string;
  /** Sent from Threadline: queued, sent or failed (with send_error); null for the others. */
  send_status?: "queued" | "sent" | "failed" | null;
  send_error?: string | null;
}

export interface SendUrl {
  url: string | null;
  created_at: string | null;
}

export type Role = "owner" | "admin" | "member";

export interface Teammate {
  id: string;
  full_name: string;
  email: string;
  role: Role;
}

/** Who is signed in (`GET /api/v1/me`). */
export interface Me {
  id: string;
  email: string;
  full_name: string;
  role: Role;
  workspace: { id: string; name: string };
}

/** Who made a change: a person, an API key (by name), or Threadline itself. */
export interface Actor {
  type: "person" | "api_key" | "threadline";
  id: string;
  name: string;
}

export type Source = "api" | "cloud_api" | "waha" | "evolution";

export interface Account {
  id: string;
  phone: string;
  full_name: string;
  email: string;
  source: Source;
  inbound_url?: string | null;
  created_at?: string;
  /** Whether its gateway session receives (`unknown` for sources without a session). */
  connection?: { state: "connected" | "disconnected" | "unknown"; since: string | null; reason: string | null; last_message_at: string | null };
}

/** What an account's gateway sent that could not be mapped to messages. */
export interface InboundEvent {
  id: string;
  account_id: string;
  source: Source;
  reason: string;
  body: string;
  received_at: string;
}

export interface List<T> {
  items: T[];
  next_cursor?: string | null;
}
