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
  const rawBody = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === "string" ? body : JSON.stringify(body), "utf8");
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

// ---------------------------------------------------------------- bodies as the gateways send them

/** The Cloud API fixtures' metadata.phone_number_id. */
export const PHONE_NUMBER_ID = "106540352242922";
/** The Evolution fixtures' instance, and the instance token their `apikey` carries. */
export const EVOLUTION_INSTANCE = "sales-1";
export const EVOLUTION_KEY = String(
  (JSON.parse(fixture("evolution/messages-upsert-text-direct.json").toString("utf8")) as { apikey: unknown }).apikey,
);

/** A Cloud API `messages` notification (another `field` when given) around the given value fields, for PHONE_NUMBER_ID. */
export function notification(value: Record<string, unknown>, field = "messages") {
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            field,
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550783881", phone_number_id: PHONE_NUMBER_ID },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

/** A WAHA `message.any` event of the "default" session (account 15557654321), with payload fields and envelope fields overridden. */
export function messageAny(payload: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    id: `evt_${Math.random().toString(36).slice(2)}`,
    timestamp: 1710000400000,
    event: "message.any",
    session: "default",
    engine: "NOWEB",
    me: { id: "15557654321@c.us", pushName: "Acme Sales" },
    payload: { timestamp: 1710000400, hasMedia: false, ack: 1, ackName: "SERVER", _data: {}, ...payload },
    ...extra,
  };
}

/** An Evolution API v2 `messages.upsert` event of EVOLUTION_INSTANCE, with data fields and envelope fields overridden. */
export function upsert(data: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event: "messages.upsert",
    instance: EVOLUTION_INSTANCE,
    date_time: "2025-10-01T10:10:00.000Z",
    sender: "15557654321@s.whatsapp.net",
    server_url: "http://localhost:8081",
    apikey: EVOLUTION_KEY,
    data: {
      status: "DELIVERY_ACK",
      messageTimestamp: 1759313400,
      instanceId: "6f1c2a9e-4b7d-4e38-9f1a-2c3d4e5f6a7b",
      source: "android",
      ...data,
    },
    ...extra,
  };
}
