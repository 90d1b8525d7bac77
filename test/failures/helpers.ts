import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { SMTPServer } from "smtp-server";
import { createWorkspace, waitFor, type TestServer } from "../helpers/server.js";

/** A workspace (owner amnon@acme.com) with one `api` account. */
export async function setup(server: TestServer) {
  const ws = await createWorkspace(server);
  const phone = `+9725${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
  const acc = await server.api("POST", "/api/v1/accounts", { token: ws.api_key, body: { phone, owner_email: ws.owner.email, source: "api" } });
  assert.equal(acc.status, 201, acc.text);
  return { key: ws.api_key, owner: ws.owner, phone };
}

let counter = 0;
/** Ingests one text message per `[chat, text]` pair, in order; answers the message ids. */
export async function ingest(server: TestServer, s: { key: string; phone: string }, items: [chat: number, text: string][]): Promise<string[]> {
  const messages = items.map(([chat, text]) => ({
    account_phone: s.phone,
    chat: { external_id: `97254000${String(chat).padStart(4, "0")}@s.whatsapp.net`, full_name: `Contact ${chat}`, phone: `+97254000${String(chat).padStart(4, "0")}` },
    external_id: `ext-${process.pid}-${++counter}`,
    direction: "received",
    timestamp: Math.floor(Date.now() / 1000),
    type: "text",
    text,
  }));
  const r = await server.api("POST", "/api/v1/messages", { token: s.key, body: { messages } });
  assert.equal(r.status, 202, r.text);
  return (r.json.results as { message_id: string }[]).map((x) => x.message_id);
}

export async function createWebhook(server: TestServer, key: string, url: string) {
  const r = await server.api("POST", "/api/v1/webhooks", { token: key, body: { url } });
  assert.equal(r.status, 201, r.text);
  return r.json as { id: string; url: string; secret: string };
}

export interface WebhookView {
  id: string;
  url: string;
  enabled: boolean;
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
export async function waitFailures(server: TestServer, key: string, id: string, n: number, timeoutMs = 15_000): Promise<WebhookView> {
  return waitFor(
    async () => {
      const v = await getWebhook(server, key, id);
      return v.consecutive_failures === n ? v : undefined;
    },
    `${n} consecutive failures`,
    timeoutMs,
  );
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Received {
  id: string;
  chat: string;
  text: string;
  messageId: string;
  body: string;
}

/**
 * A webhook receiver on a fixed port that can go down (connection refused) and come back,
 * answer an error status, or hang. `seen` holds every request; `unique` is the receiver's
 * dedupe by `webhook-id`, in order of first arrival.
 */
export class FlakyReceiver {
  mode: "ok" | "down" | "hang" | { status: number; headers?: Record<string, string> } = "ok";
  /** Per request, overrides `mode`: hang, or answer `status` after `delayMs`. */
  override: ((r: Received) => "hang" | { status: number; delayMs: number } | undefined) | undefined;
  readonly seen: Received[] = [];
  readonly unique = new Map<string, Received>();
  private server: http.Server;
  private sockets = new Set<Socket>();
  private hanging = new Set<http.ServerResponse>();
  port = 0;
  host: string;

  private constructor(host: string) {
    this.host = host;
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const json = JSON.parse(body) as { chat: { chat_id: string }; message: { text: string; message_id: string } };
        const r: Received = { id: String(req.headers["webhook-id"]), chat: json.chat.chat_id, text: json.message.text, messageId: json.message.message_id, body };
        this.seen.push(r);
        const special = this.override?.(r);
        if (special && special !== "hang") {
          if (special.status < 300 && !this.unique.has(r.id)) this.unique.set(r.id, r);
          setTimeout(() => res.writeHead(special.status).end("ok"), special.delayMs);
          return;
        }
        const mode = special ?? this.mode;
        if (mode === "hang") {
          this.hanging.add(res);
          return;
        }
        if (mode === "ok") {
          if (!this.unique.has(r.id)) this.unique.set(r.id, r);
          res.writeHead(200).end("ok");
          return;
        }
        res.writeHead(mode === "down" ? 500 : mode.status, mode === "down" ? {} : mode.headers).end("error");
      });
    });
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  static async start(host = "127.0.0.1"): Promise<FlakyReceiver> {
    const r = new FlakyReceiver(host);
    await r.listen();
    return r;
  }

  get url(): string {
    return `http://${this.host.includes(":") ? `[${this.host}]` : this.host}:${this.port}/hook`;
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, this.host, () => {
        this.server.off("error", reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Stops listening: connections are refused until `up()`. */
  async down(): Promise<void> {
    this.mode = "down";
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  async up(): Promise<void> {
    this.mode = "ok";
    await this.listen();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export interface Mail {
  from: string;
  to: string[];
  raw: string;
  subject: string;
  text: string;
}

/** A real SMTP server (smtp-server) that keeps every message it accepts. */
export async function startSmtp(): Promise<{ url: string; mails: Mail[]; close: () => Promise<void> }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const split = raw.indexOf("\r\n\r\n");
        const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, " ");
        const subject = /^subject: (.*)$/im.exec(head)?.[1] ?? "";
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((a) => a.address),
          raw,
          subject,
          text: decodeBody(head, raw.slice(split + 4)),
        });
        callback();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Undoes the transfer encoding nodemailer picked (quoted-printable or base64). */
function decodeBody(head: string, body: string): string {
  const enc = /^content-transfer-encoding: (.*)$/im.exec(head)?.[1]?.trim().toLowerCase();
  if (enc === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  if (enc === "quoted-printable") {
    const bytes = body.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, "latin1").toString("utf8").replace(/\r\n/g, "\n");
  }
  return body.replace(/\r\n/g, "\n");
}
