import { Type } from "typebox";
import type { App } from "../fastify-app.js";
import type { Threadline } from "../../app.js";
import { notFound } from "../../errors.js";
import { audit } from "../../audit/index.js";
import { whoOf } from "../auth.js";
import { enqueueSend, getMessageWithSend, type SendInput } from "../../sending/queue.js";
import { getSendUrl, regenerateSendUrl, workspaceForSendToken } from "../../sending/send-url.js";
import { IdParams, IdString, NameString, TextString } from "./common.js";
import { NoContent } from "../../schemas.js";
import { MessageWithSend } from "../../timeline/schemas.js";
import { NewSendUrl, SendQueued, SendUrl } from "../../sending/schemas.js";

/** The body of a send, as JSON or as form fields (the capability URL takes both). */
const SendBody = Type.Object({
  account_phone: Type.Optional(IdString()),
  phone: Type.Optional(IdString()),
  chat_id: Type.Optional(IdString()),
  text: TextString(),
  teammate_email: Type.Optional(NameString()),
});

/** Sending WhatsApp messages from Threadline: the API, the capability URL, and message reads. */
export function sendingRoutes(app: Threadline) {
  const send = async (workspaceId: string, body: SendInput, sender?: string) => {
    const { id, accountId } = await enqueueSend(app.db, app.clock, workspaceId, body, sender);
    app.sender.wake(accountId);
    return { message_id: id, status: "queued" as const };
  };
  return async (f: App) => {
    f.post(
      "/api/v1/messages/send",
      {
        config: { auth: "workspace", role: "member" },
        schema: { tags: ["messages"], body: SendBody, response: { 202: SendQueued } },
      },
      async (req, reply) => reply.status(202).send(await send(req.workspaceId, req.body, req.person?.teammate.id)),
    );
    f.get(
      "/api/v1/messages/:id",
      {
        config: { auth: "workspace", role: "member" },
        schema: { tags: ["messages"], params: IdParams, response: { 200: MessageWithSend } },
      },
      async (req) => getMessageWithSend(app.db, req.workspaceId, req.params.id, app.publicUrl()),
    );
    f.get(
      "/api/v1/send-url",
      { config: { auth: "workspace", role: "admin" }, schema: { tags: ["messages"], response: { 200: SendUrl } } },
      async (req) => getSendUrl(app.db, req.workspaceId, app.publicUrl()),
    );
    f.post(
      "/api/v1/send-url",
      { config: { auth: "workspace", role: "admin" }, schema: { tags: ["messages"], response: { 201: NewSendUrl } } },
      async (req, reply) => {
        const url = await regenerateSendUrl(app.db, app.clock, req.workspaceId, app.publicUrl());
        await audit(app.db, app.clock, req.workspaceId, whoOf(req), {
          action: "send_url.regenerated",
          object: { type: "send_url", id: req.workspaceId },
        });
        return reply.status(201).send(url);
      },
    );

    // The capability URL: the token in the path is the credential (no key, no cookie; so the
    // CSRF rule, which guards cookie-authenticated changes, lets a request without one through).
    // Any site's page may call it (CORS without credentials): whoever holds the URL may send
    // anyway, and a browser never attaches Threadline's cookie to such a request.
    await f.register(async (hooks: App) => {
      hooks.addHook("onSend", async (_req, reply) => {
        reply.header("access-control-allow-origin", "*");
      });
      hooks.options(
        "/hooks/send/:token",
        {
          config: { auth: "public" },
          schema: { hide: true, params: Type.Object({ token: IdString() }), response: { 204: NoContent } },
        },
        async (_req, reply) =>
          reply
            .status(204)
            .header("access-control-allow-methods", "POST")
            .header("access-control-allow-headers", "content-type")
            .header("access-control-max-age", "86400")
            .send(),
      );
      // The token is the credential: checked before the body is read, an unknown one counting as a failed authentication.
      hooks.addHook("onRequest", async (req) => {
        if (req.method !== "POST") return;
        const ws = await workspaceForSendToken(app.db, (req.params as { token: string }).token);
        if (!ws) {
          req.server.authFailures.failed(req);
          throw notFound("The send URL");
        }
        (req as { sendWorkspace?: string }).sendWorkspace = ws;
      });
      hooks.addContentTypeParser(
        "application/x-www-form-urlencoded",
        { parseAs: "string", bodyLimit: 128 * 1024 },
        (_req, body, done) => {
          done(null, Object.fromEntries(new URLSearchParams(body as string)));
        },
      );
      hooks.post(
        "/hooks/send/:token",
        {
          config: { auth: "public" },
          bodyLimit: 128 * 1024,
          schema: {
            tags: ["messages"],
            params: Type.Object({ token: IdString() }),
            body: SendBody,
            response: { 202: SendQueued },
            security: [],
          },
        },
        async (req, reply) =>
          reply.status(202).send(await send((req as { sendWorkspace?: string }).sendWorkspace!, req.body)),
      );
    });
  };
}
