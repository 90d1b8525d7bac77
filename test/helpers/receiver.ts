import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WAIT_MS, waitFor } from "./server.js";

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  at: number;
  /** The `webhook-id` header. */
  id: string;
  /** Its chat id, and message text and id ("" otherwise); a bundle's text is its messages' texts joined by "|". */
  chat: string;
  text: string;
  messageId: string;
  /** Requests in flight at the receiver when this one arrived (itself included). */
  concurrency: number;
}

/** A blip: for a while, answer 500 (`error`), reset connections (`reset`), or stop listening (`closed`). */
export type Blip = "error" | "reset" | "closed";

/** How the receiver answers one request: a status (after `delayMs`), a reset connection, or never. */
export type Answer =
  { status: number; body?: string; headers?: Record<string, string>; delayMs?: number } | "destroy" | "hang";

/**
 * A real HTTP receiver for outgoing webhooks (or a gateway's API). `respond` decides each
 * answer (default 200); everything received is kept in order in `requests`, and what was
 * answered 2xx in `accepted`, once per `webhook-id` (a receiver's dedupe). It can go down
 * (connections refused) and come back on the same port, or blip for a while under load;
 * it counts the requests in flight (`inFlight`, and each request's `concurrency`).
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  readonly accepted = new Map<string, ReceivedRequest>();
  respond: (req: ReceivedRequest) => Answer = () => ({ status: 200, body: "ok" });
  url = "";
  inFlight = 0;
  private blipping: Blip | undefined;
  private server: http.Server;
  private sockets = new Set<Socket>();
  private hanging = new Set<http.ServerResponse>();
  port = 0;

  private constructor(private readonly host: string) {
    this.server = http.createServer((req, res) => {
      this.inFlight++;
      let open = true;
      res.on("close", () => {
        if (open) this.inFlight--;
        open = false;
      });
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.answerRequest(req, res, Buffer.concat(chunks).toString("utf8")));
    });
    this.server.keepAliveTimeout = 60_000;
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  static async start(host = "127.0.0.1"): Promise<Receiver> {
    const r = new Receiver(host);
    await r.listen();
    r.url = `http://${host.includes(":") ? `[${host}]` : host}:${r.port}/hook`;
    return r;
  }

  /** `http://127.0.0.1:port`: the receiver as a gateway's base URL. */
  get origin(): string {
    return new URL(this.url).origin;
  }

  /** Answers every request the same way from now on. */
  answer(answer: Answer): void {
    this.respond = () => answer;
  }

  /** Distinct requests by `webhook-id`, whatever they were answered. */
  unique(): Map<string, ReceivedRequest> {
    const m = new Map<string, ReceivedRequest>();
    for (const r of this.requests) if (!m.has(r.id)) m.set(r.id, r);
    return m;
  }

  /**
   * Blips for `ms` of real time, then answers as `respond` says again (a closed receiver
   * listens again on the same port). What is answered during the blip, requests already in
   * flight included, gets the blip.
   */
  async blip(blip: Blip, ms: number): Promise<void> {
    this.blipping = blip;
    if (blip === "closed") await this.down();
    await new Promise((r) => setTimeout(r, ms));
    if (blip === "closed") await this.up();
    this.blipping = undefined;
  }

  /** Forgets what was received so far. */
  reset(): void {
    this.requests.length = 0;
    this.accepted.clear();
  }

  /** Stops listening and drops open connections: connections are refused until `up()`. */
  async down(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  async up(): Promise<void> {
    await this.listen();
  }

  async close(): Promise<void> {
    this.dropConnections();
    if (this.server.listening) await new Promise<void>((r) => this.server.close(() => r()));
  }

  private answerRequest(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    let json: any;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    const r: ReceivedRequest = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body,
      json,
      at: Date.now(),
      id: String(req.headers["webhook-id"]),
      chat: String(json?.chat?.chat_id ?? ""),
      text: String(
        json?.message?.text ??
          (Array.isArray(json?.messages) ? json.messages.map((m: { text: string }) => m.text).join("|") : ""),
      ),
      messageId: String(json?.message?.message_id ?? ""),
      concurrency: this.inFlight,
    };
    this.requests.push(r);
    const answer = this.blipping ? "destroy" : this.respond(r);
    if (answer === "destroy") {
      req.socket.destroy();
      return;
    }
    if (answer === "hang") {
      this.hanging.add(res);
      return;
    }
    const send = () => {
      if (res.destroyed) return;
      if (this.blipping === "error") return void res.writeHead(500).end("blip");
      if (this.blipping) return void req.socket.destroy();
      if (answer.status >= 200 && answer.status < 300 && !this.accepted.has(r.id)) this.accepted.set(r.id, r);
      res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers });
      res.end(answer.body ?? "");
    };
    if (answer.delayMs) setTimeout(send, answer.delayMs);
    else send();
  }

  private dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.hanging.clear();
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
}

/** Requests received at `receiver` whose URL contains `tag`. */
export function received(receiver: Receiver, tag: string): ReceivedRequest[] {
  return receiver.requests.filter((r) => r.url.includes(tag));
}

export async function waitForCount(
  receiver: Receiver,
  tag: string,
  n: number,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<ReceivedRequest[]> {
  await waitFor(() => received(receiver, tag).length >= n, `${what} (${n} requests at ${tag})`, timeoutMs);
  return received(receiver, tag);
}
