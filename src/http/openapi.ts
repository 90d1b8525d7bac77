/**
 * What /docs shows beyond what @fastify/swagger derives from the route schemas: each
 * operation's summary (the table below), its description (its own paragraph of docs/api.md,
 * the reference people read, so the two never say different things), the errors it can
 * answer, and request examples with real-looking values instead of "string".
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { ERROR_STATUS, type ErrorCode } from "../errors.js";
import { PACKAGE_ROOT } from "../package-root.js";

/** One line per operation, keyed as docs/api.md writes it (path parameters as `{}`). */
export const SUMMARIES: Readonly<Record<string, string>> = {
  "GET /healthz": "Whether the server and its database answer",
  "GET /metrics": "Prometheus metrics",
  "POST /api/v1/workspaces": "Create a workspace (operator)",
  "GET /api/v1/workspaces": "List the workspaces, a page at a time (operator)",
  "DELETE /api/v1/workspaces/{}": "Delete a workspace and everything of it, its webhooks stopped first (operator)",
  "GET /api/v1/workspace": "The workspace of this credential",
  "PATCH /api/v1/workspace": "Rename the workspace or change its time zone (owner)",
  "POST /api/v1/workspace/api_key": "Rotate the workspace API key",
  "GET /api/v1/notifications": "E-mails and alerts sent or kept for this workspace",
  "POST /api/v1/session": "Sign in with e-mail and password (sets the session cookie)",
  "GET /api/v1/session": "The workspace and who is signed in",
  "DELETE /api/v1/session": "Sign out",
  "GET /api/v1/me": "Who is signed in",
  "GET /api/v1/me/sessions": "The signed-in person's sessions",
  "DELETE /api/v1/me/sessions/{}": "End one of your sessions",
  "POST /api/v1/sign-in-links": "E-mail a one-time sign-in link",
  "POST /api/v1/sign-in-links/accept": "Sign in with a one-time link",
  "POST /api/v1/password-resets": "E-mail a password reset link",
  "POST /api/v1/password-resets/accept": "Set a new password with a reset link, and sign in",
  "GET /api/v1/sso": "Whether single sign-on is offered",
  "POST /api/v1/teammates": "Add a person without a password (admin)",
  "GET /api/v1/teammates": "List the people and their roles",
  "PATCH /api/v1/teammates/{}": "Change a person's role (admin; owner for owners)",
  "DELETE /api/v1/teammates/{}": "Remove a person: their sessions end at once (admin)",
  "POST /api/v1/invitations": "Invite a person with a role (admin)",
  "GET /api/v1/invitations": "The open invitations (admin)",
  "DELETE /api/v1/invitations/{}": "Withdraw an invitation (admin)",
  "POST /api/v1/invitations/accept": "Accept an invitation with a password, and sign in",
  "POST /api/v1/api-keys": "Create a named API key, shown once (admin)",
  "GET /api/v1/api-keys": "List the API keys (admin)",
  "DELETE /api/v1/api-keys/{}": "Revoke an API key at once (admin)",
  "GET /api/v1/audit": "The audit log: who changed what (admin)",
  "POST /api/v1/accounts": "Connect a WhatsApp account",
  "GET /api/v1/accounts": "List the WhatsApp accounts",
  "GET /api/v1/accounts/{}": "One WhatsApp account",
  "DELETE /api/v1/accounts/{}":
    "Delete a WhatsApp account: its inbound URL stops at once; ?purge=true deletes its chats and messages too (admin)",
  "GET /api/v1/accounts/{}/inbound-events": "What an account's gateway sent that could not be read as messages",
  "POST /api/v1/messages": "Ingest messages (source api)",
  "GET /api/v1/chats": "List the chats, most recent first (the Timeline)",
  "GET /api/v1/chats/{}": "One chat",
  "PATCH /api/v1/chats/{}": "Assign a chat's responsible teammate",
  "GET /api/v1/chats/{}/messages": "A chat's messages, oldest first",
  "POST /api/v1/chats/{}/messages": "Send a message in a chat from Threadline",
  "GET /api/v1/permalinks/{}": "The message a permalink points at",
  "GET /api/v1/messages/export": "Export messages as NDJSON, one payload per line",
  "POST /api/v1/webhooks": "Create an outgoing webhook",
  "GET /api/v1/webhooks": "List the outgoing webhooks",
  "POST /api/v1/webhooks/check-target": "Whether a delivery URL would be allowed",
  "GET /api/v1/webhooks/{}": "One outgoing webhook, with its health",
  "PATCH /api/v1/webhooks/{}": "Change a webhook's settings, switch it on or off",
  "DELETE /api/v1/webhooks/{}": "Delete a webhook",
  "GET /api/v1/webhooks/{}/activity": "A webhook's 10 latest actions",
  "GET /api/v1/webhooks/{}/log": "Download a webhook's 100 latest requests",
  "GET /api/v1/webhooks/{}/deliveries": "A webhook's kept deliveries, filtered",
  "POST /api/v1/webhooks/{}/deliveries/{}/resend": "Send a kept delivery again, same webhook-id",
  "GET /api/v1/webhooks/{}/parked": "A webhook's parked deliveries (set aside after Threadline's own errors)",
  "POST /api/v1/webhooks/{}/parked/{}/resend": "Send a parked delivery again, by hand",
  "GET /api/v1/webhooks/{}/stats": "A webhook's deliveries per hour",
  "POST /api/v1/webhooks/{}/retry": "A failing webhook tries what waits now",
  "POST /api/v1/webhooks/{}/flush": "Send an aggregated webhook's open window now",
  "GET /api/v1/webhooks/{}/preview": "The digest an aggregated webhook would send for a chat now",
  "GET /api/v1/webhooks/{}/sample": "An example payload of this webhook, to map fields",
  "POST /api/v1/webhooks/{}/test": "Send a test event",
  "POST /api/v1/webhooks/{}/rotate-secret": "Rotate the signing secret",
  "GET /api/v1/webhooks/{}/secret": "The signing secret",
  "POST /api/v1/webhooks/{}/replay": "Deliver a range again, under the first deliveries' webhook-ids",
  "GET /api/v1/webhooks/{}/replay": "A webhook's latest replay and its progress",
  "DELETE /api/v1/webhooks/{}/replay": "Cancel the running replay",
  "GET /api/v1/webhooks/{}/replay/count": "How many messages a replay of a range would send",
  "POST /api/v1/messages/send": "Queue a WhatsApp message to send",
  "GET /api/v1/messages/{}": "One message, with its send status",
  "GET /api/v1/send-url": "The send URL",
  "POST /api/v1/send-url": "Generate a new send URL",
  "POST /api/v1/_test/clock": "Move the clock forward (tests only: THREADLINE_TEST_CLOCK=1)",
  "POST /hooks/send/{}": "Send through the send URL (no key: the URL is the credential)",
};

/** `GET /api/v1/chats/{chat_id}` → `GET /api/v1/chats/{}`: parameter names may differ between the code and the prose. */
export function operationKey(method: string, route: string): string {
  return `${method.toUpperCase()} ${route.replace(/\{[^}]*\}/g, "{}").replace(/\/$/, "")}`;
}

interface Block {
  text: string;
  /** A JSON example that directly follows the block (a request body in docs/api.md). */
  json?: unknown;
}

/**
 * docs/api.md as blocks (paragraphs, list items with their continuation lines): an
 * operation's description is the first block that names it, with the blocks after it in its
 * section that name no other operation (the bullets and notes that explain it).
 */
export function referenceBlocks(markdown: string): Map<string, Block> {
  const byOperation = new Map<string, Block>();
  const lines = markdown.split("\n");
  let current: string[] = [];
  let last: Block | undefined;
  const close = () => {
    if (current.length === 0) return;
    const text = current.join("\n").trim();
    current = [];
    const named = [...text.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^\s`?]*)/g)].map((m) =>
      operationKey(m[1]!, m[2]!),
    );
    if (named.length === 0 && last) {
      last.text += `\n\n${text}`;
      return;
    }
    const block: Block = { text: text.replace(/^- /, "") };
    for (const key of named) if (!byOperation.has(key)) byOperation.set(key, block);
    last = named.length ? block : undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith("```")) {
      close();
      const end = lines.indexOf("```", i + 1);
      const body = lines.slice(i + 1, end < 0 ? lines.length : end).join("\n");
      if (line.startsWith("```json") && last && last.json === undefined) {
        try {
          last.json = JSON.parse(body);
        } catch {
          // prose in a json fence: not an example
        }
      }
      i = end < 0 ? lines.length : end;
    } else if (line.trim() === "" || line.startsWith("|")) {
      close();
    } else if (line.startsWith("#")) {
      close();
      last = undefined;
    } else if (line.startsWith("- ") && current.length > 0) {
      close();
      current.push(line);
    } else current.push(line);
  }
  close();
  return byOperation;
}

/** Example values by field name, as a user of the API would send them. */
const EXAMPLE_STRINGS: Readonly<Record<string, string>> = {
  name: "Acme",
  full_name: "John Doe",
  email: "amnon@acme.com",
  owner_email: "amnon@acme.com",
  teammate_email: "dana@acme.com",
  password: "correct horse battery staple",
  token: "tli_Xq3vJ9kD2mP8wR5tY7uZ1aB4cE6fG0hI",
  responsible_email: "dana@acme.com",
  phone: "+972540000000",
  account_phone: "+972500000000",
  timezone: "Europe/Paris",
  url: "https://hooks.zapier.com/hooks/catch/123456/abcdef/",
  text: "Hi! How are you? 👋",
  since: "2026-11-29T09:00:00Z",
  until: "2026-11-30T09:00:00Z",
  api_key: "tlk_…",
  external_id: "972540000000@s.whatsapp.net",
  base_url: "https://waha.example.com",
  session: "default",
  chat_id: "42",
  account: "+972500000000",
  source: "waha",
  responsible: "dana@acme.com",
  status: "failed",
  purge: "true",
};

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  example?: unknown;
  examples?: unknown[];
  format?: string;
  minimum?: number;
  default?: unknown;
};

/** Free-form objects, by field name: a WAHA account's gateway settings (docs/SOURCES.md). */
const EXAMPLE_OBJECTS: Readonly<Record<string, object>> = {
  source_config: { base_url: "http://waha:3000", api_key: "<WAHA's X-Api-Key>", session: "default" },
};

/** A value for `schema` under the field name `name`: its own example, else one from the tables. */
export function exampleOf(schema: Schema, name = ""): unknown {
  if (schema.example !== undefined) return schema.example;
  if (EXAMPLE_OBJECTS[name]) return EXAMPLE_OBJECTS[name];
  if (schema.examples?.length) return schema.examples[0];
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum.find((v) => v !== "none" && v !== null) ?? schema.enum[0];
  const choices = (schema.anyOf ?? schema.oneOf)?.filter((s) => s.type !== "null").map((s) => exampleOf(s, name));
  if (choices?.length) return choices.find((v) => v !== "none") ?? choices[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (type === "object" || schema.properties) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema.properties ?? {})) out[k] = exampleOf(v, k);
    return out;
  }
  if (type === "array") return schema.items ? [exampleOf(schema.items, name.replace(/s$/, ""))] : [];
  if (type === "integer" || type === "number")
    return name === "limit" ? 50 : name.endsWith("_ms") ? 2000 : (schema.default ?? schema.minimum ?? 1);
  if (type === "boolean") return name === "enabled";
  if (EXAMPLE_STRINGS[name]) return EXAMPLE_STRINGS[name];
  if (schema.format === "date-time") return "2026-11-29T09:00:00Z";
  if (schema.format === "email") return "amnon@acme.com";
  if (schema.format === "uri") return "https://example.com/";
  return `<${name || "value"}>`;
}

/** An id as the API answers it, by the collection it is in (`/webhooks/{id}` → `wh_…`). */
const ID_EXAMPLES: Readonly<Record<string, string>> = {
  webhooks: "wh_01jdz3k7q8m2x4v6b9n0c1p5r7",
  workspaces: "ws_01jdz3k7q8m2x4v6b9n0c1p5r7",
  accounts: "acc_01jdz3k7q8m2x4v6b9n0c1p5r7",
  chats: "42",
  messages: "01JDZ3K7Q8M2X4V6B9N0C1P5R7",
  permalinks: "7d0f6f4e-2b8a-4c7e-9a51-3f2d8e6b1c90",
  deliveries: "msg_01JDZ3K7Q8M2X4V6B9N0C1P5R7_6b9n0c1p5r",
  send: "snd_Xk4hQ2m9VbT7rLp0sWc3yZ8e",
};

function pathExample(route: string, param: string): string {
  const segments = route.split("/");
  const collection = segments[segments.indexOf(`{${param}}`) - 1] ?? "";
  return ID_EXAMPLES[collection] ?? `<${param}>`;
}

const ERROR_SCHEMA = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string", enum: Object.keys(ERROR_STATUS) },
        message: { type: "string" },
        field: { type: "string" },
      },
    },
  },
};

const ERROR_EXAMPLES: Partial<Record<ErrorCode, { message: string; field?: string }>> = {
  VALIDATION_ERROR: { message: "url: must be an http(s) URL.", field: "url" },
  UNAUTHORIZED: { message: "A valid API key is required: send Authorization: Bearer <key>." },
  NOT_FOUND: { message: "The webhook was not found." },
  RATE_LIMITED: { message: "Too many requests; try again in 12 s." },
};

type Operation = {
  summary?: string;
  description?: string;
  parameters?: { name: string; in: string; schema?: Schema; example?: unknown }[];
  requestBody?: { content?: Record<string, { schema?: Schema; example?: unknown }> };
  responses?: Record<string, unknown>;
  security?: unknown[];
};

/** The creations a workspace's quota bounds (workspaces/quotas.ts). */
const QUOTA_ROUTES = new Set(["POST /api/v1/webhooks", "POST /api/v1/accounts", "POST /api/v1/teammates"]);

/** The errors an operation can answer, from what it takes and how it is authenticated. */
function errorsOf(key: string, op: Operation): ErrorCode[] {
  const codes: ErrorCode[] = [];
  if (op.requestBody || op.parameters?.some((p) => p.in === "query")) codes.push("VALIDATION_ERROR");
  if (op.requestBody) codes.push("INVALID_JSON", "PAYLOAD_TOO_LARGE");
  const open = key === "GET /healthz" || (Array.isArray(op.security) && op.security.length === 0);
  if (!open) codes.push("UNAUTHORIZED", "FORBIDDEN");
  if (!open && !key.startsWith("GET ")) codes.push("CROSS_ORIGIN");
  if (key.includes("{}")) codes.push("NOT_FOUND");
  if (QUOTA_ROUTES.has(key)) codes.push("QUOTA_EXCEEDED");
  if (key !== "GET /healthz") codes.push("RATE_LIMITED");
  return codes;
}

/** Adds summaries, descriptions, errors and examples to the document @fastify/swagger built. */
export function describeOperations<T extends { paths?: object }>(doc: T, reference: Map<string, Block>): T {
  for (const [route, item] of Object.entries(
    (doc.paths ?? {}) as Record<string, Record<string, unknown> | undefined>,
  )) {
    for (const [method, value] of Object.entries(item ?? {})) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const op = value as Operation;
      const key = operationKey(method, route);
      const block = reference.get(key);
      op.summary ??= SUMMARIES[key];
      const errors = errorsOf(key, op);
      const errorLine = errors.length
        ? `Errors: ${errors.map((c) => `\`${c}\` (${ERROR_STATUS[c]})`).join(", ")}; every error is \`{"error": {"code", "message", "field"?}}\`.`
        : undefined;
      op.description = [block?.text, errorLine].filter(Boolean).join("\n\n");
      op.responses ??= {};
      for (const status of new Set(errors.map((c) => ERROR_STATUS[c]))) {
        const codes = errors.filter((c) => ERROR_STATUS[c] === status);
        const sample = ERROR_EXAMPLES[codes[0]!] ?? { message: "…" };
        op.responses[String(status)] ??= {
          description: codes.join(" or "),
          content: { "application/json": { schema: ERROR_SCHEMA, example: { error: { code: codes[0], ...sample } } } },
        };
      }
      for (const p of op.parameters ?? [])
        p.example ??= p.in === "path" ? pathExample(route, p.name) : p.schema ? exampleOf(p.schema, p.name) : undefined;
      const json = op.requestBody?.content?.["application/json"];
      if (json?.schema) json.example ??= block?.json ?? exampleOf(json.schema);
    }
  }
  return doc;
}

let cached: Map<string, Block> | undefined;
/** docs/api.md, read once per process (it ships with the package). */
export function apiReference(): Map<string, Block> {
  return (cached ??= referenceBlocks(readFileSync(path.join(PACKAGE_ROOT, "docs/api.md"), "utf8")));
}

const LOGO = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 32" width="160" height="32"><rect width="32" height="32" rx="8" fill="#0f766e"/><path d="M8 11h16M8 16h11M8 21h7" stroke="white" stroke-width="3" stroke-linecap="round"/><text x="42" y="23" font-family="system-ui, sans-serif" font-size="19" font-weight="600" fill="white">Threadline</text></svg>`;

/**
 * The /docs page: Threadline's name and mark, and a CSP that lets Swagger UI set the inline
 * styles it applies from script (the rest of the policy stays as strict as the app's).
 */
export const DOCS_PAGE = {
  uiConfig: { docExpansion: "list", deepLinking: true },
  logo: { type: "image/svg+xml", content: Buffer.from(LOGO), href: "/docs", target: "_self" },
  theme: { title: "Threadline API" },
  transformStaticCSP: (header: string) => header.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
} as const;
