import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { GatewayHttp } from "../../src/sources/gateway-http.js";
import { TargetGuard } from "../../src/webhooks/targets.js";
import { FIXTURES } from "../helpers/contract.js";
import type { AddressInfo } from "node:net";
import type { InboundRequest, SourceAccount } from "../../src/sources/types.js";

/** A gateway fixture's exact bytes. */
export function fixture(rel: string): Buffer {
  return readFileSync(path.join(FIXTURES, rel));
}

export function account(source: string, source_config: Record<string, unknown>): SourceAccount {
  return { id: "acc_1", phone: "+15557654321", source, source_config, owner_full_name: "Amnon Haha" };
}

export function post(body: Buffer | string | object, headers: InboundRequest["headers"] = {}): InboundRequest {
  const rawBody = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body), "utf8");
  return { method: "POST", query: {}, headers, rawBody };
}

export interface GatewayRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: unknown;
}

/** A real HTTP server on 127.0.0.1 playing a gateway's API; records every request. */
export class FakeGateway {
  readonly requests: GatewayRequest[] = [];
  respond: (req: GatewayRequest) => { status: number; body: string } = () => ({ status: 200, body: "{}" });
  base = "";
  private readonly server: http.Server;

  private constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const r: GatewayRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, json };
        this.requests.push(r);
        const answer = this.respond(r);
        res.writeHead(answer.status, { "content-type": "application/json" });
        res.end(answer.body);
      });
    });
  }

  static async start(): Promise<FakeGateway> {
    const g = new FakeGateway();
    await new Promise<void>((resolve) => g.server.listen(0, "127.0.0.1", resolve));
    g.base = `http://127.0.0.1:${(g.server.address() as AddressInfo).port}`;
    return g;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A local port nothing listens on (for connection failures). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The gateway client of the adapters' sendText, allowing loopback (the stand-in gateways listen there). */
export const gatewayHttp = new GatewayHttp(new TargetGuard(true));
