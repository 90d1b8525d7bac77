import { connectionsOf } from "../../accounts/connection.js";
import { Type } from "typebox";
import type { App } from "../fastify-app.js";
import type { Threadline } from "../../app.js";
import {
  createWorkspace,
  getWorkspace,
  listWorkspaces,
  setRetentionDays,
  updateWorkspace,
} from "../../workspaces/service.js";
import { rotateApiKey } from "../../workspaces/api-keys.js";
import { ownerInvitation } from "../../workspaces/invitations.js";
import { accountView, createAccount, getAccount, listAccounts } from "../../accounts/service.js";
import { checkQuota } from "../../workspaces/quotas.js";
import { invalid } from "../../errors.js";
import { listInboundEvents } from "../../accounts/inbound-events.js";
import { deleteAccount, deleteWorkspace, parsePurge } from "../../deletion/index.js";
import { whoOf } from "../auth.js";
import { audit } from "../../audit/index.js";
import { checkRetentionDays, retentionOf } from "../../retention/index.js";
import {
  IdParams,
  IdString,
  keysetCursor,
  ListQuery,
  NameString,
  pageOf,
  parseLimit,
  readKeysetCursor,
} from "./common.js";
import { ApiKeyRotated, WorkspaceCreated, WorkspacePage, WorkspaceSettings } from "../../workspaces/schemas.js";
import { NotificationList } from "../../alerts/schemas.js";
import { Account, AccountPage, InboundEventPage } from "../../accounts/schemas.js";
import { NoContent } from "../../schemas.js";

const Person = Type.Object({ full_name: NameString({ minLength: 1 }), email: NameString({ minLength: 1 }) });

export function workspaceRoutes(app: Threadline) {
  return async (f: App) => {
    f.post(
      "/api/v1/workspaces",
      {
        config: { auth: "operator" },
        schema: {
          tags: ["operator"],
          body: Type.Object({ name: NameString({ minLength: 1 }), owner: Person, timezone: Type.Optional(IdString()) }),
          response: { 201: WorkspaceCreated },
        },
      },
      async (req, reply) => {
        const ws = await createWorkspace(app.db, app.clock, req.body);
        // The first owner sets a password in the browser through this URL (7 days, once).
        const invitation = await ownerInvitation(app.db, app.clock, ws.id, ws.owner, app.publicUrl());
        return reply.status(201).send({ ...ws, owner_invitation_url: invitation.url });
      },
    );
    // Paged in the database: an operator hosting thousands of workspaces reads them a page at a time.
    f.get(
      "/api/v1/workspaces",
      {
        config: { auth: "operator" },
        schema: {
          tags: ["operator"],
          querystring: Type.Object({ limit: ListQuery.properties.limit, cursor: ListQuery.properties.cursor }),
          response: { 200: WorkspacePage },
        },
      },
      async (req) => {
        const after = readKeysetCursor(req.query.cursor, ["string"]);
        const page = await listWorkspaces(app.db, { limit: parseLimit(req.query.limit), after: after?.[0] });
        return { items: page.items, next_cursor: page.more && page.last ? keysetCursor([page.last]) : null };
      },
    );
    // Everything of the workspace: its webhooks stopped first (in every process), its keys and sessions refused at once, its data deleted in batches.
    f.delete(
      "/api/v1/workspaces/:id",
      { config: { auth: "operator" }, schema: { tags: ["operator"], params: IdParams, response: { 204: NoContent } } },
      async (req, reply) => {
        await deleteWorkspace(app.db, app.clock, app.log, req.params.id, (ws, id) => app.webhooks.remove(ws, id));
        return reply.status(204).send();
      },
    );
    const withRetention = async <W extends { id: string }>(ws: W) => ({
      ...ws,
      ...(await retentionOf(app.db, app.clock, ws.id)),
    });
    f.get(
      "/api/v1/workspace",
      {
        config: { auth: "workspace", role: "member" },
        schema: { tags: ["workspace"], response: { 200: WorkspaceSettings } },
      },
      async (req) => withRetention(await getWorkspace(app.db, req.workspaceId)),
    );
    f.patch(
      "/api/v1/workspace",
      {
        // Workspace settings are the owner's.
        config: { auth: "workspace", role: "owner" },
        schema: {
          tags: ["workspace"],
          body: Type.Object({
            name: Type.Optional(NameString()),
            timezone: Type.Optional(IdString()),
            retention_days: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
          }),
          response: { 200: WorkspaceSettings },
        },
      },
      async (req) => {
        const { retention_days, ...rest } = req.body;
        // Every field is checked before anything is written: a refused value leaves the whole PATCH undone.
        if (retention_days !== undefined) checkRetentionDays(retention_days);
        const ws = await updateWorkspace(app.db, app.clock, req.workspaceId, whoOf(req), rest);
        if (retention_days !== undefined) {
          const before = await retentionOf(app.db, app.clock, req.workspaceId);
          await setRetentionDays(app.db, req.workspaceId, retention_days);
          await audit(app.db, app.clock, req.workspaceId, whoOf(req), {
            action: "workspace.updated",
            object: { type: "workspace", id: req.workspaceId },
            before: { retention_days: before.retention_days },
            after: { retention_days },
          });
        }
        return withRetention(ws);
      },
    );
    // A new "Default key"; the old one is refused from the next request on, in every process.
    f.post(
      "/api/v1/workspace/api_key",
      {
        config: { auth: "workspace", role: "admin" },
        schema: { tags: ["workspace"], response: { 201: ApiKeyRotated } },
      },
      async (req, reply) => reply.status(201).send(await rotateApiKey(app.db, app.clock, req.workspaceId, whoOf(req))),
    );
    f.get(
      "/api/v1/notifications",
      {
        config: { auth: "workspace", role: "admin" },
        schema: { tags: ["workspace"], querystring: ListQuery, response: { 200: NotificationList } },
      },
      async (req) => ({
        items: await app.alerts.list(req.workspaceId, parseLimit(req.query.limit)),
        next_cursor: null,
      }),
    );

    f.post(
      "/api/v1/accounts",
      {
        config: { auth: "workspace", role: "admin" },
        schema: {
          tags: ["accounts"],
          body: Type.Object({
            phone: IdString({ minLength: 1 }),
            owner_email: NameString({ minLength: 1 }),
            source: IdString({ minLength: 1 }),
            source_config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
            send_pause_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
          }),
          response: { 201: Account },
        },
      },
      async (req, reply) => {
        await checkQuota(app.db, "accounts", req.workspaceId, app.config.quotas);
        const view = accountView(await createAccount(app.db, app.clock, req.workspaceId, req.body), app.publicUrl());
        await audit(app.db, app.clock, req.workspaceId, whoOf(req), {
          action: "account.created",
          object: { type: "account", id: view.id },
          after: { phone: view.phone, source: view.source, owner_email: view.email },
        });
        return reply.status(201).send(view);
      },
    );
    // Members see the accounts (to filter and send) without their inbound URLs (the token is a credential).
    const shown = <V extends { inbound_url: string | null }>(req: { role: string }, v: V): V =>
      req.role === "member" ? { ...v, inbound_url: null } : v;
    f.get(
      "/api/v1/accounts",
      {
        config: { auth: "workspace", role: "member" },
        schema: { tags: ["accounts"], querystring: ListQuery, response: { 200: AccountPage } },
      },
      async (req) => {
        const page = pageOf(await listAccounts(app.db, req.workspaceId), req.query);
        const connections = await connectionsOf(app.db, page.items);
        return {
          ...page,
          items: page.items.map((a) => shown(req, accountView(a, app.publicUrl(), connections.get(a.id)))),
        };
      },
    );
    f.get(
      "/api/v1/accounts/:id",
      {
        config: { auth: "workspace", role: "member" },
        schema: { tags: ["accounts"], params: IdParams, response: { 200: Account } },
      },
      async (req) => {
        const row = await getAccount(app.db, req.workspaceId, req.params.id);
        return shown(req, accountView(row, app.publicUrl(), (await connectionsOf(app.db, [row])).get(row.id)));
      },
    );
    // Its inbound URL and sending stop at once; its chats and messages stay unless ?purge=true.
    f.delete(
      "/api/v1/accounts/:id",
      {
        config: { auth: "workspace", role: "admin" },
        schema: {
          tags: ["accounts"],
          params: IdParams,
          querystring: Type.Object({ purge: Type.Optional(Type.String({ maxLength: 8 })) }),
          response: { 204: NoContent },
        },
      },
      async (req, reply) => {
        const purge = parsePurge(req.query.purge);
        await deleteAccount(app.db, app.clock, req.workspaceId, whoOf(req), req.params.id, purge);
        return reply.status(204).send();
      },
    );
    // What the account's gateway sent that could not be mapped to messages (newest first).
    f.get(
      "/api/v1/accounts/:id/inbound-events",
      {
        config: { auth: "workspace", role: "admin" },
        schema: { tags: ["accounts"], params: IdParams, querystring: ListQuery, response: { 200: InboundEventPage } },
      },
      async (req) => {
        const account = await getAccount(app.db, req.workspaceId, req.params.id);
        const limit = parseLimit(req.query.limit);
        let before: number | undefined;
        if (req.query.cursor) {
          before = Number(req.query.cursor);
          if (!/^\d+$/.test(req.query.cursor) || !Number.isSafeInteger(before))
            throw invalid("cursor", "is not a cursor this list returned.");
        }
        const items = await listInboundEvents(app.db, account.id, limit + 1, before);
        const page = items.slice(0, limit);
        return { items: page, next_cursor: items.length > limit ? page[page.length - 1]!.id : null };
      },
    );
  };
}
