import { Type } from "typebox";
import type { App } from "../server.js";
import type { Threadline } from "../../app.js";
import { accountForInbound, sourceAccount } from "../../accounts/service.js";
import { adapterFor } from "../../sources/index.js";
import { SourceAuthError, SourceInputError } from "../../sources/types.js";
import { ingestMessages } from "../../ingest/ingest.js";
import { ApiError, notFound } from "../errors.js";

export const INBOUND_BODY_LIMIT = 1024 * 1024;

/**
 * The query as single strings. A repeated parameter (`?a=1&a=2`) arrives as an array; it is
 * ambiguous, so the adapter sees it as absent (a repeated hub.verify_token is refused, not a 500).
 */
function singleValues(query: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) out[k] = typeof v === "string" ? v : undefined;
  return out;
}

/** Gateways post here (`inbound_url`): the path token picks the account, the source checks its own signature. */
export function inboundRoutes(app: Threadline) {
  return async (f: App) => {
    // Signatures are over the exact bytes: keep the raw body in this scope.
    f.removeAllContentTypeParsers();
    f.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: INBOUND_BODY_LIMIT }, (_req, body, done) => done(null, body));

    const Params = Type.Object({ source: Type.String(), token: Type.String() });
    const handler = async (req: any, reply: any) => {
      const { source, token } = req.params as { source: string; token: string };
      const adapter = adapterFor(source);
      const row = adapter ? await accountForInbound(app.db, source, token) : undefined;
      if (!adapter || !row) {
        req.server.authFailures.failed(req);
        throw notFound("The inbound URL");
      }
      let outcome;
      try {
        outcome = adapter.handleInbound(sourceAccount(row), {
          method: req.method as "GET" | "POST",
          query: singleValues(req.query),
          headers: req.headers,
          rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        });
      } catch (e) {
        if (e instanceof SourceAuthError) {
          req.server.authFailures.failed(req);
          throw new ApiError("UNAUTHORIZED", e.message);
        }
        if (e instanceof SourceInputError) throw new ApiError("VALIDATION_ERROR", e.message, e.field);
        throw e;
      }
      if (outcome.kind === "reply") return reply.status(outcome.status).type(outcome.contentType).send(outcome.body);
      if (outcome.messages.length === 0) return { ok: true, accepted: 0, duplicates: 0, skipped: 0 };
      const messages = outcome.messages;
      const r = await ingestMessages(app.db, app.clock, row.workspace_id, messages, { onCommitted: app.onIngested });
      return { ok: true, accepted: r.accepted, duplicates: r.duplicates, skipped: r.skipped };
    };
    f.get("/inbound/:source/:token", { config: { auth: "public" }, schema: { hide: true, params: Params } }, handler);
    f.post("/inbound/:source/:token", { config: { auth: "public" }, schema: { hide: true, params: Params } }, handler);
  };
}
