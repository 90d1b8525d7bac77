/**
 * One contact, one chat. WhatsApp addresses some contacts by a hidden id (`…@lid`; a Cloud
 * API username user by its user id) instead of their phone. Every (hidden id, phone) pair a
 * body reveals is remembered per account (`contact_ids`) and used for every later message that
 * carries only the hidden id; when a pair becomes known, the chat kept under the hidden id
 * takes the phone, or is merged into the chat that already has that phone (`mergeChats`).
 *
 * Runs before a batch joins its transaction (store.ts), and only for messages that carry a
 * hidden id: ordinary traffic pays nothing for it.
 */
import { sql } from "kysely";
import { isPostgres, type DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import { adapterFor } from "../sources/index.js";
import type { Checked } from "./parties.js";
import { betterName, type NameSource } from "./names.js";
import { E164 } from "../accounts/service.js";
import { moveQueuedSends } from "../sending/queue.js";

/** A contact's hidden id: a `…@lid` JID, or a Cloud API business-scoped user id (`US.1234…`). */
export function isHiddenId(id: string): boolean {
  return id.endsWith("@lid") || /^[A-Z]{2}\.[0-9A-Za-z]+$/.test(id);
}

/** Called once per merge (the metrics' `threadline_chats_merged_total`). */
/** Which of `hidden` (at most 1,000 looked at) the account already learned a phone for. */
export async function learnedHiddenIds(db: DB, accountId: string, hidden: string[]): Promise<Set<string>> {
  const rows = await db
    .selectFrom("contact_ids")
    .select("hidden_id")
    .where("account_id", "=", accountId)
    .where("hidden_id", "in", hidden.slice(0, 1000))
    .execute();
  return new Set(rows.map((r) => r.hidden_id));
}

export type MergeListener = () => void;

interface Pair {
  accountId: string;
  hidden: string;
  phone: string;
}

/**
 * Resolves the chats of a validated batch in place: a message with only a hidden id takes
 * the phone the account knows for it; a message that reveals a pair teaches it (merging chats
 * as needed); every message with a phone then goes to the chat that has that phone.
 */
export async function resolveIdentities(
  db: DB,
  clock: Clock,
  workspaceId: string,
  batch: Checked[],
  onMerged?: MergeListener,
): Promise<void> {
  const hidden = new Map<Checked, string>();
  /** Pairs revealed beside the chat's (a group participant's @lid and phone). */
  const revealed: Pair[] = [];
  for (const c of batch) {
    for (const i of c.msg.identities ?? []) {
      if (isHiddenId(i.hidden_id) && E164.test(i.phone))
        revealed.push({ accountId: c.account.id, hidden: i.hidden_id, phone: i.phone });
    }
    if (c.isGroup) continue;
    const h = [c.msg.chat.alias_id, c.msg.chat.external_id].find((id) => id !== undefined && isHiddenId(id));
    if (h) hidden.set(c, h);
  }
  if (hidden.size === 0 && revealed.length === 0) return;

  const byAccount = new Map<string, Set<string>>();
  const want = (accountId: string, h: string) => {
    let set = byAccount.get(accountId);
    if (!set) byAccount.set(accountId, (set = new Set()));
    set.add(h);
  };
  for (const [c, h] of hidden) want(c.account.id, h);
  for (const p of revealed) want(p.accountId, p.hidden);
  const known = new Map<string, string>();
  for (const [accountId, ids] of byAccount) {
    const rows = await db
      .selectFrom("contact_ids")
      .select(["hidden_id", "phone"])
      .where("account_id", "=", accountId)
      .where("hidden_id", "in", [...ids])
      .execute();
    for (const r of rows) known.set(`${accountId}\u0000${r.hidden_id}`, r.phone);
  }

  const toLearn = new Map<string, Pair>();
  for (const p of revealed) {
    const key = `${p.accountId}\u0000${p.hidden}`;
    if (known.get(key) !== p.phone) toLearn.set(key, p);
  }
  const fromMap: Pair[] = [];
  for (const [c, h] of hidden) {
    const key = `${c.account.id}\u0000${h}`;
    if (c.chatPhone) {
      if (known.get(key) !== c.chatPhone) toLearn.set(key, { accountId: c.account.id, hidden: h, phone: c.chatPhone });
    } else {
      const phone = known.get(key);
      if (phone) {
        c.chatPhone = phone;
        fromMap.push({ accountId: c.account.id, hidden: h, phone });
      }
    }
  }
  // A pair learned while its first message was being stored (a late lookup) can leave a chat
  // under the hidden id without the phone: it is given the phone now.
  for (const p of fromMap) {
    const stale = await db
      .selectFrom("chats")
      .select("id")
      .where("account_id", "=", p.accountId)
      .where("external_id", "=", p.hidden)
      .where("phone", "=", "")
      .executeTakeFirst();
    if (stale) toLearn.set(`${p.accountId}\u0000${p.hidden}`, p);
  }
  if (toLearn.size > 0) await learnPairs(db, clock, workspaceId, [...toLearn.values()], onMerged);

  // Every message of a known phone goes to the chat that has it (its id may be the hidden one).
  for (const [c] of hidden) {
    if (!c.chatPhone) continue;
    const ext = await chatIdForPhone(db, c.account.id, c.account.source, c.chatPhone, c.msg.chat.external_id);
    c.msg.chat.external_id = ext;
    c.msg.chat.phone = c.chatPhone;
    c.chatKey = `${c.account.id}\u0000${ext}`;
  }
}

/** The external id of the account's direct chat with `phone`, or the one a new chat with it gets. */
async function chatIdForPhone(
  db: DB,
  accountId: string,
  source: string,
  phone: string,
  given: string,
): Promise<string> {
  const row = await db
    .selectFrom("chats")
    .select("external_id")
    .where("account_id", "=", accountId)
    .where("phone", "=", phone)
    .where("is_group", "=", 0)
    .orderBy("id")
    .limit(1)
    .executeTakeFirst();
  if (row) return row.external_id;
  return phoneChatId(source, phone) ?? given;
}

/** The chat id a gateway gives a direct chat with a phone (undefined for the API source: its clients choose ids). */
function phoneChatId(source: string, phone: string): string | undefined {
  return adapterFor(source)?.directChatId(phone.replace(/^\+/, ""));
}

/**
 * Remembers pairs and makes each contact one chat: the chat kept under the hidden id takes
 * the phone (and the gateway's phone chat id), or, when a chat with that phone exists, is
 * merged into it. One transaction, under the workspace's log lock on PostgreSQL (no message
 * of the workspace is stored meanwhile).
 */
export async function learnPairs(
  db: DB,
  clock: Clock,
  workspaceId: string,
  pairs: Pair[],
  onMerged?: MergeListener,
): Promise<void> {
  let merged = 0;
  await db.transaction().execute(async (tx) => {
    if (isPostgres(db)) await sql`select pg_advisory_xact_lock(hashtext(${workspaceId}))`.execute(tx);
    const now = clock.now();
    for (const p of pairs) {
      await tx
        .insertInto("contact_ids")
        .values({ account_id: p.accountId, hidden_id: p.hidden, phone: p.phone, learned_at: now })
        .onConflict((oc) => oc.columns(["account_id", "hidden_id"]).doUpdateSet({ phone: p.phone, learned_at: now }))
        .execute();
      const hiddenChat = await tx
        .selectFrom("chats")
        .selectAll()
        .where("account_id", "=", p.accountId)
        .where("external_id", "=", p.hidden)
        .where("is_group", "=", 0)
        .executeTakeFirst();
      if (!hiddenChat) continue;
      const phoneChat = await tx
        .selectFrom("chats")
        .selectAll()
        .where("account_id", "=", p.accountId)
        .where("phone", "=", p.phone)
        .where("is_group", "=", 0)
        .where("id", "!=", hiddenChat.id)
        .orderBy("id")
        .limit(1)
        .executeTakeFirst();
      if (phoneChat) {
        await mergeChats(tx as unknown as DB, hiddenChat, phoneChat, now);
        merged++;
        continue;
      }
      // No chat has the phone yet: the hidden id's chat takes it, and the gateway's phone chat id
      // (so messages that name the phone find it), unless another chat holds that id.
      const source =
        (await tx.selectFrom("accounts").select("source").where("id", "=", p.accountId).executeTakeFirst())?.source ??
        "api";
      const ext = phoneChatId(source, p.phone);
      const taken = ext
        ? await tx
            .selectFrom("chats")
            .select("id")
            .where("account_id", "=", p.accountId)
            .where("external_id", "=", ext)
            .executeTakeFirst()
        : undefined;
      await tx
        .updateTable("chats")
        .set({
          phone: p.phone,
          ...(ext && !taken ? { external_id: ext } : {}),
          ...(hiddenChat.name_source === "" && hiddenChat.full_name === p.hidden ? { full_name: p.phone } : {}),
        })
        .where("id", "=", hiddenChat.id)
        .execute();
      await fillPhones(tx as unknown as DB, hiddenChat.id, p.phone);
    }
  });
  for (let i = 0; i < merged; i++) onMerged?.();
}

type ChatFull = {
  id: number;
  workspace_id: string;
  account_id: string;
  external_id: string;
  full_name: string;
  phone: string;
  responsible_teammate_id: string | null;
  last_message_at: number;
  created_at: number;
  name_source: string;
};

/**
 * `from` (the chat under the hidden id) becomes part of `into` (the chat with the phone):
 * messages and queued sends move, the responsible teammate is `into`'s if it has one, the
 * better name wins (names.ts), and `from`'s id becomes an alias that keeps opening `into`.
 * Aggregated webhooks read a window's chats from the log when it closes, so both chats'
 * messages of an open window go out as one bundle.
 */
async function mergeChats(db: DB, from: ChatFull, into: ChatFull, now: number): Promise<void> {
  await db.updateTable("messages").set({ chat_id: into.id }).where("chat_id", "=", from.id).execute();
  await moveQueuedSends(db, from.id, into.id);
  const name = betterName(
    { name: into.full_name, source: into.name_source as NameSource },
    { name: from.full_name === from.external_id ? "" : from.full_name, source: from.name_source as NameSource },
  );
  await db
    .updateTable("chats")
    .set({
      responsible_teammate_id: into.responsible_teammate_id ?? from.responsible_teammate_id,
      last_message_at: Math.max(into.last_message_at, from.last_message_at),
      full_name: name.name,
      name_source: name.source,
    })
    .where("id", "=", into.id)
    .execute();
  await fillPhones(db, into.id, into.phone);
  await db.updateTable("chat_aliases").set({ chat_id: into.id }).where("chat_id", "=", from.id).execute();
  await db
    .insertInto("chat_aliases")
    .values({
      old_chat_id: from.id,
      chat_id: into.id,
      workspace_id: from.workspace_id,
      account_id: from.account_id,
      external_id: from.external_id,
      merged_at: now,
    })
    .execute();
  await db.deleteFrom("chats").where("id", "=", from.id).execute();
}

/** Messages of a chat stored before its phone was known name the contact without it: they take it now. */
async function fillPhones(db: DB, chatId: number, phone: string): Promise<void> {
  await db
    .updateTable("messages")
    .set({ sender_phone: phone })
    .where("chat_id", "=", chatId)
    .where("direction", "=", "received")
    .where("sender_phone", "=", "")
    .execute();
  await db
    .updateTable("messages")
    .set({ recipient_phone: phone })
    .where("chat_id", "=", chatId)
    .where("direction", "=", "sent")
    .where("recipient_phone", "=", "")
    .execute();
}
