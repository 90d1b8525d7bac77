import type { ColumnType, Generated } from "kysely";

/** Times are integer milliseconds, booleans 0/1, JSON is text: the same on SQLite and PostgreSQL. */
export interface Database {
  meta: { key: string; value: string };
  workspaces: {
    id: string;
    name: string;
    timezone: string;
    owner_teammate_id: string;
    created_at: number;
    /** Messages older than this many days are deleted once delivered (src/retention); null keeps them. */
    retention_days: number | null;
    /** Set when the operator deleted it: its data is being swept (src/deletion). */
    deleted_at: ColumnType<number | null, number | null | undefined, number | null>;
  };
  /** `created_by`: the actor (JSON `{type, id, name}`) who made the key; null for the key a workspace was created with. */
  api_keys: {
    id: string;
    workspace_id: string;
    key_hash: string;
    created_at: number;
    name: string;
    created_by: string | null;
  };
  /** When a key was last used (written at most once a minute per key; kept apart so use does not drop the key cache). */
  api_key_uses: { key_id: string; last_used_at: number };
  /** A person's browser session; `method`: password, link, reset, invitation or sso. */
  sessions: {
    id: string;
    token_hash: string;
    workspace_id: string;
    teammate_id: string;
    created_at: number;
    expires_at: number;
    user_agent: string;
    address: string;
    method: string;
  };
  /** A person; `role` owner | admin | member; `password_hash` null until they set one (scrypt, workspaces/passwords.ts). */
  teammates: {
    id: string;
    workspace_id: string;
    full_name: string;
    email: string;
    created_at: number;
    role: string;
    password_hash: string | null;
  };
  /** One-time sign-in links and password resets (`kind` signin | reset), hashed; deleted when used. */
  one_time_tokens: {
    token_hash: string;
    kind: string;
    workspace_id: string;
    teammate_id: string;
    created_at: number;
    expires_at: number;
  };
  /** Open invitations (deleted when accepted or withdrawn); `created_by` is an actor as JSON. */
  invitations: {
    id: string;
    workspace_id: string;
    email: string;
    full_name: string;
    role: string;
    token_hash: string;
    created_by: string;
    created_at: number;
    expires_at: number;
  };
  audit_log: {
    id: Generated<number>;
    workspace_id: string;
    at: number;
    actor_type: string;
    actor_id: string;
    actor_name: string;
    action: string;
    object_type: string;
    object_id: string;
    /** JSON text, never a secret. */
    before: string | null;
    after: string | null;
    address: string | null;
  };
  accounts: {
    id: string;
    workspace_id: string;
    phone: string;
    owner_teammate_id: string;
    source: string;
    source_config: string;
    inbound_token: string;
    created_at: number;
    /** The pause between messages sent through this account; null: THREADLINE_SEND_PAUSE_MS. */
    send_pause_ms: number | null;
    /** Set when the account was deleted: its inbound URL and sending stop; its chats and messages stay unless purged. */
    deleted_at: ColumnType<number | null, number | null | undefined, number | null>;
    /** 1 while its chats and messages are being purged (`DELETE …?purge=true`); the row goes once they are. */
    purging: ColumnType<number, number | undefined, number>;
  };
  chats: {
    id: Generated<number>;
    workspace_id: string;
    account_id: string;
    external_id: string;
    full_name: string;
    is_group: number;
    phone: string;
    responsible_teammate_id: string | null;
    created_at: number;
    created_by_message_id: string | null;
    last_message_at: number;
    /** Where `full_name` came from (ingest/names.ts): "" (an id or phone), "push", "gateway" or "teammate". */
    name_source: Generated<string>;
  };
  /** The identity map: a hidden id (`…@lid`, a Cloud API user id) of an account's contact and its phone (E.164). */
  contact_ids: { account_id: string; hidden_id: string; phone: string; learned_at: number };
  /** A chat merged into another: its id (and external id) keep opening the survivor. */
  chat_aliases: {
    old_chat_id: number;
    chat_id: number;
    workspace_id: string;
    account_id: string;
    external_id: string;
    merged_at: number;
  };
  /** What the account's gateway last said of its WhatsApp session (accounts/connection.ts). */
  account_connections: {
    account_id: string;
    state: string;
    since: number;
    reason: string | null;
    alerted_at: number | null;
  };
  messages: {
    seq: Generated<number>;
    id: string;
    workspace_id: string;
    account_id: string;
    chat_id: number;
    external_id: string;
    direction: string;
    type: string;
    status: string;
    text: string;
    timestamp: number;
    stored_at: number;
    sender_name: string;
    sender_phone: string;
    recipient_name: string;
    recipient_phone: string;
    permalink: string;
    sent_by_teammate_id: string | null;
  };
  webhooks: {
    id: string;
    workspace_id: string;
    url: string;
    enabled: number;
    aggregation: string;
    secret: string;
    /** The secret before the last rotation, still signing deliveries until `previous_secret_until`. */
    previous_secret: string | null;
    previous_secret_until: number | null;
    consecutive_failures: number;
    disabled_reason: string | null;
    disabled_at: number | null;
    cursor_seq: number;
    /** Bumped by replays before 0016 (which gave re-sent deliveries new webhook-ids); no longer moved, kept in the ids it is part of. */
    epoch: number;
    /** Aggregated webhooks: the end of the window being filled. */
    window_end: number | null;
    created_at: number;
    updated_at: number;
    /** The process consuming this webhook, and until when (several processes on PostgreSQL). */
    lease_owner: string | null;
    lease_until: number | null;
    /** Which messages it delivers (webhooks/filter.ts): JSON text; null lets everything through. */
    filter: string | null;
    /** Who made the last change (an actor as JSON); null before people signed in. */
    updated_by: string | null;
  };
  webhook_requests: {
    id: Generated<number>;
    webhook_id: string;
    request_id: string;
    delivery_id: string;
    attempt: number;
    at: number;
    duration_ms: number;
    request: string;
    response: string | null;
    error: string | null;
    /** The chat the payload is about (null for test events). */
    chat_id: string | null;
    /** 1: a test event (`POST …/test`), or a resend of one. */
    test: Generated<number>;
    /** 1: sent again by hand (`POST …/deliveries/{id}/resend`). */
    resend: Generated<number>;
    /** A failed consumer attempt: when the consumer means to try the webhook again. */
    next_retry_at: number | null;
  };
  webhook_activity: {
    id: Generated<number>;
    webhook_id: string;
    at: number;
    kind: string;
    summary: string;
    status_code: number | null;
    delivery_id: string | null;
    /** The request log row of the attempt this entry reports, if any. */
    request_id: string | null;
    /** The chat a delivery was about (names stay as they were when it was written). */
    chat_id: number | null;
    chat_name: string | null;
    /** Who made the change this row reports (an actor as JSON); null for deliveries. */
    actor: ColumnType<string | null, string | null | undefined, string | null>;
    /** The delivered message's text on one line (a bundle's first); null for other entries. */
    snippet: ColumnType<string | null, string | null | undefined, string | null>;
  };
  /** Deliveries set aside after failing by an internal error (webhooks/parked.ts). */
  parked_deliveries: {
    id: Generated<number>;
    webhook_id: string;
    delivery_id: string;
    chat_id: string | null;
    /** An unaggregated delivery's message (its body can be written again from the log). */
    message_id: string | null;
    reason: string;
    /** The body, when it could be written. */
    body: string | null;
    parked_at: number;
  };
  webhook_hourly: { webhook_id: string; hour_start: number; delivered: number; failed: number };
  /** Replays of a range of the log (webhooks/replay.ts): one `running` per webhook at most. */
  webhook_replays: {
    id: string;
    webhook_id: string;
    state: string;
    /** `messages` (an unaggregated webhook: `position` is a seq) or `windows` (aggregated: `position` is a window's end). */
    kind: string;
    since: number;
    until: number;
    /** The log's range, fixed when it started: seq in (after_seq, max_seq]. */
    after_seq: number;
    max_seq: number;
    total: number;
    delivered: number;
    failed: number;
    /** Where a restart resumes: every item at or below it is done (a seq, or an aggregated window's end). */
    position: number;
    /** `delivered` and `failed` as they were at `position`. */
    resume_delivered: number;
    resume_failed: number;
    /** Why it ended early (`cancelled`, `failed`). */
    reason: string | null;
    created_at: number;
    ended_at: number | null;
    /** Who started it (an actor as JSON). */
    created_by: string | null;
  };
  /** The windows an aggregated webhook sent, as they went out: what a replay re-sends. */
  webhook_windows: {
    webhook_id: string;
    window_end: number;
    window_start: number;
    after_seq: number;
    max_seq: number;
    time_zone: string;
    aggregation: string;
    epoch: number;
  };
  inbound_events: {
    id: Generated<number>;
    workspace_id: string;
    account_id: string;
    source: string;
    reason: string;
    body: string;
    received_at: number;
  };
  notifications: {
    id: Generated<number>;
    workspace_id: string;
    at: number;
    to_address: string;
    subject: string;
    text: string;
    delivered: number;
    /** What the e-mail is about (`NotificationKind`); "other" for rows kept before 0016. */
    kind: Generated<string>;
    /** The webhook a warning or disable e-mail is about. */
    webhook_id: string | null;
  };
  send_queue: {
    /** The message's id in the API (the log's row takes it when the gateway confirms). */
    id: string;
    workspace_id: string;
    account_id: string;
    chat_id: number;
    text: string;
    teammate_id: string;
    /** queued | sent | failed */
    status: string;
    error: string | null;
    attempts: number;
    next_attempt_at: number;
    created_at: number;
    sent_at: number | null;
    /** The log's message once sent (another id only when the gateway's echo was stored first). */
    message_id: string | null;
    claimed_by: string | null;
    claimed_until: number | null;
  };
  send_pacing: { account_id: string; next_send_at: number };
  send_urls: { workspace_id: string; token: string; created_at: number };
  /** The processes delivering from this database (webhooks/leases.ts): alive while their heartbeat is recent. */
  processes: { id: string; started_at: number; heartbeat_at: number };
}
