/**
 * Shared harness of the sources-through-HTTP tests: one real Threadline process per file,
 * a workspace (or several on that one process), a real receiver behind an unaggregated
 * outgoing webhook, and a second real HTTP server that plays the gateway's own API. Inbound requests go to the path of the
 * account's `inbound_url` exactly as a gateway would send them.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Receiver, type ReceivedRequest } from "./receiver.js";
import { TestServer, createWorkspace, waitFor, type Database } from "./server.js";
import { FIXTURES } from "./contract.js";
import type { Account } from "../../src/accounts/schemas.js";

/** The public base URL the server is told to use (inbound_url and chat_url are built on it). */
export const PUBLIC_URL = "https://threadline.example.test";

/** A gateway fixture's exact bytes, as text. */
export function fixtureText(rel: string): string {
  return readFileSync(path.join(FIXTURES, rel), "utf8");
}

export function fixtureJson(rel: string): any {
  return JSON.parse(fixtureText(rel));
}

/** `2021-02-24T16:25:29+0000` for Unix seconds: the payloads' timestamp format. */
export function payloadTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 19) + "+0000";
}

export function hmacHex(algorithm: "sha256" | "sha512", key: string, body: string): string {
  return createHmac(algorithm, key).update(body).digest("hex");
}

export interface Harness {
  server: TestServer;
  key: string;
  owner: { id: string; full_name: string; email: string };
  /** Receives the outgoing webhook's deliveries. */
  receiver: Receiver;
  /** Plays the gateway's API (sendText). */
  gateway: Receiver;
  /** `http://127.0.0.1:port` of the gateway. */
  gatewayBase: string;
  webhookId: string;
  close(): Promise<void>;
}

export async function startHarness(opts: { database?: Database } = {}): Promise<Harness> {
  const [h] = await startHarnesses(1, opts);
  return h!;
}

/**
 * `count` harnesses on ONE server (spawning a server is what these tests spend their time
 * on): each its own workspace, receiver and gateway. `close()` of any of them closes them all.
 */
export async function startHarnesses(
  count: number,
  opts: { database?: Database; env?: Record<string, string> } = {},
): Promise<Harness[]> {
  const server = await TestServer.start({
    database: opts.database,
    env: { THREADLINE_PUBLIC_URL: PUBLIC_URL, ...opts.env },
  });
  const opened: Receiver[] = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const r of opened) await r.close();
      await server.stop();
    })());
  try {
    const out: Harness[] = [];
    for (let i = 0; i < count; i++) {
      const receiver = await Receiver.start();
      opened.push(receiver);
      const gateway = await Receiver.start();
      opened.push(gateway);
      const ws = await createWorkspace(server);
      const hook = await server.api("POST", "/api/v1/webhooks", { token: ws.api_key, body: { url: receiver.url } });
      assert.equal(hook.status, 201, hook.text);
      out.push({
        server,
        key: ws.api_key,
        owner: ws.owner,
        receiver,
        gateway,
        gatewayBase: new URL(gateway.url).origin,
        webhookId: hook.json.id,
        close,
      });
    }
    return out;
  } catch (err) {
    await close();
    throw err;
  }
}

/** `POST /api/v1/accounts`, asserting 201. */
export async function createAccount(h: Harness, body: Record<string, unknown>) {
  const r = await h.server.api("POST", "/api/v1/accounts", {
    token: h.key,
    body: { owner_email: h.owner.email, ...body },
  });
  assert.equal(r.status, 201, r.text);
  return r.json as Account;
}

export interface InboundResponse {
  status: number;
  contentType: string;
  text: string;
  json: any;
}

/**
 * Sends a request to the server at the path of `inboundUrl` (which is built on PUBLIC_URL,
 * as the gateway would see it behind a reverse proxy).
 */
export async function inbound(
  h: Harness,
  inboundUrl: string,
  opts: { method?: "GET" | "POST"; body?: string; headers?: Record<string, string>; query?: string } = {},
): Promise<InboundResponse> {
  const u = new URL(inboundUrl);
  const r = await h.server.request(opts.method ?? "POST", `${u.pathname}${opts.query ?? ""}`, {
    headers: opts.body === undefined ? opts.headers : { "content-type": "application/json", ...opts.headers },
    body: opts.body,
  });
  return { status: r.status, contentType: r.headers.get("content-type") ?? "", text: r.text, json: r.json };
}

/** Deliveries (distinct by webhook-id) whose message text is `text`. */
export function deliveriesOf(h: Harness, text: string): ReceivedRequest[] {
  return [...h.receiver.unique().values()].filter((r) => r.json?.message?.text === text);
}

/** Waits until the message with this text was delivered, and returns its (first) payload. */
export async function delivered(h: Harness, text: string): Promise<any> {
  const r = await waitFor(() => deliveriesOf(h, text)[0], `delivery of "${text}"`);
  return r.json;
}

let sentinelCount = 0;

/**
 * Sends a fresh text through `send` and waits for its delivery. Deliveries of one webhook
 * go out in storage order, so once the sentinel arrived everything stored before it that
 * was going to be delivered has been: "never delivered" and "delivered once" checks can
 * run right after.
 */
export async function flushWith(h: Harness, send: (text: string) => Promise<void>): Promise<void> {
  const text = `sentinel ${++sentinelCount} ${Date.now()}`;
  await send(text);
  await delivered(h, text);
}

/** All chats of the workspace. */
export async function chats(h: Harness): Promise<any[]> {
  const r = await h.server.api("GET", "/api/v1/chats?limit=200", { token: h.key });
  assert.equal(r.status, 200, r.text);
  return r.json.items;
}

/** The messages of a chat, oldest first. */
export async function chatMessages(h: Harness, chatId: string): Promise<any[]> {
  const r = await h.server.api("GET", `/api/v1/chats/${chatId}/messages?limit=200`, { token: h.key });
  assert.equal(r.status, 200, r.text);
  return r.json.items;
}

/** Every stored message of the workspace (across chats). */
export async function allMessages(h: Harness): Promise<any[]> {
  const out: any[] = [];
  for (const c of await chats(h)) out.push(...(await chatMessages(h, c.chat_id)));
  return out;
}

/** The gateway answers with this JSON (status 200 unless given). */
export function gatewayAnswers(h: Harness, body: unknown, status = 200): void {
  h.gateway.respond = () => ({ status, body: JSON.stringify(body), headers: { "content-type": "application/json" } });
}

/** Secrets must never come back in full in an account view. */
export function assertNoSecret(json: unknown, secrets: string[]): void {
  const text = JSON.stringify(json);
  for (const s of secrets) assert.ok(!text.includes(s), `secret ${s} was echoed back: ${text}`);
}
