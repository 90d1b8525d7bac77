import type { IngestMessage } from "../ingest/types.js";
import type { GatewayHttp } from "./gateway-http.js";

/** The WhatsApp account an inbound request or an outgoing message belongs to. */
export interface SourceAccount {
  id: string;
  /** E.164, e.g. "+972500000000". */
  phone: string;
  source: string;
  source_config: Record<string, unknown>;
  owner_full_name: string;
}

/** The request is malformed (the HTTP layer answers 400 and stores nothing). */
export class SourceInputError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "SourceInputError";
  }
}

/** Bad signature, verify token or apikey (the HTTP layer answers 401). */
export class SourceAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SourceAuthError";
  }
}

export interface InboundRequest {
  method: "GET" | "POST";
  query: Record<string, string | undefined>;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
}

export type InboundOutcome =
  | { kind: "messages"; messages: IngestMessage[] }
  | { kind: "reply"; status: number; contentType: string; body: string };

export interface SourceAdapter {
  /** "cloud_api" | "waha" | "evolution" */
  source: string;
  /** Returns the normalized config; throws SourceInputError naming the field (e.g. "source_config.verify_token is required"). */
  validateConfig(config: unknown): Record<string, unknown>;
  /** Verification handshake, signature check and parsing of one inbound request. */
  handleInbound(account: SourceAccount, req: InboundRequest): InboundOutcome;
  /**
   * Sends a text through the gateway, over `http` (the guarded client every outgoing gateway
   * call goes through); resolves to the gateway's message id (the one its webhooks use).
   */
  sendText(
    account: SourceAccount,
    chat: { external_id: string; is_group: boolean; phone: string },
    text: string,
    http: GatewayHttp,
  ): Promise<{ external_id: string }>;
}
