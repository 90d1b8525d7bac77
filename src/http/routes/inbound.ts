import { Type } from "typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../fastify-app.js";
import type { Threadline } from "../../app.js";
import { accountForInbound, type AccountRow } from "../../accounts/service.js";
import { InboundAnswer } from "../../accounts/schemas.js";
import { adapterFor } from "../../sources/index.js";
import { receiveInbound } from "../../sources/receive.js";
import { SourceAuthError } from "../../sources/types.js";
import { ApiError, notFound } from "../../errors.js";
import { InFlight, quotaExceeded } from "../../workspaces/quotas.js";

export const INBOUND_BODY_LIMIT = 1024 * 1024;

/**
 * The query as single strings. A repeated parameter (`?a=1&a=2`) arrives as an array; it is
 * ambiguous, so the adapter sees it as absent (a repeated hub.verify_token is refused, not a 500).
 */
function singleValues(query: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>))
    out[k] = typeof v === "string" ? v : undefined;
  return out;
}

/** Gateways post here (`inbound_url`): the path token picks the account, the source checks its own signature. */
export function inboundRoutes(app: Threadline) {
  return async (f: App) => {
    // Signatures are over the exact bytes: keep the raw body in this scope.
    f.removeAllContentTypeParsers();
    f.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: INBOUND_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );

    const Params = Type.Object({ source: Type.String(), token: Type.String() });
    // Before the body is read: the path token must name an account (else it counts as a failed
    // authentication), and its workspace must have room for one more request in flight.
    const inFlight = new InFlight(app.config.quotas.inboundInFlight);
    f.addHook("onRequest", async (req) => {
      const { source, token } = req.params as { source: string; token: string };
      const row = adapterFor(source) ? await accountForInbound(app.db, source, token) : undefined;
      if (!row) {
        req.server.authFailures.failed(req);
        throw notFound("The inbound URL");
      }
      if (!inFlight.enter(row.workspace_id)) throw quotaExceeded("inboundInFlight", app.config.quotas);
      (req as { inboundAccount?: AccountRow }).inboundAccount = row;
    });
    // Once answered, or abandoned by the client: the request leaves its workspace's count.
    const leave = async (req: { inboundAccount?: AccountRow; inboundLeft?: boolean }) => {
      if (!req.inboundAccount || req.inboundLeft) return;
      req.inboundLeft = true;
      inFlight.leave(req.inboundAccount.workspace_id);
    };
    f.addHook("onResponse", (req) => leave(req as never));
    f.addHook("onRequestAbort", (req) => leave(req as never));
    const handler = async (req: FastifyRequest<{ Params: { source: string } }>, reply: FastifyReply) => {
      const row = (req as { inboundAccount?: AccountRow }).inboundAccount!;
      const request = {
        method: req.method as "GET" | "POST",
        query: singleValues(req.query),
        headers: req.headers,
        rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      };
      const received = await receiveInbound(app, adapterFor(req.params.source)!, row, request).catch((e: unknown) => {
        if (!(e instanceof SourceAuthError)) throw e;
        req.server.authFailures.failed(req);
        throw new ApiError("UNAUTHORIZED", e.message);
      });
      if (received.kind === "reply")
        return reply.status(received.status).type(received.contentType).send(received.body);
      return received.answer;
    };
    const schema = { hide: true, params: Params, response: { 200: InboundAnswer } };
    f.get("/inbound/:source/:token", { config: { auth: "public" }, schema }, handler);
    f.post("/inbound/:source/:token", { config: { auth: "public" }, schema }, handler);
  };
}
