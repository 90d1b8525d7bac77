/**
 * Who writes each table (ARCHITECTURE.md, Storage). Every table has one owner, the module
 * a reader opens to find how its rows change; another domain that needs a change calls the
 * owner's function (inside its own transaction when it must be atomic, passing `tx`). The
 * few other writers are named with why: a column group kept apart (a webhook's delivery state,
 * its lease), a flow of the owner's own domain, or a cross-cutting job (deletion, retention).
 * test/db/tables.test.ts finds every write in src/ and fails on one from a module not named
 * here, and on a module named here that no longer writes its table. Reads may join freely.
 * Not imported by the server: this is the map, and the test holds the code to it.
 */
import type { Database } from "./schema.js";

export type Module = `src/${string}.ts`;

export interface Writers {
  owner: Module;
  /** Other modules that write the table, each with its reason. */
  also?: Readonly<Partial<Record<Module, string>>>;
}

/** Write any table: schema changes and their backfills, and the copy of the whole file. */
export const WHOLE_DATABASE: Readonly<Record<Module, string>> = {
  "src/db/migrations.ts": "schema changes and the backfills that go with them, once, before anything else runs",
  "src/db/backup.ts": "copies the SQLite file whole (online backup API), and restores one into an empty data folder",
};

const DELETION = {
  "src/deletion/index.ts":
    "deleting an account or a workspace erases its rows in FK order: a short transaction that stops access, then batches",
} as const;
const RETENTION = {
  "src/retention/index.ts": "prunes rows older than the workspace's retention_days, in batches, across domains",
} as const;
const WEBHOOK_REMOVAL = {
  "src/webhooks/service.ts": "deleting a webhook deletes its rows, in the transaction the consumer stops in",
} as const;

export const TABLE_WRITERS: { readonly [T in keyof Database]: Writers } = {
  meta: { owner: "src/workspaces/service.ts" },
  workspaces: { owner: "src/workspaces/service.ts", also: DELETION },
  api_keys: {
    owner: "src/workspaces/api-keys.ts",
    also: {
      "src/workspaces/service.ts": "a new workspace's first key, in the transaction that creates the workspace",
      ...DELETION,
    },
  },
  api_key_uses: { owner: "src/workspaces/api-keys.ts", also: DELETION },
  sessions: {
    owner: "src/workspaces/sessions.ts",
    also: DELETION,
  },
  teammates: {
    owner: "src/workspaces/service.ts",
    also: {
      "src/workspaces/sessions.ts": "password_hash: setting a password, with the sessions it ends",
      "src/workspaces/invitations.ts":
        "accepting an invitation adds the person (or sets their password) as it deletes it",
      "src/workspaces/sso.ts": "a first SSO sign-in adds the person, as it deletes their invitation",
      ...DELETION,
    },
  },
  one_time_tokens: { owner: "src/workspaces/sessions.ts", also: DELETION },
  invitations: {
    owner: "src/workspaces/invitations.ts",
    also: {
      "src/workspaces/sso.ts": "a first SSO sign-in takes the person's invitation, in the transaction that adds them",
      ...DELETION,
    },
  },
  audit_log: { owner: "src/audit/index.ts", also: DELETION },
  accounts: { owner: "src/accounts/service.ts", also: DELETION },
  chats: {
    owner: "src/ingest/store.ts",
    also: {
      "src/ingest/prepared.ts": "store.ts's statements on PostgreSQL (last_message_at as messages are stored)",
      "src/ingest/identity.ts":
        "a learned phone: the chat takes it, or two chats of one contact merge (one transaction)",
      "src/timeline/service.ts": "a teammate's edits: the name (name_source `teammate`) and responsible_teammate_id",
      ...DELETION,
      ...RETENTION,
    },
  },
  contact_ids: { owner: "src/ingest/identity.ts", also: DELETION },
  chat_aliases: { owner: "src/ingest/identity.ts", also: DELETION },
  account_connections: { owner: "src/accounts/connection.ts", also: DELETION },
  messages: {
    owner: "src/ingest/store.ts",
    also: {
      "src/ingest/prepared.ts": "store.ts's insert on PostgreSQL, as a named prepared statement",
      "src/ingest/identity.ts": "a learned phone fills the contact's messages; a merge moves them (one transaction)",
      ...DELETION,
      ...RETENTION,
    },
  },
  webhooks: {
    owner: "src/webhooks/service.ts",
    also: {
      "src/webhooks/writer.ts":
        "the consumer's delivery state (WebhookState: cursor_seq, consecutive_failures, enabled and disabled_* when it stops itself, window_end)",
      "src/webhooks/leases.ts": "lease_owner and lease_until: which process consumes the webhook",
      ...DELETION,
    },
  },
  webhook_requests: { owner: "src/webhooks/writer.ts", also: { ...WEBHOOK_REMOVAL, ...DELETION } },
  webhook_activity: { owner: "src/webhooks/writer.ts", also: { ...WEBHOOK_REMOVAL, ...DELETION } },
  parked_deliveries: { owner: "src/webhooks/parked.ts", also: { ...WEBHOOK_REMOVAL, ...DELETION } },
  webhook_hourly: { owner: "src/webhooks/writer.ts", also: { ...WEBHOOK_REMOVAL, ...DELETION } },
  webhook_replays: {
    owner: "src/webhooks/replay.ts",
    also: {
      "src/webhooks/service.ts": "starting a replay (its row) and deleting a webhook (its replays)",
      ...RETENTION,
      ...DELETION,
    },
  },
  webhook_windows: { owner: "src/webhooks/writer.ts", also: { ...WEBHOOK_REMOVAL, ...RETENTION, ...DELETION } },
  inbound_events: { owner: "src/accounts/inbound-events.ts", also: DELETION },
  notifications: { owner: "src/alerts/index.ts", also: { ...DELETION, ...RETENTION } },
  send_queue: {
    owner: "src/sending/queue.ts",
    also: {
      "src/sending/sender.ts": "a send's progress: status, attempts, claims, sent_at, message_id",
      ...DELETION,
    },
  },
  send_pacing: { owner: "src/sending/sender.ts", also: DELETION },
  send_urls: { owner: "src/sending/send-url.ts", also: DELETION },
  processes: { owner: "src/webhooks/leases.ts" },
};
