import { Type } from "typebox";
import type { App } from "../fastify-app.js";
import type { Threadline } from "../../app.js";
import { accountForInbound, sourceAccount, type AccountRow } from "../../accounts/service.js";
import { adapterFor, type SourceAdapter } from "../../sources/index.js";
import { SourceAuthError, SourceInputError } from "../../sources/types.js";
import { ApiError, notFound } from "../../errors.js";
import { recordInboundEvent } from "../../accounts/inbound-events.js";
import type { IngestMessage } from "../../ingest/types.js";
import { InFlight, quotaExceeded } from "../../workspaces/quotas.js";
import { internalReason } from "../../webhooks/parked.js";
import { isHiddenId } from "../../ingest/identity.js";
import { within } from "../../sources/limiter.js";

/** How long an inbound request waits for the gateway's answers (group subjects, phones) before going on without them. */
export const RECEIVE_CALLS_WAIT_MS = 2_000;

/**
 * A group chat seen for the first time takes its subject from the gateway's group-info call
 * (once: later messages find the chat named). Without an answer it is named by its id. The
 * calls go through the account's limiter (a few in flight, the rest queued or skipped), and
 * the request waits for them at most RECEIVE_CALLS_WAIT_MS in all.
 */
async function nameNewGroups(app: Threadline, adapter: SourceAdapter, row: AccountRow, messages: IngestMessage[]): Promise<void> {
  if (!adapter.groupSubject) return;
  const groups = [...new Set(messages.filter((m) => m.chat.is_group && !m.chat.full_name).map((m) => m.chat.external_id))];
  if (groups.length === 0) return;
  const known = new Set<string>();
  for (let i = 0; i < groups.length; i += 1000) {
    const rows = await app.db.selectFrom("chats").select("external_id").where("account_id", "=", row.id).where("external_id", "in", groups.slice(i, i + 1000)).execute();
    for (const r of rows) known.add(r.external_id);
  }
  const fresh = groups.filter((g) => !known.has(g));
  if (fresh.length === 0) return;
  const account = sourceAccount(row);
  const startBy = Date.now() + RECEIVE_CALLS_WAIT_MS;
  const subjects = new Map<string, string>();
  await within(
    Promise.all(
      fresh.map(async (g) => {
        const subject = await app.gateways.perAccount.run(row.id, () => adapter.groupSubject!(account, g, app.gateways), startBy);
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
async function lookUpHiddenIds(app: Threadline, adapter: SourceAdapter, row: AccountRow, messages: IngestMessage[]): Promise<void> {
  if (!adapter.lookupPhone) return;
  const hidden = [...new Set(messages.filter((m) => !m.chat.is_group && !m.chat.phone && isHiddenId(m.chat.external_id)).map((m) => m.chat.external_id))];
  if (hidden.length === 0) return;
  const knownRows = await app.db.selectFrom("contact_ids").select("hidden_id").where("account_id", "=", row.id).where("hidden_id", "in", hidden.slice(0, 1000)).execute();
  const known = new Set(knownRows.map((r) => r.hidden_id));
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
        const phone = await app.gateways.perAccount.run(row.id, () => adapter.lookupPhone!(account, h, app.gateways), startBy);
        if (!phone) return;
        if (waiting) phones.set(h, phone);
        else await app.learnContact(row.workspace_id, { accountId: row.id, hidden: h, phone }).catch((err) => app.log.warn({ err, account: row.id }, "remembering a looked-up phone failed"));
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
async function nameGroupSenders(app: Threadline, accountId: string, messages: IngestMessage[]): Promise<void> {
  const unnamed = messages.filter((m) => m.chat.is_group && m.direction === "received" && BARE_PHONE.test(m.sender?.full_name ?? ""));
  if (unnamed.length === 0) return;
  const phones = [...new Set(unnamed.map((m) => m.sender!.full_name!))];
  const rows = await app.db
    .selectFrom("chats")
    .select(["phone", "full_name"])
    .where("account_id", "=", accountId)
    .where("is_group", "=", 0)
    .where("phone", "in", phones)
    .execute();
  const names = new Map(rows.filter((r) => r.full_name && r.full_name !== r.phone).map((r) => [r.phone, r.full_name]));
  for (const m of unnamed) {
    const name = names.get(m.sender!.full_name!);
    if (name) m.sender = { ...m.sender, full_name: name };
  }
}

export const INBOUND_BODY_LIMIT = 1024 * 1024;

/**
 * The query as single strings. A repeated parameter (`?a=1&a=2`) arrives as an array; it is
 * ambiguous, so the adapter sees it as absent (a repeated hub.verify_token is refused, not a 500).
 */
function singleValues(query: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) out[k] = typeof v === "string" ? v : undefined;
  return out;
}

/** Gateways post here (`inbound_url`): the path token picks the account, the source checks its own signature. */
export function inboundRoutes(app: Threadline) {
  return async (f: App) => {
    // Signatures are over the exact bytes: keep the raw body in this scope.
    f.removeAllContentTypeParsers();
    f.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: INBOUND_BODY_LIMIT }, (_req, body, done) => done(null, body));

    const Params = Type.Object({ source: Type.String(), token: Type.String() });
    // Before the body is read: the path token must name an account (else it counts as a failed
    // authentication), and its workspace must have room for one more request in flight.
    const inFlight = new InFlight(app.config.quotas.inboundInFlight);
    f.addHook("onRequest", async (req) => {
      const { source, token } = req.params as { source: string; token: string };
      const row = adapterFor(source) ? await accountForInbound(app.db, source, token) : undefined;
      if (!row) {
        req.server.authFailures.failed(req);
        throw notFound("The inbound URL");
      }
      if (!inFlight.enter(row.workspace_id)) throw quotaExceeded("inboundInFlight", app.config.quotas);
      (req as { inboundAccount?: AccountRow }).inboundAccount = row;
    });
    // Once answered, or abandoned by the client: the request leaves its workspace's count.
    const leave = async (req: { inboundAccount?: AccountRow; inboundLeft?: boolean }) => {
      if (!req.inboundAccount || req.inboundLeft) return;
      req.inboundLeft = true;
      inFlight.leave(req.inboundAccount.workspace_id);
    };
    f.addHook("onResponse", (req) => leave(req as never));
    f.addHook("onRequestAbort", (req) => leave(req as never));
    const handler = async (req: any, reply: any) => {
      const { source } = req.params as { source: string };
      const adapter = adapterFor(source)!;
      const row = (req as { inboundAccount: AccountRow }).inboundAccount;
      const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let outcome;
      try {
        outcome = adapter.handleInbound(sourceAccount(row), {
          method: req.method as "GET" | "POST",
          query: singleValues(req.query),
          headers: req.headers,
          rawBody,
        });
      } catch (e) {
        // Only a failed authentication and a body that is not JSON at all are refused.
        if (e instanceof SourceAuthError) {
          req.server.authFailures.failed(req);
          throw new ApiError("UNAUTHORIZED", e.message);
        }
        if (e instanceof SourceInputError) throw new ApiError("VALIDATION_ERROR", e.message, e.field);
        // A fault of the mapping (a bug, a shape no adapter expected): this event alone fails,
        // kept as unrecognised with the reason, answered 200 so the gateway does not send it forever.
        app.log.error({ err: e, account: row.id, source }, "mapping an inbound event failed; kept as unrecognised");
        outcome = { kind: "messages" as const, messages: [], unrecognised: [`Threadline could not read this event (${internalReason(e)}).`] };
      }
      if (outcome.kind === "reply") return reply.status(outcome.status).type(outcome.contentType).send(outcome.body);

      // Authenticated from here on: the event is stored or answered 2xx, never refused.
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
          body: rawBody.toString("utf8"),
          at: app.clock.now(),
        });
        app.metrics.unrecognised.inc({ source });
        app.log.warn({ account: row.id, source, reason: unrecognised.join("; ") }, "stored an unrecognised inbound event");
      }
      return { ok: true, ...summary, unrecognised: unrecognised.length };
    };
    f.get("/inbound/:source/:token", { config: { auth: "public" }, schema: { hide: true, params: Params } }, handler);
    f.post("/inbound/:source/:token", { config: { auth: "public" }, schema: { hide: true, params: Params } }, handler);
  };
}
