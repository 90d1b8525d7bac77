import assert from "node:assert/strict";
import type { ValidateFunction } from "ajv/dist/2020.js";
import { assertSigned, assertValid, contractValidators } from "../helpers/contract.js";
import { createWorkspace, waitFor, type TestServer } from "../helpers/server.js";
import type { ReceivedRequest, Receiver } from "../helpers/receiver.js";

export { contractDir, repoRoot } from "../helpers/contract.js";

export const HOUR = 3600_000;
export const MINUTE = 60_000;

let bundleValidator: ValidateFunction | undefined;
/** bundle.schema.json (with common.schema.json), draft 2020-12. */
export function validateBundle(body: unknown): void {
  assertValid((bundleValidator ??= contractValidators().bundle), body, "bundle");
}

/** Verifies the Standard Webhooks signature of a received request. */
export const verifySigned = assertSigned;

export interface Setup {
  key: string;
  workspaceId: string;
  phone: string;
  owner: { full_name: string; email: string };
  webhook: { id: string; secret: string; url: string };
}

let counter = 0;
/** A workspace (optionally in a time zone), one `api` account and one aggregated webhook. */
export async function setup(server: TestServer, opts: { url: string; aggregation: string; timezone?: string }): Promise<Setup> {
  const owner = { full_name: "Amnon Haha", email: `amnon${++counter}@acme.com` };
  const ws = await createWorkspace(server, { owner, ...(opts.timezone ? { timezone: opts.timezone } : {}) });
  const phone = `+9725000${String(process.pid % 1000).padStart(3, "0")}${String(counter).padStart(2, "0")}`;
  const acc = await server.api("POST", "/api/v1/accounts", { token: ws.api_key, body: { phone, owner_email: owner.email, source: "api" } });
  assert.equal(acc.status, 201, acc.text);
  const wh = await server.api("POST", "/api/v1/webhooks", { token: ws.api_key, body: { url: opts.url, aggregation: opts.aggregation } });
  assert.equal(wh.status, 201, wh.text);
  assert.equal(wh.json.aggregation, opts.aggregation);
  return { key: ws.api_key, workspaceId: ws.id, phone, owner, webhook: { id: wh.json.id, secret: wh.json.secret, url: opts.url } };
}

let ext = 0;
/** A text message of a direct chat with `contact` (digits), received unless said otherwise. */
export function msg(
  s: Pick<Setup, "phone">,
  contact: string,
  text: string,
  over: { timestamp?: string | number; name?: string; direction?: "sent" | "received"; type?: string } = {},
) {
  return {
    account_phone: s.phone,
    chat: { external_id: `${contact}@s.whatsapp.net`, full_name: over.name ?? `Contact ${contact}`, phone: `+${contact}` },
    external_id: `wamid.agg.${process.pid}.${++ext}`,
    direction: over.direction ?? "received",
    timestamp: over.timestamp ?? "2021-02-24T16:25:29Z",
    type: over.type ?? "text",
    text,
  };
}

export async function ingest(server: TestServer, s: Pick<Setup, "key">, messages: unknown[]) {
  const r = await server.api("POST", "/api/v1/messages", { token: s.key, body: { messages } });
  assert.equal(r.status, 202, r.text);
  return r.json as { accepted: number; results: { status: string; message_id: string }[] };
}

/** The server's clock now (ms). */
export async function serverNow(server: TestServer): Promise<number> {
  return Date.parse(await server.advance(0));
}

/** Moves the server's clock forward to `at` (ms); answers the new now. */
export async function advanceTo(server: TestServer, at: number): Promise<number> {
  const now = await serverNow(server);
  assert.ok(at >= now, `cannot move the clock back (${new Date(at).toISOString()} < ${new Date(now).toISOString()})`);
  return Date.parse(await server.advance(at - now));
}

/**
 * The next window boundary after `t` for a fixed-offset zone (`offsetMin` east of UTC),
 * computed independently of the product: local time floored to `hours`, plus `hours`.
 */
export function nextBoundary(t: number, hours: number, offsetMin = 0): number {
  const local = t + offsetMin * MINUTE;
  return (Math.floor(local / (hours * HOUR)) + 1) * hours * HOUR - offsetMin * MINUTE;
}

/** Requests received at `receiver` whose URL contains `tag`. */
export function received(receiver: Receiver, tag: string): ReceivedRequest[] {
  return receiver.requests.filter((r) => r.url.includes(tag));
}

export async function waitForCount(receiver: Receiver, tag: string, n: number, what: string, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
  await waitFor(() => received(receiver, tag).length >= n, `${what} (${n} requests at ${tag})`, timeoutMs);
  return received(receiver, tag);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `YYYY-MM-DD HH:MM` of `ms` shifted by a fixed offset (independent of the product's code). */
export function minuteAt(ms: number, offsetMin = 0): string {
  const d = new Date(ms + offsetMin * MINUTE).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 16)}`;
}
