import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type BlipMode = "ok" | "error" | "reset" | "closed";

/** One request as the receiver saw it: when it arrived, how many were in flight then, what it answered. */
export interface Arrival {
  id: string;
  chat: string;
  /** The message's text; for a bundle, its messages' texts joined by "|". */
  text: string;
  /** Requests in flight at the receiver when this one arrived (itself included). */
  concurrency: number;
  answered: "ok" | "error" | "reset";
}

/**
 * A webhook receiver that can blip: answer 500s (`error`), reset every connection
 * (`reset`), or stop listening and come back on the same port (`closed`), for a while,
 * under load. It answers after `delayMs` so that many requests are in flight at once, and
 * keeps the concurrency each request arrived into (for ramp-up checks).
 */
export class BlipReceiver {
  mode: BlipMode = "ok";
  delayMs = 20;
  readonly arrivals: Arrival[] = [];
  /** First successful delivery of each `webhook-id`, in order of arrival. */
  readonly delivered = new Map<string, Arrival>();
  inFlight = 0;
  maxInFlight = 0;
  port = 0;
  private server: http.Server;
  private sockets = new Set<Socket>();

  private constructor() {
    this.server = http.createServer((req, res) => {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      const concurrency = this.inFlight;
      let done = false;
      const finish = () => {
        if (!done) {
          done = true;
          this.inFlight--;
        }
      };
      res.on("close", finish);
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        // A message payload, or a bundle (its messages' texts joined by "|").
        const json = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { chat: { chat_id: string }; message?: { text: string }; messages?: { text: string }[] };
        const text = json.message?.text ?? (json.messages ?? []).map((m) => m.text).join("|");
        const a: Arrival = { id: String(req.headers["webhook-id"]), chat: json.chat.chat_id, text, concurrency, answered: "ok" };
        this.arrivals.push(a);
        const mode = this.mode;
        if (mode === "reset" || mode === "closed") {
          a.answered = "reset";
          finish();
          req.socket.destroy();
          return;
        }
        setTimeout(() => {
          // The mode when the answer goes out decides it (a blip hits requests already in flight).
          if (this.mode !== "ok") {
            a.answered = this.mode === "error" ? "error" : "reset";
            if (this.mode === "error") res.writeHead(500).end("blip");
            else req.socket.destroy();
            return;
          }
          if (!this.delivered.has(a.id)) this.delivered.set(a.id, a);
          res.writeHead(200).end("ok");
        }, this.delayMs);
      });
    });
    this.server.keepAliveTimeout = 60_000;
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  static async start(): Promise<BlipReceiver> {
    const r = new BlipReceiver();
    await r.listen();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Switches to `mode` for `ms` of real time, then back to `ok` (a closed receiver listens again on the same port). */
  async blip(mode: Exclude<BlipMode, "ok">, ms: number): Promise<void> {
    this.mode = mode;
    if (mode === "closed") {
      const closed = new Promise<void>((r) => this.server.close(() => r()));
      for (const s of this.sockets) s.destroy();
      await closed;
    }
    await new Promise((r) => setTimeout(r, ms));
    if (mode === "closed") await this.listen();
    this.mode = "ok";
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await new Promise<void>((r) => this.server.close(() => r()));
  }
}
