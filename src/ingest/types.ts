/** A party of a message as given by a source; phones are E.164 or "" (groups). */
export interface IngestParty {
  full_name: string;
  phone: string;
}

/**
 * The one shape every source maps its inbound traffic to. `POST /api/v1/messages`
 * entries have exactly this shape (minus `account_id`, resolved from `account_phone`).
 */
export interface IngestMessage {
  account_phone: string;
  chat: {
    external_id: string;
    full_name?: string;
    is_group?: boolean;
    phone?: string;
  };
  external_id: string;
  direction: "received" | "sent";
  /** ISO 8601 with an offset, or Unix seconds. */
  timestamp: string | number;
  type: string;
  text?: string;
  sender?: Partial<IngestParty>;
  recipient?: Partial<IngestParty>;
}

export type IngestStatus = "accepted" | "duplicate" | "skipped";

export interface IngestResult {
  status: IngestStatus;
  message_id: string;
}

export interface IngestSummary {
  accepted: number;
  duplicates: number;
  skipped: number;
  results: IngestResult[];
}
