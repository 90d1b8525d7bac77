/**
 * The error catalogue of the domain: stable codes a client can switch on, with their HTTP
 * status. Services throw `ApiError(code, message, field)`; the HTTP layer only renders it
 * as `{"error": {"code", "message", "field"?}}`. docs/api.md lists every code (a test checks).
 */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  /** A cookie-authenticated change (or a sign-in) from a page that is not Threadline's own. */
  CROSS_ORIGIN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  /** A workspace holds as many webhooks, accounts or teammates (or runs as many inbound requests) as its quota allows. */
  QUOTA_EXCEEDED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** Too many requests or failed authentications; `Retry-After` says when to try again. */
  RATE_LIMITED: 429,
  INTERNAL: 500,
  /** A gateway refused or did not answer a message sent through it. */
  SOURCE_UNAVAILABLE: 502,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what: string) => new ApiError("NOT_FOUND", `${what} was not found.`);
export const invalid = (field: string, message: string) =>
  new ApiError("VALIDATION_ERROR", `${field}: ${message}`, field);
