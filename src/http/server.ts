import { existsSync } from "node:fs";
import path from "node:path";
import Fastify, { type FastifyError } from "fastify";
import cookie from "@fastify/cookie";
import helmet from "helmet";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { apiReference, describeOperations, DOCS_PAGE } from "./openapi.js";
import fastifyStatic from "@fastify/static";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { App } from "./fastify-app.js";
import type { Threadline } from "../app.js";
import { VERSION } from "../app.js";
import { ApiError } from "../errors.js";
import { authHook } from "./auth.js";
import { isTokenRoute, SIGN_IN_ROUTES } from "./route-kinds.js";
import { csrfHook, trustedOrigins } from "./csrf.js";
import { AuthFailures, registerRateLimits } from "./rate-limits.js";
import { badText, jsonDepthOver, MAX_JSON_DEPTH } from "../db/text.js";
import { workspaceRoutes } from "./routes/workspaces.js";
import { peopleRoutes } from "./routes/people.js";
import { ssoRoutes } from "./routes/sso.js";
import { timelineRoutes } from "./routes/timeline.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { systemRoutes } from "./routes/system.js";
import { pageRoutes } from "./routes/pages.js";
import { inboundRoutes } from "./routes/inbound.js";
import { sendingRoutes } from "./routes/sending.js";
import { PACKAGE_ROOT } from "../package-root.js";
import { AJV_OPTIONS, lazySerializers, lazyValidators } from "./lazy-schemas.js";

const WEB_DIST = path.join(PACKAGE_ROOT, "web/dist");
/** What a route without a body (or a sign-in) reads before answering 413. */
export const SMALL_BODY_LIMIT = 4096;

/** `/messages/3/chat` + `external_id` → `messages[3].chat.external_id`. */
function fieldPath(context: string | undefined, instancePath: string, prop?: string): string {
  const parts = instancePath.split("/").filter(Boolean);
  if (prop) parts.push(prop);
  let out = "";
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || (context === "querystring" ? "query" : (context ?? "body"));
}

function validationMessage(err: FastifyError): ApiError {
  const v = err.validation![0]!;
  const params = v.params as Record<string, unknown>;
  const field = fieldPath(
    err.validationContext,
    v.instancePath,
    (params.missingProperty as string | undefined) ?? (params.additionalProperty as string | undefined),
  );
  let what = v.message ?? "is not valid";
  if (params.missingProperty) what = "is required";
  else if (params.allowedValues)
    what = `must be one of ${(params.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(", ")}`;
  else if (params.additionalProperty) what = "is not a known field";
  else if (v.keyword === "maxLength") what = `must be at most ${String(params.limit)} characters`;
  else if (v.keyword === "const") {
    // A union of literals fails one `const` per branch: list them all.
    const allowed = err
      .validation!.filter((x) => x.keyword === "const" && x.instancePath === v.instancePath)
      .map((x) => (x.params as { allowedValue?: unknown }).allowedValue);
    what = `must be one of ${allowed.map((x) => JSON.stringify(x)).join(", ")}`;
  } else if (
    v.keyword === "type" &&
    err.validation!.some((x) => x.keyword === "anyOf" && x.instancePath === v.instancePath)
  ) {
    // A union of types fails one `type` per branch: name every accepted type.
    const types = err
      .validation!.filter((x) => x.keyword === "type" && x.instancePath === v.instancePath)
      .map((x) => (x.params as { type?: string }).type);
    what = `must be ${[...new Set(types)].join(" or ")}`;
  }
  return new ApiError("VALIDATION_ERROR", `${field} ${what}.`, field);
}

/**
 * A request's URL as a log line may carry it: the path tokens of inbound and send URLs (each
 * is a credential) and query values whose name says secret (`hub.verify_token`, `token`,
 * `key`, `signature`, …) replaced by `[redacted]`.
 */
export function redactedUrl(url: string): string {
  const at = url.indexOf("?");
  const path = (at < 0 ? url : url.slice(0, at))
    .replace(/^(\/inbound\/[^/]*\/)[^/]+/, "$1[redacted]")
    .replace(/^(\/hooks\/send\/)[^/]+/, "$1[redacted]");
  if (at < 0) return path;
  const query = url
    .slice(at + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      return eq > 0 &&
        /token|key|secret|signature|password|challenge|session/i.test(decodeURIComponentSafe(pair.slice(0, eq)))
        ? `${pair.slice(0, eq)}=[redacted]`
        : pair;
    })
    .join("&");
  return `${path}?${query}`;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Tests only (THREADLINE_TEST_RESPONSES=1): each JSON answer as its response schema wrote it
 * must be what JSON.stringify writes of the handler's value (whitespace aside), so a schema
 * that leaves a field out, reorders the fields or writes a null as "" fails the test that
 * meets it with a 500 instead of changing the answer unnoticed.
 */
function checkResponses(fastify: App, app: Threadline): void {
  const plain = new WeakMap<object, string>();
  fastify.addHook("preSerialization", async (req, _reply, payload) => {
    plain.set(req, JSON.stringify(payload));
    return payload;
  });
  fastify.addHook("onSend", async (req, reply, payload) => {
    const expected = plain.get(req);
    plain.delete(req);
    if (expected === undefined || typeof payload !== "string") return payload;
    const written = JSON.stringify(JSON.parse(payload));
    if (written === expected) return payload;
    app.log.error(
      { url: redactedUrl(req.url), status: reply.statusCode, expected, written },
      "the response schema changed the answer",
    );
    // Said in the answer itself, so the failing test shows it: where the two part.
    let at = 0;
    while (at < expected.length && expected[at] === written[at]) at++;
    const around = (s: string) => s.slice(Math.max(0, at - 80), at + 80);
    throw new ApiError(
      "INTERNAL",
      `The response schema of ${req.method} ${req.routeOptions.url} changed the answer at character ${at}: expected …${around(expected)}…, written …${around(written)}…`,
    );
  });
}

export async function buildServer(app: Threadline): Promise<App> {
  const fastify = Fastify({
    logger: false,
    bodyLimit: 8 * 1024 * 1024,
    // The client address (rate limits) comes from X-Forwarded-For only behind a trusted proxy.
    trustProxy: app.config.trustProxy,
    ajv: AJV_OPTIONS,
    // Each route's schemas compiled on its first request, not all at start (http/lazy-schemas.ts).
    schemaController: { compilersFactory: { buildValidator: lazyValidators(), buildSerializer: lazySerializers() } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON bodies: nesting bounded on the raw text before anything parses or walks it.
  const parseJson = fastify.getDefaultJsonParser("error", "error");
  fastify.removeContentTypeParser("application/json");
  fastify.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    if (jsonDepthOver(body as string))
      return done(
        new ApiError(
          "VALIDATION_ERROR",
          `body must not nest objects and arrays deeper than ${MAX_JSON_DEPTH} levels.`,
          "body",
        ),
        undefined,
      );
    return parseJson(req, body as string, done);
  });
  // A route that takes no body (and a sign-in, whose body is a key) reads at most a few KiB
  // before refusing it: only authenticated ingest may send megabytes. Token routes set their own.
  fastify.addHook("onRoute", (route) => {
    if (route.bodyLimit !== undefined || isTokenRoute(route.url ?? "")) return;
    if (!(route.schema as { body?: unknown } | undefined)?.body || SIGN_IN_ROUTES.has(route.url ?? ""))
      route.bodyLimit = SMALL_BODY_LIMIT;
  });
  await fastify.register(cookie);
  // Security headers on every answer. The UI is served from 'self' only (Vite emits no inline
  // script or style; React's style props go through the CSSOM, which CSP does not restrict).
  // helmet's middleware is built once here: @fastify/helmet built it again on every request
  // (CSP directives parsed each time) (BENCHMARKS.md, "Behind choices in the code").
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: "deny" },
    referrerPolicy: { policy: "same-origin" },
    // HSTS only means something over https; a plain-http install must not ask for it.
    strictTransportSecurity: app.publicUrl().startsWith("https:") ? { maxAge: 15552000 } : false,
  });
  fastify.addHook("onRequest", (req, reply, done) =>
    securityHeaders(req.raw, reply.raw, (err?: unknown) => done(err as Error | undefined)),
  );
  await fastify.register(swagger, {
    openapi: {
      info: {
        title: "Threadline API",
        version: VERSION,
        description: "WhatsApp conversations to CRMs and automations through outgoing webhooks.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    transformObject: (doc) =>
      "openapiObject" in doc ? describeOperations(doc.openapiObject, apiReference()) : doc.swaggerObject,
  });
  // The rendered reference at /docs (and the document at /docs/json), served from the
  // swagger-ui-dist package: no CDN, so it works offline and under a strict CSP.
  await fastify.register(swaggerUi, { routePrefix: "/docs", ...DOCS_PAGE });

  fastify.addHook("onRequest", async (req) => {
    (req as any).startedAt = process.hrtime.bigint();
  });
  fastify.addHook("onResponse", async (req, reply) => {
    const started = (req as any).startedAt as bigint | undefined;
    if (started && req.routeOptions.url) {
      app.metrics.http.observe(
        { method: req.method, route: req.routeOptions.url, status: String(reply.statusCode) },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    }
  });
  // Before any body is read: the CSRF rule, then authentication (401 before parsing), then
  // request rates (route hooks of @fastify/rate-limit, which run after these).
  const failures = new AuthFailures(app.config.rateLimits.authFailures);
  fastify.decorate("authFailures", failures);
  // No route: answered before a body is read (the UI's pages are GETs, served below).
  fastify.addHook("onRequest", async (req) => {
    if (req.is404 && req.method !== "GET" && req.method !== "HEAD")
      throw new ApiError("NOT_FOUND", `No route ${req.method} ${req.url.split("?")[0]}.`);
  });
  fastify.addHook("onRequest", csrfHook(trustedOrigins(app)));
  fastify.addHook("onRequest", authHook(app, failures));
  await registerRateLimits(fastify, app.config.rateLimits);
  // One rule for stored text, whatever the route: no NUL byte (PostgreSQL cannot store it) and
  // no string over 64 KiB; the schemas set the tighter limits of ids and names.
  fastify.addHook("preValidation", async (req) => {
    const bad = badText(req.params) ?? badText(req.query) ?? badText(req.body);
    if (bad) throw new ApiError("VALIDATION_ERROR", `${bad.field || "body"} ${bad.problem}`, bad.field || "body");
  });
  // Answers of the API may carry secrets (keys, signing secrets, logs): never cached.
  fastify.addHook("onSend", async (req, reply, payload) => {
    if (req.url.startsWith("/api/")) void reply.header("cache-control", "no-store");
    return payload;
  });

  if (app.config.testResponses) checkResponses(fastify, app);

  fastify.setErrorHandler((err: FastifyError, req, reply) => {
    let e: ApiError;
    if (err instanceof ApiError) e = err;
    else if (err.validation) e = validationMessage(err);
    else if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      e = new ApiError("PAYLOAD_TOO_LARGE", "The request body is too large.");
    else if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
      e = new ApiError("UNSUPPORTED_MEDIA_TYPE", "Send the body as JSON with Content-Type: application/json.");
    else if (err.code === "FST_ERR_CTP_EMPTY_JSON_BODY")
      e = new ApiError("VALIDATION_ERROR", "body is required: send a JSON object.", "body");
    else if (err instanceof SyntaxError || err.code === "FST_ERR_CTP_INVALID_JSON_BODY")
      e = new ApiError("INVALID_JSON", `The body is not valid JSON: ${err.message}`);
    else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
      e = new ApiError("VALIDATION_ERROR", err.message);
    else {
      app.log.error({ err, url: redactedUrl(req.url), method: req.method }, "request failed");
      e = new ApiError(
        "INTERNAL",
        "Something went wrong on our side; nothing you sent was stored. Try again, and check the server log if it persists.",
      );
    }
    const body: { error: { code: string; message: string; field?: string } } = {
      error: { code: e.code, message: e.message },
    };
    if (e.field) body.error.field = e.field;
    void reply.status(e.status).send(body);
  });

  await fastify.register(systemRoutes(app));
  await fastify.register(workspaceRoutes(app));
  await fastify.register(peopleRoutes(app));
  await fastify.register(ssoRoutes(app));
  await fastify.register(timelineRoutes(app));
  await fastify.register(webhookRoutes(app));
  await fastify.register(inboundRoutes(app));
  await fastify.register(sendingRoutes(app));
  await fastify.register(pageRoutes(app, WEB_DIST));

  // Decided once: npm install builds the UI before the server starts.
  const hasWeb = existsSync(path.join(WEB_DIST, "index.html"));
  if (hasWeb) {
    await fastify.register(fastifyStatic, { root: WEB_DIST, prefix: "/", wildcard: false, index: false });
  }
  fastify.setNotFoundHandler((req, reply) => {
    if (hasWeb && req.method === "GET" && !req.url.startsWith("/api/")) {
      return reply.type("text/html").sendFile("index.html");
    }
    return reply
      .status(404)
      .send({ error: { code: "NOT_FOUND", message: `No route ${req.method} ${req.url.split("?")[0]}.` } });
  });
  return fastify;
}
