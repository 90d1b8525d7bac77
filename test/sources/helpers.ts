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
