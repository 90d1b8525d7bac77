// A workspace as tests use it through the public API: its account, webhook, messages in,
// and what the API answers about them. One helper for each thing.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { assertSigned } from "./contract.js";
import { createWorkspace, TestServer, WAIT_MS, waitFor, type Database } from "./server.js";
import { Receiver, type ReceivedRequest } from "./receiver.js";

export interface WebhookRef {
  id: string;
  secret: string;
  url: string;
}

export interface Space {
  key: string;
  workspace: Awaited<ReturnType<typeof createWorkspace>>;
  owner: { id: string; full_name: string; email: string };
  accountId: string;
  phone: string;
  webhook?: WebhookRef;
}

export interface SpaceOptions {
  phone?: string;
  owner?: { full_name: string; email: string };
  name?: string;
  timezone?: string;
  /** A webhook to this receiver (or URL), unaggregated unless `aggregation` says otherwise. */
  receiver?: Receiver;
  webhookUrl?: string;
  aggregation?: string;
}

let spaces = 0;
/** A workspace with one `api` account (owned by the workspace owner) and, optionally, a webhook. */
export async function space(
  server: TestServer,
  opts: SpaceOptions & ({ receiver: Receiver } | { webhookUrl: string }),
): Promise<Space & { webhook: WebhookRef }>;
export async function space(server: TestServer, opts?: SpaceOptions): Promise<Space>;
export async function space(server: TestServer, opts: SpaceOptions = {}): Promise<Space> {
  const n = ++spaces;
  const workspace = await createWorkspace(server, {
    ...(opts.owner ? { owner: opts.owner } : {}),
    ...(opts.name ? { name: opts.name } : {}),
    ...(opts.timezone ? { timezone: opts.timezone } : {}),
  });
  const key = workspace.api_key;
  const phone = opts.phone ?? `+97250${String(process.pid % 1000).padStart(3, "0")}${String(n).padStart(4, "0")}`;
  const acc = await server.api("POST", "/api/v1/accounts", {
    token: key,
    body: { phone, owner_email: workspace.owner.email, source: "api" },
  });
  assert.equal(acc.status, 201, acc.text);
  const s: Space = { key, workspace, owner: workspace.owner, accountId: acc.json.id, phone };
  const url = opts.webhookUrl ?? opts.receiver?.url;
  if (url) s.webhook = await createWebhook(server, key, url, opts.aggregation ? { aggregation: opts.aggregation } : {});
  return s;
}

export async function createWebhook(
  server: TestServer,
  key: string,
  url: string,
  settings: Record<string, unknown> = {},
): Promise<WebhookRef> {
  const r = await server.api("POST", "/api/v1/webhooks", { token: key, body: { url, ...settings } });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.id, secret: r.json.secret, url };
}

export interface Entry {
  account_phone: string;
  chat: { external_id: string; full_name?: string; is_group?: boolean; phone?: string };
  external_id: string;
  direction: "received" | "sent";
  timestamp: string | number;
  type: string;
  text?: string;
  sender?: { full_name?: string; phone?: string };
  recipient?: { full_name?: string; phone?: string };
}

let entries = 0;
/** A direct-chat text message from `contact` (a phone without "+", named "Contact {contact}" unless `name`). */
export function entry(s: Pick<Space, "phone">, over: Partial<Entry> & { contact?: string; name?: string } = {}): Entry {
  const { contact = "972540000000", name = `Contact ${contact}`, ...rest } = over;
  const n = ++entries;
  return {
    account_phone: s.phone,
    chat: { external_id: `${contact}@s.whatsapp.net`, full_name: name, is_group: false, phone: `+${contact}` },
    external_id: `wamid.${process.pid}.${Date.now().toString(36)}.${n}`,
    direction: "received",
    timestamp: "2021-02-24T16:25:29Z",
    type: "text",
    text: `message ${n}`,
    ...rest,
  };
}

/** The contact of chat number `n` in tests that number their chats. */
export const contactNo = (n: number) => `97254000${String(n).padStart(4, "0")}`;

/** One text message per `[chat number, text]`, in order, sent now. */
export function texts(s: Pick<Space, "phone">, items: [chat: number, text: string][]): Entry[] {
  return items.map(([chat, text]) =>
    entry(s, { contact: contactNo(chat), text, timestamp: Math.floor(Date.now() / 1000) }),
  );
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  skipped: number;
  results: { status: string; message_id: string }[];
}

/** `POST /api/v1/messages`, asserting 202. */
export async function ingest(
  server: TestServer,
  s: string | Pick<Space, "key">,
  messages: unknown[],
): Promise<IngestResult> {
  const r = await server.api("POST", "/api/v1/messages", {
    token: typeof s === "string" ? s : s.key,
    body: { messages },
  });
  assert.equal(r.status, 202, r.text);
  return r.json as IngestResult;
}

/** The message ids of an ingest answer, in order. */
export const idsOf = (r: IngestResult): string[] => r.results.map((x) => x.message_id);

export interface WebhookView {
  id: string;
  url: string;
  enabled: boolean;
  aggregation: string;
  consecutive_failures: number;
  disabled_reason: string | null;
}

export async function getWebhook(server: TestServer, key: string, id: string): Promise<WebhookView> {
  const r = await server.api("GET", `/api/v1/webhooks/${id}`, { token: key });
  assert.equal(r.status, 200, r.text);
  return r.json as WebhookView;
}

export interface LogEntry {
  delivery_id: string;
  attempt: number;
  at: string;
  duration_ms: number;
  request: { url: string; headers: Record<string, string>; body: string };
  response: { status: number } | null;
  error: { code: string; message: string } | null;
}

export async function getLog(server: TestServer, key: string, id: string): Promise<LogEntry[]> {
  const r = await server.api("GET", `/api/v1/webhooks/${id}/log`, { token: key });
  assert.equal(r.status, 200, r.text);
  return r.json as LogEntry[];
}

export async function notifications(server: TestServer, key: string) {
  const r = await server.api("GET", "/api/v1/notifications", { token: key });
  assert.equal(r.status, 200, r.text);
  return r.json.items as { id: string; at: string; to: string; subject: string; text: string; delivered: boolean }[];
}

/** Waits until the webhook's consecutive error count is `n` (the attempt happened and was counted). */
export async function waitFailures(
  server: TestServer,
  key: string,
  id: string,
  n: number,
  timeoutMs = WAIT_MS,
): Promise<WebhookView> {
  return waitFor(
    async () => {
      const v = await getWebhook(server, key, id);
      return v.consecutive_failures === n ? v : undefined;
    },
    `${n} consecutive failures`,
    timeoutMs,
  );
}

/** The requests a receiver got for one message id (unaggregated payloads). */
export function deliveriesOf(receiver: Receiver, messageId: string): ReceivedRequest[] {
  return receiver.requests.filter((r) => r.messageId === messageId);
}

export async function waitForDelivery(
  receiver: Receiver,
  messageId: string,
  timeoutMs = WAIT_MS,
): Promise<ReceivedRequest> {
  return waitFor(() => deliveriesOf(receiver, messageId)[0], `delivery of ${messageId}`, timeoutMs);
}

/**
 * The standard error body `{error: {code, message}}` with `status`; when given, its `code`,
 * and a message that names `field`. Answers the error.
 */
export function assertError(
  r: { status: number; json: any; text: string },
  status: number | ((s: number) => boolean),
  code?: string,
  field?: string,
): { code: string; message: string; field?: string } {
  if (typeof status === "number") assert.equal(r.status, status, r.text);
  else assert.ok(status(r.status), `unexpected status ${r.status}: ${r.text}`);
  assert.equal(typeof r.json?.error?.code, "string", r.text);
  assert.equal(typeof r.json.error.message, "string", r.text);
  assert.ok(r.json.error.message.length > 10, `error message too short: ${r.text}`);
  if (code !== undefined) assert.equal(r.json.error.code, code, r.text);
  if (field !== undefined)
    assert.ok(r.json.error.message.includes(field), `error message should name ${field}: ${r.text}`);
  return r.json.error;
}

/**
 * A test file's server, receiver and workspace whose webhook points at the receiver:
 * started in `before`, stopped in `after` (read the fields inside tests).
 */
export function serverWithWebhook(database: Database = "sqlite"): {
  server: TestServer;
  receiver: Receiver;
  s: Space & { webhook: WebhookRef };
} {
  const f = {} as { server: TestServer; receiver: Receiver; s: Space & { webhook: WebhookRef } };
  before(async () => {
    [f.server, f.receiver] = await Promise.all([TestServer.start({ database }), Receiver.start()]);
    f.s = await space(f.server, { receiver: f.receiver });
  });
  after(async () => {
    await f.server?.stop();
    await f.receiver?.close();
  });
  return f;
}

/**
 * Checks at-least-once delivery across a crash: every accepted id was received, repeats
 * carry the same webhook-id, and each chat's first receptions are in storage order.
 */
export function assertDeliveredAcrossCrash(
  received: ReceivedRequest[],
  accepted: string[],
  chatOf: Map<string, string>,
  secret: string,
  opts: { sameBytes?: boolean } = {},
): { repeats: number } {
  const first = new Map<string, ReceivedRequest>();
  let repeats = 0;
  for (const r of received) {
    const id = r.json?.message?.message_id as string | undefined;
    assert.ok(id, `a delivery without message_id: ${r.body}`);
    assert.ok(chatOf.has(id), `an unknown message ${id} was delivered`);
    assertSigned(r, secret);
    const seen = first.get(id);
    if (seen) {
      repeats++;
      assert.equal(
        r.headers["webhook-id"],
        seen.headers["webhook-id"],
        `message ${id} was repeated under another webhook-id`,
      );
      if (opts.sameBytes !== false) assert.equal(r.body, seen.body, `message ${id} was repeated with other bytes`);
    } else first.set(id, r);
  }
  assert.deepEqual(
    new Set(first.keys()),
    new Set(accepted),
    "the set of message_ids received differs from the set accepted",
  );
  // Per chat, the first receptions follow the order the messages were accepted in.
  const firstOrder = [...first.keys()];
  const byChat = (ids: string[]) => {
    const m = new Map<string, string[]>();
    for (const id of ids) m.set(chatOf.get(id)!, [...(m.get(chatOf.get(id)!) ?? []), id]);
    return m;
  };
  const got = byChat(firstOrder);
  for (const [chat, ids] of byChat(accepted)) assert.deepEqual(got.get(chat), ids, `chat ${chat} out of order`);
  return { repeats };
}
