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

/**
 * The request is malformed. Thrown before authentication or for a body that is not JSON,
 * the HTTP layer answers 400; thrown while mapping one message of an authenticated
 * request, it becomes that message's unrecognised-event reason.
 */
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

/** What a gateway said of the account's WhatsApp session (an event, or a status check). */
export interface ConnectionReport {
  state: "connected" | "disconnected";
  /** The gateway's own word for it (WAHA `FAILED`, Evolution `close (401)`), null when connected. */
  reason: string | null;
}

export type InboundOutcome =
  /**
   * What an authenticated request carried: the messages it maps to, and why each part that
   * could not be mapped was not (the route stores those as unrecognised events; they never
   * stop the others).
   */
  | { kind: "messages"; messages: IngestMessage[]; unrecognised?: string[]; connection?: ConnectionReport }
  | { kind: "reply"; status: number; contentType: string; body: string };

export interface SourceAdapter {
  /** "cloud_api" | "waha" | "evolution" */
  source: string;
  /** Returns the normalized config; throws SourceInputError naming the field (e.g. "source_config.verify_token is required"). */
  validateConfig(config: unknown): Record<string, unknown>;
  /** Verification handshake, signature check and parsing of one inbound request. */
  handleInbound(account: SourceAccount, req: InboundRequest): InboundOutcome;
  /**
   * A group's subject through the gateway's group-info call (over `http`), or undefined (no
   * such call, an error, a timeout). Asked once, when a group chat is first seen.
   */
  groupSubject?(account: SourceAccount, groupId: string, http: GatewayHttp): Promise<string | undefined>;
  /**
   * The phone (E.164) behind a contact's hidden id (`…@lid`), asked through the gateway
   * (WAHA's lids API, Evolution's contact lookup) over `http`; undefined when it does not
   * know it, fails or is slow. Asked once per hidden id the account does not know yet.
   */
  lookupPhone?(account: SourceAccount, hiddenId: string, http: GatewayHttp): Promise<string | undefined>;
  /** The session's state through the gateway's API (WAHA session, Evolution connection state); undefined without an answer. */
  connectionStatus?(account: SourceAccount, http: GatewayHttp): Promise<ConnectionReport | undefined>;
  /** The chat id this gateway gives a direct chat with a phone (digits, no "+"): a message sent to a new phone creates that chat. */
  directChatId(phoneDigits: string): string;
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
