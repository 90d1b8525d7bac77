/**
 * Receiving a gateway's request at an inbound URL, once its path token named the account:
 * the adapter verifies and maps it; group chats seen for the first time are named, hidden ids
 * looked up, unnamed group senders named from the account's contacts; the messages are
 * ingested (one message ingest refuses never drops the others); what could not be read is
 * kept as an unrecognised inbound event. The route (`http/routes/inbound.ts`) only renders
 * the outcome.
 */
import type { DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import { sourceAccount, type AccountRow } from "../accounts/service.js";
import { recordInboundEvent } from "../accounts/inbound-events.js";
import type { InboundAnswer } from "../accounts/schemas.js";
import { ApiError } from "../errors.js";
import { isHiddenId, learnedHiddenIds } from "../ingest/identity.js";
import type { IngestMessage, IngestSummary } from "../ingest/types.js";
import { directChatNames, knownChats } from "../timeline/service.js";
import { internalReason } from "../webhooks/parked.js";
import type { GatewayHttp } from "./gateway-http.js";
import { within } from "./limiter.js";
import {
  SourceAuthError,
  SourceInputError,
  type ConnectionReport,
  type InboundRequest,
  type SourceAdapter,
} from "./types.js";

/** How long an inbound request waits for the gateway's answers (group subjects, phones) before going on without them. */
export const RECEIVE_CALLS_WAIT_MS = 2_000;

/** What receiving needs of the app (the `Threadline` object has all of it). */
export interface ReceiveDeps {
  db: DB;
  clock: Clock;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  gateways: GatewayHttp;
  connections: { record(row: AccountRow, report: ConnectionReport): Promise<void> };
  ingest(workspaceId: string, messages: IngestMessage[]): Promise<IngestSummary>;
  learnContact(workspaceId: string, pair: { accountId: string; hidden: string; phone: string }): Promise<void>;
  metrics: { unrecognised: { inc(labels: { source: string }): void } };
}

/** The answer: the adapter's own (a verification challenge), or what was stored. */
export type Received =
  { kind: "reply"; status: number; contentType: string; body: string } | { kind: "stored"; answer: InboundAnswer };

/**
 * A group chat seen for the first time takes its subject from the gateway's group-info call
 * (once: later messages find the chat named). Without an answer it is named by its id. The
 * calls go through the account's limiter (a few in flight, the rest queued or skipped), and
 * the request waits for them at most RECEIVE_CALLS_WAIT_MS in all.
 */
async function nameNewGroups(
  app: ReceiveDeps,
  adapter: SourceAdapter,
  row: AccountRow,
  messages: IngestMessage[],
): Promise<void> {
  if (!adapter.groupSubject) return;
  const groups = [
    ...new Set(messages.filter((m) => m.chat.is_group && !m.chat.full_name).map((m) => m.chat.external_id)),
  ];
  if (groups.length === 0) return;
  const known = await knownChats(app.db, row.id, groups);
  const fresh = groups.filter((g) => !known.has(g));
  if (fresh.length === 0) return;
  const account = sourceAccount(row);
  const startBy = Date.now() + RECEIVE_CALLS_WAIT_MS;
  const subjects = new Map<string, string>();
  await within(
    Promise.all(
      fresh.map(async (g) => {
        const subject = await app.gateways.perAccount.run(
          row.id,
          () => adapter.groupSubject!(account, g, app.gateways),
          startBy,
        );
        if (subject) subjects.set(g, subject);
      }),
    ),
    RECEIVE_CALLS_WAIT_MS,
  );
  for (const m of messages) {
    const subject = subjects.get(m.chat.external_id);
    if (subject) m.chat.full_name = subject;
  }
}

/** Hidden ids this process asked a gateway about lately (account + id → when): each is asked once an hour at most. */
const asked = new Map<string, number>();
const ASK_AGAIN_MS = 3600_000;

/**
 * A direct chat known only by a hidden id (`…@lid`) that the account has not learned a phone
 * for: its phone is asked through the gateway (once), through the account's limiter. An
 * answer within RECEIVE_CALLS_WAIT_MS goes with the message (ingest remembers the pair); a
 * later one is remembered when it comes (the chat takes the phone then). No answer: the chat
 * stays by its hidden id until a body or a later lookup tells the phone.
 */
async function lookUpHiddenIds(
  app: ReceiveDeps,
  adapter: SourceAdapter,
  row: AccountRow,
  messages: IngestMessage[],
): Promise<void> {
  if (!adapter.lookupPhone) return;
  const hidden = [
    ...new Set(
      messages
        .filter((m) => !m.chat.is_group && !m.chat.phone && isHiddenId(m.chat.external_id))
        .map((m) => m.chat.external_id),
    ),
  ];
  if (hidden.length === 0) return;
  const known = await learnedHiddenIds(app.db, row.id, hidden);
  const now = Date.now();
  const toAsk = hidden.filter((h) => !known.has(h) && now - (asked.get(`${row.id}\u0000${h}`) ?? 0) > ASK_AGAIN_MS);
  if (toAsk.length === 0) return;
  if (asked.size > 10_000) asked.clear();
  const account = sourceAccount(row);
  const startBy = now + RECEIVE_CALLS_WAIT_MS;
  const phones = new Map<string, string>();
  let waiting = true;
  await within(
    Promise.all(
      toAsk.map(async (h) => {
        asked.set(`${row.id}\u0000${h}`, now);
        const phone = await app.gateways.perAccount.run(
          row.id,
          () => adapter.lookupPhone!(account, h, app.gateways),
          startBy,
        );
        if (!phone) return;
        if (waiting) phones.set(h, phone);
        else
          await app
            .learnContact(row.workspace_id, { accountId: row.id, hidden: h, phone })
            .catch((err: unknown) => app.log.warn({ err, account: row.id }, "remembering a looked-up phone failed"));
      }),
    ),
    RECEIVE_CALLS_WAIT_MS,
  );
  waiting = false;
  for (const m of messages) {
    const phone = phones.get(m.chat.external_id);
    if (phone && !m.chat.is_group && !m.chat.phone) m.chat.phone = phone;
  }
}

const BARE_PHONE = /^\+\d{7,15}$/;

/**
 * A group participant the gateway gave no name for is named by its phone: when the account
 * has a direct chat with that phone under a real name (a stored contact), that name is used.
 */
async function nameGroupSenders(app: ReceiveDeps, accountId: string, messages: IngestMessage[]): Promise<void> {
  const unnamed = messages.filter(
    (m) => m.chat.is_group && m.direction === "received" && BARE_PHONE.test(m.sender?.full_name ?? ""),
  );
  if (unnamed.length === 0) return;
  const names = await directChatNames(app.db, accountId, [...new Set(unnamed.map((m) => m.sender!.full_name!))]);
  for (const m of unnamed) {
    const name = names.get(m.sender!.full_name!);
    if (name) m.sender = { ...m.sender, full_name: name };
  }
}

/**
 * Receives one request of `row`'s gateway. Throws SourceAuthError (a failed authentication)
 * and ApiError VALIDATION_ERROR (a body that is not JSON at all): the only refusals. Once
 * authenticated the event is stored or answered 2xx, never refused: a fault of the mapping
 * keeps it as unrecognised with the reason, so the gateway does not send it again forever.
 */
export async function receiveInbound(
  app: ReceiveDeps,
  adapter: SourceAdapter,
  row: AccountRow,
  request: InboundRequest,
): Promise<Received> {
  const source = row.source;
  let outcome;
  try {
    outcome = adapter.handleInbound(sourceAccount(row), request);
  } catch (e) {
    if (e instanceof SourceAuthError) throw e;
    if (e instanceof SourceInputError) throw new ApiError("VALIDATION_ERROR", e.message, e.field);
    app.log.error({ err: e, account: row.id, source }, "mapping an inbound event failed; kept as unrecognised");
    outcome = {
      kind: "messages" as const,
      messages: [],
      unrecognised: [`Threadline could not read this event (${internalReason(e)}).`],
    };
  }
  if (outcome.kind === "reply") return outcome;

  const unrecognised = [...(outcome.unrecognised ?? [])];
  const summary = { accepted: 0, duplicates: 0, skipped: 0 };
  const add = (r: { accepted: number; duplicates: number; skipped: number }) => {
    summary.accepted += r.accepted;
    summary.duplicates += r.duplicates;
    summary.skipped += r.skipped;
  };
  if (outcome.connection) await app.connections.record(row, outcome.connection);
  const messages = outcome.messages;
  if (messages.length > 0) {
    await nameGroupSenders(app, row.id, messages);
    await Promise.all([nameNewGroups(app, adapter, row, messages), lookUpHiddenIds(app, adapter, row, messages)]);
    const ingest = (list: IngestMessage[]) => app.ingest(row.workspace_id, list);
    try {
      add(await ingest(messages));
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== "VALIDATION_ERROR") throw e;
      // One message ingest refuses never drops the others of the same notification.
      for (const m of messages) {
        try {
          add(await ingest([m]));
        } catch (e2) {
          if (!(e2 instanceof ApiError) || e2.code !== "VALIDATION_ERROR") throw e2;
          unrecognised.push(`message ${m.external_id}: ${e2.message.replace(/^messages\[0\]\./, "")}`);
        }
      }
    }
  }
  if (unrecognised.length > 0) {
    await recordInboundEvent(app.db, {
      workspaceId: row.workspace_id,
      accountId: row.id,
      source,
      reason: unrecognised.join("; "),
      body: request.rawBody.toString("utf8"),
      at: app.clock.now(),
    });
    app.metrics.unrecognised.inc({ source });
    app.log.warn({ account: row.id, source, reason: unrecognised.join("; ") }, "stored an unrecognised inbound event");
  }
  return { kind: "stored", answer: { ok: true, ...summary, unrecognised: unrecognised.length } };
}
