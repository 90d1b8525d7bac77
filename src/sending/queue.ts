import type { Selectable } from "kysely";
import type { DB, Database } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import { monotonicUlids } from "../db/ids.js";
import { invalid, notFound } from "../errors.js";
import { E164, listAccounts, type AccountRow } from "../accounts/service.js";
import { adapterFor } from "../sources/index.js";
import { openDirectChat } from "../ingest/store.js";
import { getChat, getMessage, messageView, type ChatRow, type MessageRow } from "../timeline/service.js";
import { getWorkspace } from "../workspaces/service.js";
import { findTeammateByEmail } from "../workspaces/teammates.js";

/** What `POST /api/v1/messages/send` and the capability URL take. */
export interface SendInput {
  account_phone?: string;
  phone?: string;
  chat_id?: string;
  text: string;
  teammate_email?: string;
}

export type SendStatus = "queued" | "sent" | "failed";
export type QueueRow = Selectable<Database["send_queue"]>;

/** "+972 50-000 0001", "972500000001" → "+972500000001"; undefined when it is not a phone number. */
export function normalizePhone(raw: string): string | undefined {
  const compact = raw.trim().replace(/[\s\-().]/g, "");
  const phone = compact.startsWith("+") ? compact : `+${compact}`;
  return E164.test(phone) ? phone : undefined;
}

/** The chat id a gateway gives a direct chat with `phone`; the `api` source uses the JID form its docs show. */
export function directChatId(source: string, phone: string): string {
  const digits = phone.slice(1);
  return adapterFor(source)?.directChatId(digits) ?? `${digits}@s.whatsapp.net`;
}

async function accountFor(db: DB, workspaceId: string, accountPhone: string | undefined): Promise<AccountRow> {
  const accounts = await listAccounts(db, workspaceId);
  if (accountPhone !== undefined) {
    const phone = normalizePhone(accountPhone);
    const found = phone && accounts.find((a) => a.phone === phone);
    if (!found) throw invalid("account_phone", `no WhatsApp account ${accountPhone} is connected in this workspace.`);
    return found;
  }
  if (accounts.length === 1) return accounts[0]!;
  if (accounts.length === 0)
    throw invalid("account_phone", "no WhatsApp account is connected in this workspace; connect one first.");
  throw invalid(
    "account_phone",
    `is required: this workspace has ${accounts.length} accounts (${accounts.map((a) => a.phone).join(", ")}); name the one to send from.`,
  );
}

/** The account's direct chat with `phone`, created (without messages) when there is none yet. */
async function directChat(
  db: DB,
  clock: Clock,
  account: AccountRow,
  phone: string,
  messageId: string,
): Promise<ChatRow> {
  const externalId = directChatId(account.source, phone);
  const find = () =>
    db
      .selectFrom("chats")
      .select("id")
      .where("account_id", "=", account.id)
      .where("is_group", "=", 0)
      .where((eb) => eb.or([eb("external_id", "=", externalId), eb("phone", "=", phone)]))
      .orderBy("id")
      .limit(1)
      .executeTakeFirst();
  let row = await find();
  if (!row) {
    await openDirectChat(db, clock.now(), {
      workspace_id: account.workspace_id,
      account_id: account.id,
      external_id: externalId,
      phone,
      created_by_message_id: messageId,
    });
    row = await find();
  }
  return getChat(db, account.workspace_id, String(row!.id));
}

/** Two chats of one contact merged (ingest/identity.ts, inside its transaction): the sends queued in `from` follow. */
export async function moveQueuedSends(tx: DB, fromChatId: number, intoChatId: number): Promise<void> {
  await tx.updateTable("send_queue").set({ chat_id: intoChatId }).where("chat_id", "=", fromChatId).execute();
}

/**
 * Validates a send and stores it in the queue (status `queued`); the account's sender takes
 * it from there. Answers the new row and its account (to wake that account's sender).
 */
/** Queue ids in the order the sends were asked, two in one millisecond included (the queue sends oldest id first). */
const sendId = monotonicUlids();

/** `sender`: the signed-in person who sends (the UI); otherwise `teammate_email`, or the workspace's owner. */
export async function enqueueSend(
  db: DB,
  clock: Clock,
  workspaceId: string,
  input: SendInput,
  sender?: string,
): Promise<{ id: string; accountId: string }> {
  if (typeof input.text !== "string" || !input.text.trim()) throw invalid("text", "is required and must not be empty.");
  const hasPhone = input.phone !== undefined && input.phone !== "";
  const hasChat = input.chat_id !== undefined && input.chat_id !== "";
  if (!hasPhone && !hasChat)
    throw invalid("phone", "is required: give the phone number to send to (E.164, +972500000000) or a chat_id.");
  if (hasPhone && hasChat) throw invalid("chat_id", "give either phone or chat_id, not both.");
  let teammateId = sender ?? (await getWorkspace(db, workspaceId)).owner.id;
  if (!sender && input.teammate_email) {
    const t = await findTeammateByEmail(db, workspaceId, input.teammate_email);
    if (!t) throw invalid("teammate_email", `no teammate with e-mail ${input.teammate_email} in this workspace.`);
    teammateId = t.id;
  }
  const now = clock.now();
  const id = sendId(now);
  let chat: ChatRow;
  let account: AccountRow;
  if (hasChat) {
    chat = await getChat(db, workspaceId, input.chat_id!).catch(() => {
      throw invalid("chat_id", `no chat ${input.chat_id} in this workspace.`);
    });
    account = await accountFor(db, workspaceId, input.account_phone ?? chat.account_phone);
    if (account.id !== chat.account_id)
      throw invalid("account_phone", `chat ${input.chat_id} belongs to the account ${chat.account_phone}.`);
  } else {
    const phone = normalizePhone(input.phone!);
    if (!phone)
      throw invalid("phone", `"${input.phone}" is not a phone number in international form such as +972500000000.`);
    account = await accountFor(db, workspaceId, input.account_phone);
    if (phone === account.phone) throw invalid("phone", "is the account's own number.");
    chat = await directChat(db, clock, account, phone, id);
  }
  await db
    .insertInto("send_queue")
    .values({
      id,
      workspace_id: workspaceId,
      account_id: account.id,
      chat_id: chat.id,
      text: input.text,
      teammate_id: teammateId,
      status: "queued",
      error: null,
      attempts: 0,
      next_attempt_at: now,
      created_at: now,
      sent_at: null,
      message_id: null,
      claimed_by: null,
      claimed_until: null,
    })
    .execute();
  return { id, accountId: account.id };
}

type LogMessageView = ReturnType<typeof messageView>;
/** A message as the API shows it, with how sending it from Threadline went (null: not sent that way). */
export type MessageWithSend = Omit<LogMessageView, "permalink" | "status"> & {
  permalink: string | null;
  status: string;
  send_status: SendStatus | null;
  send_error: string | null;
};

/** A queued or failed send: not in the log (no permalink, status `pending`). */
async function pendingView(db: DB, row: QueueRow): Promise<MessageWithSend> {
  const chat = await getChat(db, row.workspace_id, String(row.chat_id));
  const sender = await db
    .selectFrom("teammates as t")
    .select("t.full_name")
    .where("t.id", "=", row.teammate_id)
    .executeTakeFirst();
  return {
    message_id: row.id,
    direction: "sent",
    timestamp: new Date(row.created_at).toISOString(),
    type: "text",
    text: row.text,
    sender: { full_name: sender?.full_name ?? "", phone: chat.is_group === 1 ? "" : chat.account_phone },
    recipient: { full_name: chat.full_name, phone: chat.phone },
    permalink: null,
    status: "pending",
    send_status: row.status as SendStatus,
    send_error: row.error,
  };
}

/** The log's messages with the send status of those sent from Threadline. */
export async function withSendStatus(db: DB, rows: MessageRow[], publicUrl: string): Promise<MessageWithSend[]> {
  const ids = rows.map((m) => m.id);
  const sent = new Set(
    ids.length === 0
      ? []
      : (await db.selectFrom("send_queue").select("message_id").where("message_id", "in", ids).execute()).map(
          (r) => r.message_id,
        ),
  );
  return rows.map((m) => ({
    ...messageView(m, publicUrl),
    send_status: sent.has(m.id) ? "sent" : null,
    send_error: null,
  }));
}

/** `GET /api/v1/messages/{id}`: a queued or failed send, or a message of the log. */
export async function getMessageWithSend(
  db: DB,
  workspaceId: string,
  id: string,
  publicUrl: string,
): Promise<MessageWithSend> {
  const queued = await db
    .selectFrom("send_queue")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .where("id", "=", id)
    .executeTakeFirst();
  if (queued && queued.status !== "sent") return pendingView(db, queued);
  const logId = queued?.message_id ?? id;
  const row = await getMessage(db, workspaceId, logId).catch(() => undefined);
  if (!row) throw notFound("The message");
  return (await withSendStatus(db, [row], publicUrl))[0]!;
}

/** The chat's sends still queued or failed (shown after its messages, oldest first). */
export async function pendingSends(db: DB, chatId: number): Promise<MessageWithSend[]> {
  const rows = await db
    .selectFrom("send_queue")
    .selectAll()
    .where("chat_id", "=", chatId)
    .where("status", "in", ["queued", "failed"])
    .orderBy("created_at")
    .orderBy("id")
    .limit(200)
    .execute();
  return Promise.all(rows.map((r) => pendingView(db, r)));
}
