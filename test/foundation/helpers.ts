import assert from "node:assert/strict";
import { after, before } from "node:test";
import { createWorkspace, TestServer, waitFor, type Database } from "../helpers/server.js";
import { Receiver, type ReceivedRequest } from "../helpers/receiver.js";

import { assertSigned } from "../helpers/contract.js";

export { VERSION, assertSigned, assertValid, contractDir, contractValidators, repoRoot } from "../helpers/contract.js";

export interface Space {
  key: string;
  workspace: Awaited<ReturnType<typeof createWorkspace>>;
  accountId: string;
  phone: string;
  webhook?: { id: string; secret: string; url: string };
}

let phoneCounter = 0;
/** A workspace with one `api` account (owned by the workspace owner) and, optionally, a webhook. */
export async function space(server: TestServer, opts: { receiver?: Receiver; webhookUrl?: string; phone?: string; owner?: { full_name: string; email: string }; name?: string } = {}): Promise<Space> {
  const workspace = await createWorkspace(server, { ...(opts.owner ? { owner: opts.owner } : {}), ...(opts.name ? { name: opts.name } : {}) });
  const key = workspace.api_key;
  const phone = opts.phone ?? `+97250${String(process.pid % 1000).padStart(3, "0")}${String(++phoneCounter).padStart(4, "0")}`;
  const acc = await server.api("POST", "/api/v1/accounts", { token: key, body: { phone, owner_email: workspace.owner.email, source: "api" } });
  assert.equal(acc.status, 201, acc.text);
  const s: Space = { key, workspace, accountId: acc.json.id, phone };
  const url = opts.webhookUrl ?? opts.receiver?.url;
  if (url) {
    const wh = await server.api("POST", "/api/v1/webhooks", { token: key, body: { url } });
    assert.equal(wh.status, 201, wh.text);
    s.webhook = { id: wh.json.id, secret: wh.json.secret, url };
  }
  return s;
}

/**
 * A test file's server, receiver and workspace whose webhook points at the receiver:
 * started in `before`, stopped in `after` (read the fields inside tests).
 */
export function serverWithWebhook(database: Database = "sqlite"): { server: TestServer; receiver: Receiver; s: Space } {
  const f = {} as { server: TestServer; receiver: Receiver; s: Space };
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

let extCounter = 0;
/** A direct-chat text message from `contact` (a phone without "+") to the account. */
export function entry(s: Pick<Space, "phone">, over: Partial<Entry> & { contact?: string; name?: string } = {}): Entry {
  const { contact = "972540000000", name = "John Doe", ...rest } = over;
  return {
    account_phone: s.phone,
    chat: { external_id: `${contact}@s.whatsapp.net`, full_name: name, is_group: false, phone: `+${contact}` },
    external_id: `wamid.${Date.now().toString(36)}.${++extCounter}`,
    direction: "received",
    timestamp: "2021-02-24T16:25:29Z",
    type: "text",
    text: `message ${extCounter}`,
    ...rest,
  };
}

export async function ingest(server: TestServer, key: string, messages: Entry[]) {
  const r = await server.api("POST", "/api/v1/messages", { token: key, body: { messages } });
  assert.equal(r.status, 202, r.text);
  return r.json as { accepted: number; duplicates: number; skipped: number; results: { status: string; message_id: string }[] };
}

/** The requests a receiver got for one message id (unaggregated payloads). */
export function deliveriesOf(receiver: Receiver, messageId: string): ReceivedRequest[] {
  return receiver.requests.filter((r) => r.json?.message?.message_id === messageId);
}

export async function waitForDelivery(receiver: Receiver, messageId: string, timeoutMs = 15_000): Promise<ReceivedRequest> {
  return waitFor(() => deliveriesOf(receiver, messageId)[0], `delivery of ${messageId}`, timeoutMs);
}

/** The standard error body: `{error: {code, message}}`, naming `field` in the message when given. */
export function assertError(r: { status: number; json: any; text: string }, status: number, code: string, field?: string): void {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.json?.error?.code, "string", r.text);
  assert.equal(r.json.error.code, code, r.text);
  assert.equal(typeof r.json.error.message, "string");
  assert.ok(r.json.error.message.length > 10, `error message too short: ${r.text}`);
  if (field !== undefined) assert.ok(r.json.error.message.includes(field), `error message should name ${field}: ${r.text}`);
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
      assert.equal(r.headers["webhook-id"], seen.headers["webhook-id"], `message ${id} was repeated under another webhook-id`);
      if (opts.sameBytes !== false) assert.equal(r.body, seen.body, `message ${id} was repeated with other bytes`);
    } else first.set(id, r);
  }
  assert.deepEqual(new Set(first.keys()), new Set(accepted), "the set of message_ids received differs from the set accepted");
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
