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
    /**
     * The contact's other id, when the source gives two: a hidden `…@lid` id (or a Cloud API
     * user id) beside the phone chat id, or the reverse. Every such pair is remembered per
     * account (ingest/identity.ts), so later messages that carry only one reach the same chat.
     */
    alias_id?: string;
    /**
     * Where `full_name` comes from: "push" (the name the contact gave themself), "gateway" (a
     * business or address-book name, the default). A push name never replaces another kind.
     */
    name_source?: "push" | "gateway";
  };
  external_id: string;
  direction: "received" | "sent";
  /** ISO 8601 with an offset, or Unix seconds. */
  timestamp: string | number;
  type: string;
  text?: string;
  sender?: Partial<IngestParty>;
  recipient?: Partial<IngestParty>;
  /**
   * Other (hidden id, phone) pairs the source's body revealed beside the chat's, e.g. a group
   * participant's `participant` @lid and `participantAlt` phone: remembered for later messages.
   */
  identities?: { hidden_id: string; phone: string }[];
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
