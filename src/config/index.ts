import path from "node:path";
import { isIP } from "node:net";

/**
 * How long a process stays alive to the others without a heartbeat; its webhooks are taken
 * over after it (THREADLINE_WEBHOOK_LEASE_MS). The heartbeat comes every second.
 */
export const DEFAULT_LEASE_MS = 15_000;

/**
 * What one workspace may hold or run at once, so that nothing a tenant configures grows
 * without a bound (each webhook is a consumer holding up to 1,000 rows; each account a
 * sender). Defaults no honest workspace meets; each is configurable (README). Enforced by
 * workspaces/quotas.ts.
 */
export interface Quotas {
  webhooks: number;
  accounts: number;
  teammates: number;
  /** Inbound gateway requests of a workspace being handled at once. */
  inboundInFlight: number;
}

export const QUOTA_DEFAULTS: Quotas = { webhooks: 50, accounts: 100, teammates: 1000, inboundInFlight: 64 };

export const QUOTA_ENV: Record<keyof Quotas, string> = {
  webhooks: "THREADLINE_MAX_WEBHOOKS",
  accounts: "THREADLINE_MAX_ACCOUNTS",
  teammates: "THREADLINE_MAX_TEAMMATES",
  inboundInFlight: "THREADLINE_MAX_INBOUND_IN_FLIGHT",
};

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  /** Base of chat_url and permalinks; undefined until the port is known (PORT=0). */
  publicUrl: string | undefined;
  adminToken: string | undefined;
  smtpUrl: string | undefined;
  mailFrom: string;
  /** `true` allows every private target; a list allows those CIDRs only. */
  allowPrivateTargets: boolean | string[];
  testClock: boolean;
  logLevel: string;
  rateLimits: RateLimits;
  /**
   * Whose X-Forwarded-For to believe for the client address (rate limits): nobody (false,
   * the default: a client could name any address), every peer (true), or these CIDRs.
   */
  trustProxy: boolean | string[];
  /** The pause between messages an account sends (randomised ±25 %), unless the account sets its own. */
  sendPauseMs: number;
  /** How long an account's gateway session may be disconnected before its owner is e-mailed (minutes). */
  disconnectAlertMinutes: number;
  /** How long a process owns a webhook without renewing (several processes on PostgreSQL). */
  webhookLeaseMs: number;
  /** The largest bundle body in bytes: a chat's window with more is sent as several bundles. */
  bundleMaxBytes: number;
  /** What one workspace may hold or run at once (workspaces/quotas.ts). */
  quotas: Quotas;
  /** When set, `GET /metrics` asks for it as a bearer token. */
  metricsToken: string | undefined;
  /** Single sign-on (OpenID Connect), when THREADLINE_OIDC_ISSUER is set. */
  oidc: OidcConfig | undefined;
  /** Tests only (with THREADLINE_TEST_CLOCK=1): passwords hashed at a low cost, so suites that sign in often stay quick. */
  testPasswords: boolean;
  /**
   * Tests only (with THREADLINE_TEST_CLOCK=1): every JSON answer written through a response
   * schema is compared with the handler's value as JSON.stringify writes it; a difference (a
   * field the schema leaves out, a null it turns into "") is a 500 naming both.
   */
  testResponses: boolean;
}

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** E-mail domain → the workspace an unknown, verified e-mail of it joins as a member. */
  allowedDomains: Map<string, string>;
}

/**
 * `THREADLINE_OIDC_*`: all of issuer, client id and secret, or none. Allowed domains are
 * `domain=workspace_id` pairs (an installation holds many workspaces: each domain names the
 * one it joins).
 */
function parseOidc(env: Env): OidcConfig | undefined {
  const issuer = parseUrl("THREADLINE_OIDC_ISSUER", env.THREADLINE_OIDC_ISSUER, ["http", "https"]);
  const clientId = env.THREADLINE_OIDC_CLIENT_ID?.trim() || undefined;
  const clientSecret = env.THREADLINE_OIDC_CLIENT_SECRET?.trim() || undefined;
  const domains = env.THREADLINE_OIDC_ALLOWED_DOMAINS?.trim() || "";
  if (!issuer) {
    if (clientId || clientSecret || domains)
      throw new ConfigError(
        "THREADLINE_OIDC_ISSUER must be set with THREADLINE_OIDC_CLIENT_ID, THREADLINE_OIDC_CLIENT_SECRET and THREADLINE_OIDC_ALLOWED_DOMAINS.",
      );
    return undefined;
  }
  if (!clientId || !clientSecret)
    throw new ConfigError(
      "THREADLINE_OIDC_CLIENT_ID and THREADLINE_OIDC_CLIENT_SECRET must be set with THREADLINE_OIDC_ISSUER.",
    );
  const allowedDomains = new Map<string, string>();
  for (const pair of domains
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z0-9.-]+\.[a-z]{2,})=(ws_[a-z0-9]+)$/i.exec(pair);
    if (!m)
      throw new ConfigError(
        `THREADLINE_OIDC_ALLOWED_DOMAINS must be a comma list of domain=workspace_id such as acme.com=ws_01h…, got "${pair}".`,
      );
    allowedDomains.set(m[1]!.toLowerCase(), m[2]!.toLowerCase());
  }
  return { issuer, clientId, clientSecret, allowedDomains };
}

/** Requests a minute (0: no limit); see README "Configuration". */
export interface RateLimits {
  /** Failed authentications per client address (any key, cookie, operator token or inbound token). */
  authFailures: number;
  /** Sign-in attempts (`POST /signin`, `POST /api/v1/session`, links, resets, invitations) per client address. */
  signIn: number;
  /** Sign-in attempts and link or reset requests per e-mail address (whatever the client address). */
  signInEmail: number;
  /** Requests per inbound URL token. */
  inbound: number;
  /** Authenticated API requests per API key, session or operator token. */
  api: number;
}

export const RATE_LIMIT_DEFAULTS: RateLimits = {
  authFailures: 30,
  signIn: 30,
  signInEmail: 10,
  inbound: 6000,
  api: 60000,
};
const RATE_LIMIT_ENV: Record<keyof RateLimits, string> = {
  authFailures: "THREADLINE_RATE_LIMIT_AUTH_FAILURES",
  signIn: "THREADLINE_RATE_LIMIT_SIGNIN",
  signInEmail: "THREADLINE_RATE_LIMIT_SIGNIN_EMAIL",
  inbound: "THREADLINE_RATE_LIMIT_INBOUND",
  api: "THREADLINE_RATE_LIMIT_API",
};

function parseRateLimits(env: Env): RateLimits {
  const out = { ...RATE_LIMIT_DEFAULTS };
  for (const [key, name] of Object.entries(RATE_LIMIT_ENV) as [keyof RateLimits, string][]) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") continue;
    if (!/^\d+$/.test(raw))
      throw new ConfigError(`${name} must be a whole number of requests a minute (0: no limit), got "${raw}".`);
    out[key] = Number(raw);
  }
  return out;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function parsePort(env: Env): number {
  const raw = env.PORT?.trim();
  if (raw === undefined || raw === "") return 8080;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(`PORT must be a whole number from 0 to 65535, got "${raw}".`);
  }
  return n;
}

function parseUrl(name: string, raw: string | undefined, protocols: string[]): string | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new ConfigError(`${name} must be a URL (${protocols.join(" or ")}), got "${raw}".`);
  }
  if (!protocols.includes(u.protocol.replace(/:$/, ""))) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}://`).join(" or ")}, got "${raw}".`);
  }
  return raw.trim();
}

function parseCidrList(raw: string | undefined, name = "THREADLINE_ALLOW_PRIVATE_TARGETS"): boolean | string[] {
  if (raw === undefined || raw.trim() === "" || raw.trim() === "0") return false;
  if (raw.trim() === "1" || raw.trim().toLowerCase() === "true") return true;
  const list = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const cidr of list) {
    const [addr, bits, extra] = cidr.split("/");
    const family = isIP(addr ?? "");
    const max = family === 6 ? 128 : 32;
    const n = bits === undefined ? max : Number(bits);
    if (!family || extra !== undefined || !Number.isInteger(n) || n < 0 || n > max) {
      throw new ConfigError(`${name} must be 1 or a comma list of CIDRs such as 10.0.0.0/8, got "${cidr}".`);
    }
  }
  return list;
}

/** Reads the environment once; a bad value throws one sentence naming the variable. */
export function loadConfig(env: Env = process.env): Config {
  const port = parsePort(env);
  const host = env.HOST?.trim() || "127.0.0.1";
  const databaseUrl = parseUrl("DATABASE_URL", env.DATABASE_URL, ["postgres", "postgresql"]);
  const dataDir = path.resolve(env.THREADLINE_DATA_DIR?.trim() || "./data");
  const publicUrl = parseUrl("THREADLINE_PUBLIC_URL", env.THREADLINE_PUBLIC_URL, ["http", "https"])?.replace(
    /\/+$/,
    "",
  );
  const adminToken = env.THREADLINE_ADMIN_TOKEN?.trim() || undefined;
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError("THREADLINE_ADMIN_TOKEN must be at least 16 characters long.");
  }
  const smtpUrl = parseUrl("THREADLINE_SMTP_URL", env.THREADLINE_SMTP_URL, ["smtp", "smtps"]);
  const mailFrom = env.THREADLINE_MAIL_FROM?.trim() || "Threadline <no-reply@localhost>";
  if (!/@/.test(mailFrom))
    throw new ConfigError(`THREADLINE_MAIL_FROM must contain an e-mail address, got "${mailFrom}".`);
  const allowPrivateTargets = parseCidrList(env.THREADLINE_ALLOW_PRIVATE_TARGETS);
  const tc = env.THREADLINE_TEST_CLOCK?.trim();
  if (tc !== undefined && tc !== "" && tc !== "0" && tc !== "1") {
    throw new ConfigError(`THREADLINE_TEST_CLOCK must be 1 or unset, got "${tc}".`);
  }
  const logLevel = env.LOG_LEVEL?.trim() || "info";
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    throw new ConfigError(
      `LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "${logLevel}".`,
    );
  }
  const rateLimits = parseRateLimits(env);
  const trustProxy = parseCidrList(env.THREADLINE_TRUST_PROXY, "THREADLINE_TRUST_PROXY");
  const rawPause = env.THREADLINE_SEND_PAUSE_MS?.trim();
  if (rawPause && (!/^\d+$/.test(rawPause) || Number(rawPause) > 600_000)) {
    throw new ConfigError(
      `THREADLINE_SEND_PAUSE_MS must be a whole number of milliseconds up to 600000, got "${rawPause}".`,
    );
  }
  const sendPauseMs = rawPause ? Number(rawPause) : 2_000;
  // At least 3 s: leases are renewed on a one-second tick once under two thirds remain.
  const rawLease = env.THREADLINE_WEBHOOK_LEASE_MS?.trim();
  if (rawLease && (!/^\d+$/.test(rawLease) || Number(rawLease) < 3_000 || Number(rawLease) > 600_000)) {
    throw new ConfigError(
      `THREADLINE_WEBHOOK_LEASE_MS must be a whole number of milliseconds from 3000 to 600000, got "${rawLease}".`,
    );
  }
  const webhookLeaseMs = rawLease ? Number(rawLease) : DEFAULT_LEASE_MS;
  const bundleMaxBytes = wholeNumber(
    env,
    "THREADLINE_BUNDLE_MAX_BYTES",
    1024 * 1024,
    65_536,
    64 * 1024 * 1024,
    "bytes",
  );
  const quotas = { ...QUOTA_DEFAULTS };
  for (const [key, name] of Object.entries(QUOTA_ENV) as [keyof Quotas, string][])
    quotas[key] = wholeNumber(env, name, QUOTA_DEFAULTS[key], 1, 1_000_000, "items");
  const metricsToken = env.THREADLINE_METRICS_TOKEN?.trim() || undefined;
  if (metricsToken !== undefined && metricsToken.length < 16)
    throw new ConfigError("THREADLINE_METRICS_TOKEN must be at least 16 characters long.");
  const rawAlert = env.THREADLINE_DISCONNECT_ALERT_MINUTES?.trim();
  if (rawAlert && (!/^\d+$/.test(rawAlert) || Number(rawAlert) < 1 || Number(rawAlert) > 10_080)) {
    throw new ConfigError(
      `THREADLINE_DISCONNECT_ALERT_MINUTES must be a whole number of minutes from 1 to 10080, got "${rawAlert}".`,
    );
  }
  const disconnectAlertMinutes = rawAlert ? Number(rawAlert) : 10;
  const oidc = parseOidc(env);
  const tp = env.THREADLINE_TEST_PASSWORDS?.trim();
  if (tp !== undefined && tp !== "" && !(tp === "1" && tc === "1"))
    throw new ConfigError(
      `THREADLINE_TEST_PASSWORDS is for tests only: 1 with THREADLINE_TEST_CLOCK=1, or unset; got "${tp}".`,
    );
  const tr = env.THREADLINE_TEST_RESPONSES?.trim();
  if (tr !== undefined && tr !== "" && !(tr === "1" && tc === "1"))
    throw new ConfigError(
      `THREADLINE_TEST_RESPONSES is for tests only: 1 with THREADLINE_TEST_CLOCK=1, or unset; got "${tr}".`,
    );
  return {
    port,
    host,
    databaseUrl,
    dataDir,
    publicUrl,
    adminToken,
    smtpUrl,
    mailFrom,
    allowPrivateTargets,
    testClock: tc === "1",
    logLevel,
    rateLimits,
    trustProxy,
    sendPauseMs,
    webhookLeaseMs,
    disconnectAlertMinutes,
    bundleMaxBytes,
    quotas,
    metricsToken,
    oidc,
    testPasswords: tp === "1",
    testResponses: tr === "1",
  };
}

/** A whole number from `min` to `max` (`fallback` when unset); anything else is one sentence naming the variable. */
function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number, unit: string): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new ConfigError(`${name} must be a whole number of ${unit} from ${min} to ${max}, got "${raw}".`);
  return Number(raw);
}
