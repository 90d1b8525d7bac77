/**
 * The API's answers as the UI reads them: the server's own TypeBox response schemas
 * (`src/*\/schemas.ts`), so a field renamed there fails the UI's typecheck too. Type-only
 * imports: nothing of the server enters the bundle.
 */
import type { Static } from "typebox";
import type {
  ActivityItem as ActivityItemSchema,
  ReplayCount as ReplayCountSchema,
  ReplayStarted as ReplayStartedSchema,
  ReplayView as ReplayViewSchema,
  Aggregation as AggregationSchema,
  Delivery as DeliverySchema,
  LogEntry as LogEntrySchema,
  StatsBucket as StatsBucketSchema,
  TargetProblem as TargetProblemSchema,
  Webhook as WebhookSchema,
  WebhookFilter as WebhookFilterSchema,
  WebhookWithSecret as WebhookWithSecretSchema,
} from "../../src/webhooks/schemas.js";
import type {
  Chat as ChatSchema,
  MessageWithSend as MessageSchema,
  Party as PartySchema,
} from "../../src/timeline/schemas.js";
import type { SendUrl as SendUrlSchema } from "../../src/sending/schemas.js";
import type {
  Me as MeSchema,
  Role as RoleSchema,
  Teammate as TeammateSchema,
  Workspace as WorkspaceSchema,
  WorkspaceSettings as WorkspaceSettingsSchema,
} from "../../src/workspaces/schemas.js";
import type { Actor as ActorSchema } from "../../src/audit/schemas.js";
import type {
  Account as AccountSchema,
  InboundEvent as InboundEventSchema,
  Source as SourceSchema,
} from "../../src/accounts/schemas.js";

export type Workspace = Static<typeof WorkspaceSchema>;
/** `GET /api/v1/workspace`: the workspace with its retention (src/retention). */
export type WorkspaceSettings = Static<typeof WorkspaceSettingsSchema>;
/** A replay as `GET /api/v1/webhooks/{id}/replay` answers it. */
export type ReplayView = Static<typeof ReplayViewSchema>;
export type ReplayStarted = Static<typeof ReplayStartedSchema>;
export type ReplayCount = Static<typeof ReplayCountSchema>;
export type Aggregation = Static<typeof AggregationSchema>;
/** Which messages a webhook gets (docs/api.md, Filters); the defaults let everything through. */
export type WebhookFilter = Static<typeof WebhookFilterSchema>;
/** A webhook as read (settings and health); `secret` only in the answers that carry it. */
export type Webhook = Static<typeof WebhookSchema> & Partial<Pick<Static<typeof WebhookWithSecretSchema>, "secret">>;
export type TargetProblem = Static<typeof TargetProblemSchema>;
export type ActivityItem = Static<typeof ActivityItemSchema>;
export type LogEntry = Static<typeof LogEntrySchema>;
/** One attempt of a delivery, as `GET …/deliveries` answers it. */
export type Delivery = Static<typeof DeliverySchema>;
export type StatsBucket = Static<typeof StatsBucketSchema>;
export type Party = Static<typeof PartySchema>;
export type Chat = Static<typeof ChatSchema>;
/** A message of a chat, with how sending it from Threadline went. */
export type Message = Static<typeof MessageSchema>;
export type SendUrl = Static<typeof SendUrlSchema>;
export type Role = Static<typeof RoleSchema>;
export type Teammate = Static<typeof TeammateSchema>;
/** Who is signed in (`GET /api/v1/me`). */
export type Me = Static<typeof MeSchema>;
/** Who made a change: a person, an API key (by name), or Threadline itself. */
export type Actor = Static<typeof ActorSchema>;
export type Source = Static<typeof SourceSchema>;
export type Account = Static<typeof AccountSchema>;
/** What an account's gateway sent that could not be mapped to messages. */
export type InboundEvent = Static<typeof InboundEventSchema>;

export interface List<T> {
  items: T[];
  next_cursor?: string | null;
}
