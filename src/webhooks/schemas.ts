/**
 * What the webhook routes answer (`/api/v1/webhooks…`), as TypeBox schemas: Fastify writes
 * the answers through them, /docs shows them, and the web UI and the tests take their types
 * from them. The payloads a webhook delivers are described by contract/schemas instead (here
 * they are any JSON). Imports only typebox and modules without imports (src/schemas.ts).
 */
import { Type, type Static } from "typebox";
import { AnyJson, InOrder, Items, Nullable, Page, StringEnum, Time } from "../schemas.js";
import { Actor } from "../audit/schemas.js";
import { AGGREGATIONS } from "./windows.js";
import { DELIVERY_ERROR_CODES } from "./outcome.js";

export const DIRECTIONS = ["both", "received", "sent"] as const;
export const CHAT_KINDS = ["both", "direct", "group"] as const;

export const Aggregation = StringEnum(AGGREGATIONS);

/** Which messages a webhook gets (docs/api.md, Filters); the defaults let everything through. */
export const WebhookFilter = Type.Object({
  direction: StringEnum(DIRECTIONS),
  accounts: Nullable(Type.Array(Type.String(), { description: "Account phones; null: every account" })),
  chats: StringEnum(CHAT_KINDS),
  responsible: Nullable(
    Type.Array(Type.String(), { description: "Teammate e-mails; null: any, unassigned chats included" }),
  ),
});
export type WebhookFilter = Static<typeof WebhookFilter>;

/** One of the closed set of delivery error codes (src/webhooks/outcome.ts). */
export const DeliveryError = Type.Object({ code: StringEnum(DELIVERY_ERROR_CODES), message: Type.String() });

export const WebhookState = StringEnum(["ok", "failing", "disabled"] as const);

/** What a webhook read adds for a person who must notice and act on a failure (webhooks/health.ts). */
export const WebhookHealth = Type.Object({
  state: WebhookState,
  last_error: Nullable(Type.Object({ ...DeliveryError.properties, at: Time() })),
  pending_messages: Type.Integer({ description: "Counted up to 10,000" }),
  next_retry_at: Nullable(Time()),
  owner_notified: Nullable(Type.Object({ at: Time(), to: Type.String(), delivered: Type.Boolean() })),
});
export type WebhookHealth = Static<typeof WebhookHealth>;

const webhookFields = {
  id: Type.String(),
  url: Type.String(),
  enabled: Type.Boolean(),
  aggregation: Aggregation,
  filter: WebhookFilter,
  consecutive_failures: Type.Integer(),
  disabled_reason: Nullable(StringEnum(["manual", "consecutive_failures", "gone"] as const)),
  disabled_at: Nullable(Time()),
  created_at: Time(),
  updated_at: Time(),
  /** Who made the last change (null before people signed in). */
  updated_by: Nullable(Actor),
  ...WebhookHealth.properties,
  /** Aggregated webhooks: when the next bundles go out, and how many chats have messages waiting. */
  next_bundle_at: Nullable(Time()),
  open_chats: Nullable(Type.Integer()),
};

/** A webhook as the API answers it: its settings and its health, computed on each read. */
export const Webhook = Type.Object(webhookFields);
export type Webhook = Static<typeof Webhook>;

/** The creation's and rotate-secret's answer: the webhook with its signing secret. */
export const WebhookWithSecret = Type.Object({ ...webhookFields, secret: Type.String() });
export type WebhookWithSecret = Static<typeof WebhookWithSecret>;

export const WebhookPage = Page(Webhook);

/** `POST /api/v1/webhooks/check-target`: why a delivery URL cannot be delivered to, if known now. */
export const TargetProblem = Type.Object({
  code: StringEnum(["INVALID_URL", "BLOCKED_TARGET", "DNS_FAILURE"] as const),
  message: Type.String(),
});
export type TargetProblem = Static<typeof TargetProblem>;
export const TargetCheck = Type.Object({ ok: Type.Boolean(), problem: Nullable(TargetProblem) });

/** One row of a webhook's activity (the 10 latest). */
export const ActivityItem = Type.Object({
  at: Time(),
  kind: Type.String({ description: "delivered, failed, disabled, enabled, updated, warning, …" }),
  summary: Type.String(),
  status_code: Type.Optional(Type.Integer()),
  delivery_id: Type.Optional(Type.String()),
  request_id: Type.Optional(Type.String()),
  /** The chat a delivery was about, as it was named then. */
  chat: Type.Optional(Type.Object({ chat_id: Type.String(), full_name: Type.String() })),
  /** The delivered message's text on one line (a bundle's first). */
  snippet: Type.Optional(Type.String()),
  /** Who made the change a row reports (settings changes). */
  actor: Type.Optional(Actor),
});
export type ActivityItem = Static<typeof ActivityItem>;
export const ActivityList = Items(ActivityItem);

const Headers = Type.Record(Type.String(), Type.String());
/** `method` is missing from attempts logged before it was kept. */
const SentRequest = InOrder(
  Type.Object({ method: Type.Optional(Type.String()), url: Type.String(), headers: Headers, body: Type.String() }),
);
const ReceivedResponse = Type.Object({ status: Type.Integer(), headers: Headers, body: Type.String() });

const logEntryFields = {
  request_id: Type.String(),
  delivery_id: Type.String(),
  attempt: Type.Integer(),
  at: Time(),
  duration_ms: Type.Number(),
  request: SentRequest,
  response: Nullable(ReceivedResponse),
  error: Nullable(DeliveryError),
};

/** One attempt of the downloadable request log (`GET …/log`, its format fixed: docs/api.md). */
export const LogEntry = Type.Object(logEntryFields);
export type LogEntry = Static<typeof LogEntry>;
export const RequestLog = Type.Array(LogEntry);

/** One attempt of a delivery, as `GET …/deliveries` and the resends answer it. */
export const Delivery = Type.Object({
  ...logEntryFields,
  status: StringEnum(["succeeded", "failed"] as const),
  chat_id: Nullable(Type.String()),
  next_retry_at: Nullable(Time()),
  test: Type.Boolean(),
  resend: Type.Boolean(),
});
export type Delivery = Static<typeof Delivery>;
export const DeliveryList = Items(Delivery);

/** A delivery set aside after Threadline's own errors (webhooks/parked.ts). */
export const Parked = Type.Object({
  delivery_id: Type.String(),
  chat_id: Nullable(Type.String()),
  message_id: Nullable(Type.String()),
  reason: Type.String(),
  parked_at: Time(),
  resendable: Type.Boolean(),
});
export type Parked = Static<typeof Parked>;
export const ParkedList = Items(Parked);

/** The digest an aggregated webhook would send for a chat now (the first of `parts` bundles). */
export const Preview = Type.Object({
  payload: AnyJson({ description: "A bundle payload (contract/schemas/bundle.schema.json)" }),
  parts: Type.Integer(),
  more: Type.Boolean(),
});
export type Preview = Static<typeof Preview>;

export const StatsBucket = Type.Object({ start: Time(), delivered: Type.Integer(), failed: Type.Integer() });
export type StatsBucket = Static<typeof StatsBucket>;
export const Stats = Type.Object({ buckets: Type.Array(StatsBucket) });

export const Retrying = Type.Object({ retrying: Type.Boolean() });
export const Flushed = Type.Object({ flushed: Type.Integer() });
export const Sample = Type.Object({
  aggregation: Aggregation,
  payload: AnyJson({ description: "A message or bundle payload (contract/schemas)" }),
});

/** `POST …/test`: the one attempt made, as the request log keeps it. */
export const TestEvent = LogEntry;

export const Secret = Type.Object({
  secret: Type.String(),
  previous_secret: Nullable(Type.String()),
  previous_secret_expires_at: Nullable(Time()),
});

/** A replay of a range (webhooks/replay.ts), as GET and DELETE …/replay answer it. */
export const ReplayView = Type.Object({
  replay_id: Type.String(),
  state: StringEnum(["running", "done", "cancelled", "failed"] as const),
  since: Time(),
  until: Time(),
  total: Type.Integer(),
  delivered: Type.Integer(),
  failed: Type.Integer(),
  reason: Nullable(Type.String()),
  started_at: Time(),
  ended_at: Nullable(Time()),
});
export const ReplayStarted = Type.Object({ replay_id: Type.String(), messages: Type.Integer() });
export const ReplayCount = Type.Object({ since: Time(), until: Time(), messages: Type.Integer() });
