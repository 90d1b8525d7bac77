import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  at: number;
}

/**
 * A real HTTP receiver for outgoing webhooks. `respond` decides each answer
 * (default 200); everything received is kept in order.
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  respond: (req: ReceivedRequest) => { status: number; body?: string; headers?: Record<string, string>; delayMs?: number } | "destroy" = () => ({ status: 200, body: "ok" });
  private server: http.Server;
  url = "";

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let json: any;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const r: ReceivedRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, json, at: Date.now() };
        this.requests.push(r);
        const answer = this.respond(r);
        if (answer === "destroy") {
          req.socket.destroy();
          return;
        }
        const send = () => {
          res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers });
          res.end(answer.body ?? "");
        };
        if (answer.delayMs) setTimeout(send, answer.delayMs);
        else send();
      });
    });
    this.server.keepAliveTimeout = 60_000;
  }

  static async start(): Promise<Receiver> {
    const r = new Receiver();
    await new Promise<void>((resolve) => r.server.listen(0, "127.0.0.1", resolve));
    r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hook`;
    return r;
  }

  /** Distinct deliveries by `webhook-id` (a receiver's dedupe). */
  unique(): Map<string, ReceivedRequest> {
    const m = new Map<string, ReceivedRequest>();
    for (const r of this.requests) {
      const id = String(r.headers["webhook-id"]);
      if (!m.has(id)) m.set(id, r);
    }
    return m;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
