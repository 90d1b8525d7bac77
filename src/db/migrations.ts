import { sql, type Kysely, type Migration } from "kysely";

/**
 * Migrations are written once for both databases. The only dialect switch is the
 * auto-increment key type (SQLite `integer … autoincrement`, PostgreSQL `bigserial`).
 */
export function migrations(dialect: "sqlite" | "postgres"): Record<string, Migration> {
  const serial = (name: string) => (t: any) =>
    dialect === "postgres"
      ? t.addColumn(name, sql`bigserial`, (c: any) => c.primaryKey())
      : t.addColumn(name, "integer", (c: any) => c.primaryKey().autoIncrement());

  return {
    "0001_initial": {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable("meta")
          .addColumn("key", "text", (c) => c.primaryKey())
          .addColumn("value", "text", (c) => c.notNull())
          .execute();

        await db.schema
          .createTable("workspaces")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("timezone", "text", (c) => c.notNull())
          .addColumn("owner_teammate_id", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();

        await db.schema
          .createTable("api_keys")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("workspace_id", "text", (c) => c.notNull())
          .addColumn("key_hash", "text", (c) => c.notNull().unique())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();

        await db.schema
          .createTable("sessions")
          .addColumn("token_hash", "text", (c) => c.primaryKey())
          .addColumn("workspace_id", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .execute();

        await db.schema
          .createTable("teammates")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("workspace_id", "text", (c) => c.notNull())
          .addColumn("full_name", "text", (c) => c.notNull())
          .addColumn("email", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addUniqueConstraint("teammates_workspace_email", ["workspace_id", "email"])
          .execute();

        await db.schema
          .createTable("accounts")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("workspace_id", "text", (c) => c.notNull())
          .addColumn("phone", "text", (c) => c.notNull())
          .addColumn("owner_teammate_id", "text", (c) => c.notNull())
          .addColumn("source", "text", (c) => c.notNull())
          .addColumn("source_config", "text", (c) => c.notNull())
          .addColumn("inbound_token", "text", (c) => c.notNull().unique())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addUniqueConstraint("accounts_workspace_phone", ["workspace_id", "phone"])
          .execute();

        await serial("id")(db.schema.createTable("chats"))
          .addColumn("workspace_id", "text", (c: any) => c.notNull())
          .addColumn("account_id", "text", (c: any) => c.notNull())
          .addColumn("external_id", "text", (c: any) => c.notNull())
          .addColumn("full_name", "text", (c: any) => c.notNull())
          .addColumn("is_group", "integer", (c: any) => c.notNull())
          .addColumn("phone", "text", (c: any) => c.notNull())
          .addColumn("responsible_teammate_id", "text")
          .addColumn("created_at", "bigint", (c: any) => c.notNull())
          .addColumn("created_by_message_id", "text")
          .addColumn("last_message_at", "bigint", (c: any) => c.notNull())
          .addUniqueConstraint("chats_account_external", ["account_id", "external_id"])
          .execute();
        await db.schema
          .createIndex("chats_workspace_activity")
          .on("chats")
          .columns(["workspace_id", "last_message_at"])
          .execute();

        await serial("seq")(db.schema.createTable("messages"))
          .addColumn("id", "text", (c: any) => c.notNull().unique())
          .addColumn("workspace_id", "text", (c: any) => c.notNull())
          .addColumn("account_id", "text", (c: any) => c.notNull())
          .addColumn("chat_id", "bigint", (c: any) => c.notNull())
          .addColumn("external_id", "text", (c: any) => c.notNull())
          .addColumn("direction", "text", (c: any) => c.notNull())
          .addColumn("type", "text", (c: any) => c.notNull())
          .addColumn("status", "text", (c: any) => c.notNull())
          .addColumn("text", "text", (c: any) => c.notNull())
          .addColumn("timestamp", "bigint", (c: any) => c.notNull())
          .addColumn("stored_at", "bigint", (c: any) => c.notNull())
          .addColumn("sender_name", "text", (c: any) => c.notNull())
          .addColumn("sender_phone", "text", (c: any) => c.notNull())
          .addColumn("recipient_name", "text", (c: any) => c.notNull())
          .addColumn("recipient_phone", "text", (c: any) => c.notNull())
          .addColumn("permalink", "text", (c: any) => c.notNull().unique())
          .addColumn("sent_by_teammate_id", "text")
          .addUniqueConstraint("messages_account_external", ["account_id", "external_id"])
          .execute();
        await db.schema.createIndex("messages_workspace_seq").on("messages").columns(["workspace_id", "seq"]).execute();
        await db.schema.createIndex("messages_chat_seq").on("messages").columns(["chat_id", "seq"]).execute();
        await db.schema
          .createIndex("messages_workspace_stored")
          .on("messages")
          .columns(["workspace_id", "stored_at"])
          .execute();

        await db.schema
          .createTable("webhooks")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("workspace_id", "text", (c) => c.notNull())
          .addColumn("url", "text", (c) => c.notNull())
          .addColumn("enabled", "integer", (c) => c.notNull())
          .addColumn("aggregation", "text", (c) => c.notNull())
          .addColumn("secret", "text", (c) => c.notNull())
          .addColumn("consecutive_failures", "integer", (c) => c.notNull())
          .addColumn("disabled_reason", "text")
          .addColumn("disabled_at", "bigint")
          .addColumn("cursor_seq", "bigint", (c) => c.notNull())
          .addColumn("epoch", "integer", (c) => c.notNull())
          .addColumn("window_end", "bigint")
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("updated_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("webhooks_workspace").on("webhooks").column("workspace_id").execute();

        await serial("id")(db.schema.createTable("webhook_requests"))
          .addColumn("webhook_id", "text", (c: any) => c.notNull())
          .addColumn("request_id", "text", (c: any) => c.notNull())
          .addColumn("delivery_id", "text", (c: any) => c.notNull())
          .addColumn("attempt", "integer", (c: any) => c.notNull())
          .addColumn("at", "bigint", (c: any) => c.notNull())
          .addColumn("duration_ms", "integer", (c: any) => c.notNull())
          .addColumn("request", "text", (c: any) => c.notNull())
          .addColumn("response", "text")
          .addColumn("error", "text")
          .execute();
        await db.schema
          .createIndex("webhook_requests_webhook")
          .on("webhook_requests")
          .columns(["webhook_id", "id"])
          .execute();

        await serial("id")(db.schema.createTable("webhook_activity"))
          .addColumn("webhook_id", "text", (c: any) => c.notNull())
          .addColumn("at", "bigint", (c: any) => c.notNull())
          .addColumn("kind", "text", (c: any) => c.notNull())
          .addColumn("summary", "text", (c: any) => c.notNull())
          .addColumn("status_code", "integer")
          .addColumn("delivery_id", "text")
          .execute();
        await db.schema
          .createIndex("webhook_activity_webhook")
          .on("webhook_activity")
          .columns(["webhook_id", "id"])
          .execute();

        await db.schema
          .createTable("webhook_hourly")
          .addColumn("webhook_id", "text", (c) => c.notNull())
          .addColumn("hour_start", "bigint", (c) => c.notNull())
          .addColumn("delivered", "integer", (c) => c.notNull())
          .addColumn("failed", "integer", (c) => c.notNull())
          .addPrimaryKeyConstraint("webhook_hourly_pk", ["webhook_id", "hour_start"])
          .execute();

        await serial("id")(db.schema.createTable("notifications"))
          .addColumn("workspace_id", "text", (c: any) => c.notNull())
          .addColumn("at", "bigint", (c: any) => c.notNull())
          .addColumn("to_address", "text", (c: any) => c.notNull())
          .addColumn("subject", "text", (c: any) => c.notNull())
          .addColumn("text", "text", (c: any) => c.notNull())
          .addColumn("delivered", "integer", (c: any) => c.notNull())
          .execute();
        await db.schema
          .createIndex("notifications_workspace")
          .on("notifications")
          .columns(["workspace_id", "id"])
          .execute();
      },
    },
    "0002_webhook_leases": {
      // One process consumes a webhook at a time when several share a PostgreSQL database.
      async up(db: Kysely<any>) {
        await db.schema.alterTable("webhooks").addColumn("lease_owner", "text").execute();
        await db.schema.alterTable("webhooks").addColumn("lease_until", "bigint").execute();
      },
    },
    "0003_inbound_events": {
      // What an authenticated gateway sent that could not be mapped to messages, kept (the
      // newest 1,000 per account) so that nothing is lost and it can be looked at.
      async up(db: Kysely<any>) {
        await serial("id")(db.schema.createTable("inbound_events"))
          .addColumn("workspace_id", "text", (c: any) => c.notNull())
          .addColumn("account_id", "text", (c: any) => c.notNull())
          .addColumn("source", "text", (c: any) => c.notNull())
          .addColumn("reason", "text", (c: any) => c.notNull())
          .addColumn("body", "text", (c: any) => c.notNull())
          .addColumn("received_at", "bigint", (c: any) => c.notNull())
          .execute();
        await db.schema
          .createIndex("inbound_events_account")
          .on("inbound_events")
          .columns(["account_id", "id"])
          .execute();
      },
    },
    "0004_webhook_previous_secret": {
      // A rotated signing secret stays valid for a grace period: deliveries are signed with both.
      async up(db: Kysely<any>) {
        await db.schema.alterTable("webhooks").addColumn("previous_secret", "text").execute();
        await db.schema.alterTable("webhooks").addColumn("previous_secret_until", "bigint").execute();
      },
    },
    "0005_cache_notify": {
      // Every process keeps API keys and accounts in memory (db/cache.ts). A change made by any
      // process, or by hand in psql, is announced at commit on `threadline_cache`, so the others
      // drop theirs within milliseconds. SQLite has one process: its own writes drop the cache.
      async up(db: Kysely<any>) {
        if (dialect !== "postgres") return;
        await sql`create function threadline_cache_changed() returns trigger language plpgsql as $$
          begin perform pg_notify('threadline_cache', tg_table_name); return null; end $$`.execute(db);
        for (const table of ["api_keys", "accounts", "teammates", "workspaces"]) {
          await sql`create trigger ${sql.raw(`${table}_cache_changed`)} after insert or update or delete or truncate on ${sql.table(table)}
            for each statement execute function threadline_cache_changed()`.execute(db);
        }
      },
    },
    "0006_delivery_view": {
      // The deliveries view (GET …/deliveries): a request log row says its chat (the filter),
      // whether it was a test event or a resend (neither counts toward the chart or the failure
      // rule), and when the consumer means to try again; an activity row names its log row.
      async up(db: Kysely<any>) {
        await db.schema.alterTable("webhook_requests").addColumn("chat_id", "text").execute();
        await db.schema
          .alterTable("webhook_requests")
          .addColumn("test", "integer", (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema
          .alterTable("webhook_requests")
          .addColumn("resend", "integer", (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.alterTable("webhook_requests").addColumn("next_retry_at", "bigint").execute();
        await db.schema.alterTable("webhook_activity").addColumn("request_id", "text").execute();
      },
    },
    "0007_webhook_filter": {
      // Which messages a webhook delivers (webhooks/filter.ts): JSON text, null for everything.
      async up(db: Kysely<any>) {
        await db.schema.alterTable("webhooks").addColumn("filter", "text").execute();
      },
    },
    "0008_send_queue": {
      // Sending WhatsApp messages from Threadline (src/sending): a send is stored first and
      // worked off by a sender per account; the capability URL's token is kept like an inbound URL's (shown again).
      async up(db: Kysely<any>) {
        await db.schema
          .createTable("send_queue")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("workspace_id", "text", (c) => c.notNull())
          .addColumn("account_id", "text", (c) => c.notNull())
          .addColumn("chat_id", "bigint", (c) => c.notNull())
          .addColumn("text", "text", (c) => c.notNull())
          .addColumn("teammate_id", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("error", "text")
          .addColumn("attempts", "integer", (c) => c.notNull())
          .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("sent_at", "bigint")
          .addColumn("message_id", "text")
          .addColumn("claimed_by", "text")
          .addColumn("claimed_until", "bigint")
          .execute();
        await db.schema.createIndex("send_queue_due").on("send_queue").columns(["status", "next_attempt_at"]).execute();
        await db.schema
          .createIndex("send_queue_account")
          .on("send_queue")
          .columns(["account_id", "status", "id"])
          .execute();
        await db.schema.createIndex("send_queue_chat").on("send_queue").columns(["chat_id", "created_at"]).execute();
        await db.schema.createIndex("send_queue_message").on("send_queue").column("message_id").execute();
        // The pause between an account's messages, shared by every process.
        await db.schema
          .createTable("send_pacing")
          .addColumn("account_id", "text", (c) => c.primaryKey())
          .addColumn("next_send_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("send_urls")
          .addColumn("workspace_id", "text", (c) => c.primaryKey())
          .addColumn("token", "text", (c) => c.notNull().unique())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema.alterTable("accounts").addColumn("send_pause_ms", "integer").execute();
      },
    },
    "0009_ui_time": {
      // Activity names the chat it is about; the Timeline orders chats by their last message's
      // time (not when it was stored), so the chats stored so far take it from their messages.
      async up(db: Kysely<any>) {
        await db.schema.alterTable("webhook_activity").addColumn("chat_id", "bigint").execute();
        await db.schema.alterTable("webhook_activity").addColumn("chat_name", "text").execute();
        await db.schema
          .createIndex("messages_chat_timestamp")
          .on("messages")
          .columns(["chat_id", "timestamp"])
          .execute();
        await sql`update chats set last_message_at = (select max(m.timestamp) from messages m where m.chat_id = chats.id)
          where exists (select 1 from messages m where m.chat_id = chats.id)`.execute(db);
      },
    },
    "0010_processes": {
      // Fair shares of the webhooks among processes (webhooks/leases.ts): a row per process with
      // its heartbeat; a webhook is held while its lease_owner's heartbeat is recent, so a
      // process renews one row, not one per webhook.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable("processes")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("started_at", "bigint", (c) => c.notNull())
          .addColumn("heartbeat_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("webhooks_lease_owner")
          .on("webhooks")
          .columns(["lease_owner", "enabled"])
          .execute();
      },
    },
    "0011_parked_deliveries": {
      // Deliveries that failed by an internal error (not the receiver's) and were set aside
      // instead of being retried forever: listed per webhook, sent again by hand.
      async up(db: Kysely<any>) {
        await serial("id")(db.schema.createTable("parked_deliveries"))
          .addColumn("webhook_id", "text", (c: any) => c.notNull())
          .addColumn("delivery_id", "text", (c: any) => c.notNull())
          .addColumn("chat_id", "text")
          .addColumn("message_id", "text")
          .addColumn("reason", "text", (c: any) => c.notNull())
          .addColumn("body", "text")
          .addColumn("parked_at", "bigint", (c: any) => c.notNull())
          .addUniqueConstraint("parked_deliveries_delivery", ["webhook_id", "delivery_id"])
          .execute();
      },
    },
    "0012_people": {
      // People sign in as themselves (issue 22): teammates get a role and a password hash;
      // browser sessions belong to a person (the key-opened ones are dropped: a key no longer
      // opens the UI); API keys get a name, who made them and a separate last-use row (so
      // using a key does not drop the key cache); one-time sign-in and reset tokens;
      // invitations; the audit log; who last changed a webhook and who made an activity row.
      async up(db: Kysely<any>) {
        await db.schema
          .alterTable("teammates")
          .addColumn("role", "text", (c) => c.notNull().defaultTo("member"))
          .execute();
        await db.schema.alterTable("teammates").addColumn("password_hash", "text").execute();
        await sql`update teammates set role = 'owner' where id in (select owner_teammate_id from workspaces)`.execute(
          db,
        );

        await db.schema
          .alterTable("api_keys")
          .addColumn("name", "text", (c) => c.notNull().defaultTo("Default key"))
          .execute();
        await db.schema.alterTable("api_keys").addColumn("created_by", "text").execute();
        await db.schema
          .createTable("api_key_uses")
          .addColumn("key_id", "text", (c) => c.primaryKey())
          .addColumn("last_used_at", "bigint", (c) => c.notNull())
          .execute();

        await db.schema.dropTable("sessions").execute();
        await db.schema
          .createTable("sessions")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("token_hash", "text", (c) => c.notNull().unique())
          .addColumn("workspace_id", "text", (c) => c.notNull())
          .addColumn("teammate_id", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .addColumn("user_agent", "text", (c) => c.notNull())
          .addColumn("address", "text", (c) => c.notNull())
          .addColumn("method", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("sessions_teammate").on("sessions").column("teammate_id").execute();

        await db.schema
          .createTable("one_time_tokens")
          .addColumn("token_hash", "text", (c) => c.primaryKey())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("workspace_id", "text", (c) => c.notNull())
          .addColumn("teammate_id", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("one_time_tokens_teammate").on("one_time_tokens").column("teammate_id").execute();

        await db.schema
          .createTable("invitations")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("workspace_id", "text", (c) => c.notNull())
          .addColumn("email", "text", (c) => c.notNull())
          .addColumn("full_name", "text", (c) => c.notNull())
          .addColumn("role", "text", (c) => c.notNull())
          .addColumn("token_hash", "text", (c) => c.notNull().unique())
          .addColumn("created_by", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("invitations_workspace")
          .on("invitations")
          .columns(["workspace_id", "email"])
          .execute();

        await serial("id")(db.schema.createTable("audit_log"))
          .addColumn("workspace_id", "text", (c: any) => c.notNull())
          .addColumn("at", "bigint", (c: any) => c.notNull())
          .addColumn("actor_type", "text", (c: any) => c.notNull())
          .addColumn("actor_id", "text", (c: any) => c.notNull())
          .addColumn("actor_name", "text", (c: any) => c.notNull())
          .addColumn("action", "text", (c: any) => c.notNull())
          .addColumn("object_type", "text", (c: any) => c.notNull())
          .addColumn("object_id", "text", (c: any) => c.notNull())
          .addColumn("before", "text")
          .addColumn("after", "text")
          .addColumn("address", "text")
          .execute();
        await db.schema.createIndex("audit_log_workspace").on("audit_log").columns(["workspace_id", "id"]).execute();

        await db.schema.alterTable("webhooks").addColumn("updated_by", "text").execute();
        await db.schema.alterTable("webhook_activity").addColumn("actor", "text").execute();
      },
    },
    "0013_contacts": {
      // One contact, one chat (ingest/identity.ts): the (hidden id, phone) pairs each account
      // has learned; the chats merged into others (their ids keep opening the survivor); where
      // a chat's name came from (a teammate's is never overwritten); each account's connection.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable("contact_ids")
          .addColumn("account_id", "text", (c) => c.notNull())
          .addColumn("hidden_id", "text", (c) => c.notNull())
          .addColumn("phone", "text", (c) => c.notNull())
          .addColumn("learned_at", "bigint", (c) => c.notNull())
          .addPrimaryKeyConstraint("contact_ids_pk", ["account_id", "hidden_id"])
          .execute();
        await db.schema
          .createTable("chat_aliases")
          .addColumn("old_chat_id", "bigint", (c) => c.primaryKey())
          .addColumn("chat_id", "bigint", (c) => c.notNull())
          .addColumn("workspace_id", "text", (c) => c.notNull())
          .addColumn("account_id", "text", (c) => c.notNull())
          .addColumn("external_id", "text", (c) => c.notNull())
          .addColumn("merged_at", "bigint", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("chat_aliases_chat").on("chat_aliases").column("chat_id").execute();
        await db.schema
          .alterTable("chats")
          .addColumn("name_source", "text", (c) => c.notNull().defaultTo(""))
          .execute();
        // Names stored so far came from gateways' push names or API clients: a push name's rank.
        await sql`update chats set name_source = 'push' where full_name <> phone and full_name <> external_id`.execute(
          db,
        );
        await db.schema.createIndex("chats_account_phone").on("chats").columns(["account_id", "phone"]).execute();
        await db.schema
          .createIndex("chats_account_activity")
          .on("chats")
          .columns(["account_id", "last_message_at"])
          .execute();
        await db.schema
          .createTable("account_connections")
          .addColumn("account_id", "text", (c) => c.primaryKey())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("since", "bigint", (c) => c.notNull())
          .addColumn("reason", "text")
          .addColumn("alerted_at", "bigint")
          .execute();
      },
    },
    "0014_retention": {
      // A workspace may keep its messages for a number of days (null: forever); old notifications go with them.
      async up(db: Kysely<any>) {
        await db.schema.alterTable("workspaces").addColumn("retention_days", "integer").execute();
        await db.schema
          .createIndex("notifications_workspace_at")
          .on("notifications")
          .columns(["workspace_id", "at"])
          .execute();
      },
    },
    "0015_activity_snippet": {
      // Activity rows show the delivered message's text, so rows that look alike can be told apart.
      async up(db: Kysely<any>) {
        await db.schema.alterTable("webhook_activity").addColumn("snippet", "text").execute();
      },
    },
    "0016_notification_columns": {
      // What an e-mail is about, in columns: the UI's banner finds a webhook's e-mails by
      // `webhook_id`, not by its id in the text. Kept e-mails are read back from their text once.
      async up(db: Kysely<any>) {
        await db.schema
          .alterTable("notifications")
          .addColumn("kind", "text", (c) => c.notNull().defaultTo("other"))
          .execute();
        await db.schema.alterTable("notifications").addColumn("webhook_id", "text").execute();
        await db.schema
          .createIndex("notifications_webhook")
          .on("notifications")
          .columns(["webhook_id", "id"])
          .execute();
        const kinds: [RegExp, string][] = [
          [/^Threadline: webhook .* is failing \(/, "webhook_warning"],
          [/^Threadline: webhook .* was disabled$/, "webhook_disabled"],
          [/^Threadline: WhatsApp account .* stopped receiving$/, "account_disconnected"],
          [/^Threadline: WhatsApp account .* is receiving again$/, "account_recovered"],
        ];
        const rows = (await db
          .selectFrom("notifications")
          .select(["id", "subject", "text"])
          .where("subject", "like", "Threadline: %")
          .execute()) as { id: number; subject: string; text: string }[];
        for (const r of rows) {
          const kind = kinds.find(([re]) => re.test(r.subject))?.[1];
          if (!kind) continue;
          const webhookId = kind.startsWith("webhook_") ? (/\(id (wh_[A-Za-z0-9]+)\)/.exec(r.text)?.[1] ?? null) : null;
          await db.updateTable("notifications").set({ kind, webhook_id: webhookId }).where("id", "=", r.id).execute();
        }
      },
    },
    "0017_deletion": {
      // Deleting an account or a workspace (src/deletion): marked first, so its inbound URL, keys
      // and sessions stop at once, then swept in batches. An account deleted without purging
      // keeps its row (marked) so that its chats and messages stay readable and deliverable.
      async up(db: Kysely<any>) {
        await db.schema.alterTable("accounts").addColumn("deleted_at", "bigint").execute();
        await db.schema
          .alterTable("accounts")
          .addColumn("purging", "integer", (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.alterTable("workspaces").addColumn("deleted_at", "bigint").execute();
      },
    },
    "0018_replays": {
      // Replays as jobs that can be followed, cancelled and resumed after a restart (one
      // running per webhook: a partial unique index), and the windows aggregated webhooks
      // sent (so a replay re-sends each one as it went out: same cut, same webhook-ids).
      async up(db: Kysely<any>) {
        await db.schema
          .createTable("webhook_replays")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("webhook_id", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("since", "bigint", (c) => c.notNull())
          .addColumn("until", "bigint", (c) => c.notNull())
          .addColumn("after_seq", "bigint", (c) => c.notNull())
          .addColumn("max_seq", "bigint", (c) => c.notNull())
          .addColumn("total", "integer", (c) => c.notNull())
          .addColumn("delivered", "integer", (c) => c.notNull())
          .addColumn("failed", "integer", (c) => c.notNull())
          .addColumn("position", "bigint", (c) => c.notNull())
          .addColumn("resume_delivered", "integer", (c) => c.notNull())
          .addColumn("resume_failed", "integer", (c) => c.notNull())
          .addColumn("reason", "text")
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("ended_at", "bigint")
          .addColumn("created_by", "text")
          .execute();
        await db.schema
          .createIndex("webhook_replays_webhook")
          .on("webhook_replays")
          .columns(["webhook_id", "created_at"])
          .execute();
        await db.schema
          .createIndex("webhook_replays_running")
          .on("webhook_replays")
          .column("webhook_id")
          .unique()
          .where(sql.ref("state"), "=", "running")
          .execute();
        await db.schema
          .createTable("webhook_windows")
          .addColumn("webhook_id", "text", (c) => c.notNull())
          .addColumn("window_end", "bigint", (c) => c.notNull())
          .addColumn("window_start", "bigint", (c) => c.notNull())
          .addColumn("after_seq", "bigint", (c) => c.notNull())
          .addColumn("max_seq", "bigint", (c) => c.notNull())
          .addColumn("time_zone", "text", (c) => c.notNull())
          .addColumn("aggregation", "text", (c) => c.notNull())
          .addColumn("epoch", "integer", (c) => c.notNull())
          .addPrimaryKeyConstraint("webhook_windows_pk", ["webhook_id", "window_end"])
          .execute();
        await db.schema
          .createIndex("webhook_windows_seq")
          .on("webhook_windows")
          .columns(["webhook_id", "max_seq"])
          .execute();
      },
    },
  };
}
