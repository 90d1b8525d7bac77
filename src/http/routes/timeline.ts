import type { Readable } from "node:stream";
import { Type } from "typebox";
import type { App } from "../fastify-app.js";
import type { Threadline } from "../../app.js";
import { MAX_BATCH } from "../../ingest/ingest.js";
import type { IngestMessage } from "../../ingest/types.js";
import {
  chatHistory,
  chatView,
  findPermalink,
  getChat,
  getMessage,
  listChats,
  listMessages,
  messageView,
  renameChat,
  setResponsible,
} from "../../timeline/service.js";
import { getWorkspace } from "../../workspaces/service.js";
import { findTeammateByEmail } from "../../workspaces/teammates.js";
import { getAccount, sourceAccount } from "../../accounts/service.js";
import { adapterFor } from "../../sources/index.js";
import { ulid } from "../../db/ids.js";
import { ApiError, invalid } from "../../errors.js";
import { audit } from "../../audit/index.js";
import { whoOf } from "../auth.js";
import { pendingSends, withSendStatus } from "../../sending/queue.js";
import { sentMessage } from "../../sending/sender.js";
import { exportMessages } from "../../timeline/export.js";
import { parseIsoTime } from "../../clock/iso-time.js";
import { IdParams, IdString, ListQuery, NameString, parseLimit, TextString } from "./common.js";
import { IngestAnswer } from "../../ingest/schemas.js";
import { Chat, ChatPage, ChatWithHistory, Message, MessagePage, Permalink } from "../../timeline/schemas.js";

const Party = Type.Object({ full_name: Type.Optional(NameString()), phone: Type.Optional(IdString()) });

export const IngestEntry = Type.Object({
  account_phone: IdString({ minLength: 1 }),
  chat: Type.Object({
    external_id: IdString({ minLength: 1 }),
    full_name: Type.Optional(NameString()),
    is_group: Type.Optional(Type.Boolean()),
    phone: Type.Optional(IdString()),
    alias_id: Type.Optional(IdString()),
    name_source: Type.Optional(Type.Union([Type.Literal("push"), Type.Literal("gateway")])),
  }),
  external_id: IdString({ minLength: 1 }),
  direction: Type.Union([Type.Literal("received"), Type.Literal("sent")]),
  timestamp: Type.Union([IdString({ minLength: 1 }), Type.Number()]),
  type: IdString({ minLength: 1 }),
  text: Type.Optional(TextString()),
  sender: Type.Optional(Party),
  recipient: Type.Optional(Party),
});

export function timelineRoutes(app: Threadline) {
  return async (f: App) => {
    f.post(
      "/api/v1/messages",
      {
        config: { auth: "workspace", role: "admin" },
        schema: {
          tags: ["messages"],
          body: Type.Object({ messages: Type.Array(IngestEntry, { minItems: 1, maxItems: MAX_BATCH }) }),
          response: { 202: IngestAnswer },
        },
      },
      async (req, reply) => {
        const r = await app.ingest(req.workspaceId, req.body.messages as IngestMessage[]);
        return reply
          .status(202)
          .send({ accepted: r.accepted, duplicates: r.duplicates, skipped: r.skipped, results: r.results });
      },
    );

    f.get(
      "/api/v1/chats",
      {
        config: { auth: "workspace", role: "member" },
        schema: { tags: ["chats"], querystring: ListQuery, response: { 200: ChatPage } },
      },
      async (req) => {
        const r = await listChats(app.db, req.workspaceId, {
          limit: parseLimit(req.query.limit),
          cursor: req.query.cursor,
          q: req.query.q,
        });
        return { items: r.items.map((c) => chatView(c, app.publicUrl())), next_cursor: r.next_cursor };
      },
    );
    f.get(
      "/api/v1/chats/:id",
      {
        config: { auth: "workspace", role: "member" },
        schema: { tags: ["chats"], params: IdParams, response: { 200: ChatWithHistory } },
      },
      async (req) => {
        const chat = await getChat(app.db, req.workspaceId, req.params.id);
        return { ...chatView(chat, app.publicUrl()), history: await chatHistory(app.db, chat.id) };
      },
    );
    f.patch(
      "/api/v1/chats/:id",
      {
        config: { auth: "workspace", role: "member" },
        schema: {
          tags: ["chats"],
          params: IdParams,
          body: Type.Object({
            responsible_email: Type.Optional(Type.Union([NameString(), Type.Null()])),
            full_name: Type.Optional(NameString({ minLength: 1 })),
          }),
          response: { 200: Chat },
        },
      },
      async (req) => {
        const { responsible_email, full_name } = req.body;
        if (responsible_email === undefined && full_name === undefined)
          throw invalid("body", "give responsible_email, full_name or both.");
        let chat = await getChat(app.db, req.workspaceId, req.params.id);
        if (full_name !== undefined) chat = await renameChat(app.db, req.workspaceId, String(chat.id), full_name);
        if (responsible_email !== undefined)
          chat = await setResponsible(app.db, req.workspaceId, String(chat.id), responsible_email);
        await audit(app.db, app.clock, req.workspaceId, whoOf(req), {
          action: responsible_email !== undefined ? "chat.assigned" : "chat.renamed",
          object: { type: "chat", id: String(chat.id) },
          after: {
            ...(responsible_email !== undefined ? { responsible_email } : {}),
            ...(full_name !== undefined ? { full_name } : {}),
          },
        });
        return chatView(chat, app.publicUrl());
      },
    );
    f.get(
      "/api/v1/chats/:id/messages",
      {
        config: { auth: "workspace", role: "member" },
        schema: { tags: ["chats"], params: IdParams, querystring: ListQuery, response: { 200: MessagePage } },
      },
      async (req) => {
        const r = await listMessages(app.db, req.workspaceId, req.params.id, {
          limit: parseLimit(req.query.limit),
          cursor: req.query.cursor,
        });
        const items = await withSendStatus(app.db, r.items, app.publicUrl());
        // Sends still queued (or failed) are not in the log: they follow its last page.
        if (r.next_cursor === null) items.push(...(await pendingSends(app.db, r.chat.id)));
        return { items, next_cursor: r.next_cursor };
      },
    );
    f.post(
      "/api/v1/chats/:id/messages",
      {
        config: { auth: "workspace", role: "member" },
        schema: {
          tags: ["chats"],
          params: IdParams,
          body: Type.Object({ text: TextString(), teammate_email: Type.Optional(NameString()) }),
          response: { 201: Message },
        },
      },
      async (req, reply) => {
        const ws = req.workspaceId;
        if (!req.body.text.trim()) throw invalid("text", "must not be empty.");
        const chat = await getChat(app.db, ws, req.params.id);
        const account = await getAccount(app.db, ws, chat.account_id).catch(() => {
          throw new ApiError(
            "CONFLICT",
            `The account ${chat.account_phone} of this chat was deleted; nothing can be sent from it.`,
          );
        });
        // Signed in: the person sends. A key: `teammate_email`, or the workspace's owner.
        let teammate: { id: string; full_name: string } =
          req.person?.teammate ?? (await getWorkspace(app.db, ws)).owner;
        if (!req.person && req.body.teammate_email) {
          const t = await findTeammateByEmail(app.db, ws, req.body.teammate_email);
          if (!t)
            throw invalid("teammate_email", `no teammate with e-mail ${req.body.teammate_email} in this workspace.`);
          teammate = t;
        }
        // Sent through the gateway first: its message id then dedupes the gateway's own echo.
        let externalId = `threadline_${ulid(app.clock.now()).toLowerCase()}`;
        const adapter = adapterFor(account.source);
        if (adapter) {
          try {
            externalId = (
              await adapter.sendText(
                sourceAccount(account),
                { external_id: chat.external_id, is_group: chat.is_group === 1, phone: chat.phone },
                req.body.text,
                app.gateways,
              )
            ).external_id;
          } catch (e) {
            throw new ApiError(
              "SOURCE_UNAVAILABLE",
              `WhatsApp did not take the message through ${account.source}: ${(e as Error).message}. Nothing was stored; try again.`,
            );
          }
        }
        const r = await app.ingest(
          ws,
          [sentMessage(account, chat, externalId, app.clock.now(), req.body.text, teammate.full_name)],
          { sentByTeammateId: teammate.id },
        );
        return reply.status(201).send(messageView(await getMessage(app.db, ws, r.messageIds[0]!), app.publicUrl()));
      },
    );
    f.get(
      "/api/v1/messages/export",
      {
        // The whole workspace's messages in bulk: an admin's (members read them in the Timeline).
        config: { auth: "workspace", role: "admin" },
        schema: {
          tags: ["messages"],
          querystring: Type.Object({
            since: Type.Optional(IdString()),
            until: Type.Optional(IdString()),
            chat_id: Type.Optional(IdString()),
          }),
          // A stream (never serialized): each line a message payload (contract/schemas/message.schema.json).
          response: {
            200: {
              description: "One message payload per line (contract/schemas/message.schema.json)",
              content: { "application/x-ndjson": { schema: Type.Unsafe<Readable>(Type.String()) } },
            },
          },
        },
      },
      async (req, reply) => {
        const since = parseIsoTime("since", req.query.since);
        const until = parseIsoTime("until", req.query.until);
        if (since !== undefined && until !== undefined && until < since)
          throw invalid("until", "must not be before since.");
        // A chat of another workspace (or none) is a 404, as everywhere.
        const chatId = req.query.chat_id ? (await getChat(app.db, req.workspaceId, req.query.chat_id)).id : undefined;
        return reply
          .header("content-type", "application/x-ndjson; charset=utf-8")
          .header("content-disposition", 'attachment; filename="messages.ndjson"')
          .send(exportMessages(app.db, req.workspaceId, { since, until, chatId }, app.publicUrl()));
      },
    );
    f.get(
      "/api/v1/permalinks/:id",
      {
        config: { auth: "workspace", role: "member" },
        schema: { tags: ["chats"], params: IdParams, response: { 200: Permalink } },
      },
      async (req) => findPermalink(app.db, req.workspaceId, req.params.id),
    );
  };
}
