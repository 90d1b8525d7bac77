/**
 * What one delivery attempt can end in: the closed set of error codes, defined once. The
 * request log (`error.code`), the activity summaries, the alert e-mails, the metrics label
 * (`threadline_delivery_attempts_total{outcome}`, lower-cased) and the web UI all use these
 * strings; docs/api.md lists them.
 */
export const DELIVERY_ERROR_CODES = [
  /** No answer within the attempt's one deadline (connect to the last byte kept). */
  "TIMEOUT",
  "CONNECTION_REFUSED",
  /** The connection was closed or reset before a complete answer. */
  "CONNECTION_RESET",
  /** The receiver's host name could not be resolved. */
  "DNS_FAILURE",
  /** Any other network failure (TLS, unreachable host, …). */
  "NETWORK_ERROR",
  /** The receiver answered 4xx or 5xx. */
  "HTTP_ERROR",
  /** The receiver answered 3xx: redirects are not followed. */
  "REDIRECT",
  /** The URL resolves to an address the target policy refuses (private, loopback, …). */
  "BLOCKED_TARGET",
  /** The stored URL is not a valid webhook URL. */
  "INVALID_URL",
  /** Threadline shut down before the receiver answered: not the receiver's error, counted against nothing. */
  "SHUTDOWN",
  /**
   * Threadline failed to write or record this delivery (a bug, or a stored row a payload cannot
   * be written from): not the receiver's error, counted against nothing; parked after a few.
   */
  "INTERNAL_ERROR",
] as const;

export type DeliveryErrorCode = (typeof DELIVERY_ERROR_CODES)[number];

export interface DeliveryError {
  code: DeliveryErrorCode;
  message: string;
}

/** The outcome of one attempt as the request log keeps it. */
export interface AttemptResult {
  ok: boolean;
  /** When the attempt started (the Clock). */
  at: number;
  durationMs: number;
  request: { method: "POST"; url: string; headers: Record<string, string>; body: string };
  response: { status: number; headers: Record<string, string>; body: string } | null;
  error: DeliveryError | null;
  /** From a 429/503 `Retry-After`. */
  retryAfterMs?: number;
}

/** Whether an attempt's failure is the receiver's (counted) or ours (a shutdown: counted against nothing). */
export function isReceiverFailure(r: Pick<AttemptResult, "ok" | "error">): boolean {
  return !r.ok && r.error?.code !== "SHUTDOWN" && r.error?.code !== "INTERNAL_ERROR";
}
