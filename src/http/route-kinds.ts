/** Routes that authentication, CSRF, rate limits and body limits each treat apart. */

/**
 * The routes that sign a browser in or ask for a link (a form, the UI): their own rate limits
 * (per address and per e-mail) and the CSRF rule apply without a cookie.
 */
export const SIGN_IN_ROUTES: ReadonlySet<string> = new Set([
  "/signin",
  "/api/v1/session",
  "/api/v1/sign-in-links",
  "/api/v1/sign-in-links/accept",
  "/api/v1/password-resets",
  "/api/v1/password-resets/accept",
  "/api/v1/invitations/accept",
]);

/** Routes whose path token is the credential: gateways' inbound URLs and the capability URL to send messages. */
export const isTokenRoute = (route: string): boolean =>
  route.startsWith("/inbound/") || route.startsWith("/hooks/send/");
