import { connectionsOf } from "../../accounts/connection.js";
import { Type } from "typebox";
import type { App } from "../server.js";
import type { Threadline } from "../../app.js";
import { createTeammate, createWorkspace, deleteSession, getWorkspace, listTeammates, listWorkspaces, rotateApiKey, updateWorkspace } from "../../workspaces/service.js";
import { accountView, createAccount, getAccount, listAccounts } from "../../accounts/service.js";
import { checkQuota } from "../../workspaces/quotas.js";
import { ApiError, invalid } from "../../errors.js";
import { listInboundEvents } from "../../accounts/inbound-events.js";
import { checkRetentionDays, retentionOf, setRetentionDays } from "../../retention/index.js";
import { isOperatorSignIn, OPERATOR_SIGN_IN, SESSION_COOKIE, signInWithKey } from "../auth.js";
import { IdParams, IdString, keysetCursor, ListQuery, NameString, pageOf, parseLimit, readKeysetCursor } from "./common.js";

const Person = Type.Object({ full_name: NameString({ minLength: 1 }), email: NameString({ minLength: 1 }) });

export function workspaceRoutes(app: Threadline) {
  return async (f: App) => {
    f.post(
      "/api/v1/workspaces",
      { config: { auth: "operator" }, schema: { tags: ["operator"], body: Type.Object({ name: NameString({ minLength: 1 }), owner: Person, timezone: Type.Optional(IdString()) }) } },
      async (req, reply) => reply.status(201).send(await createWorkspace(app.db, app.clock, req.body)),
    );
    // Paged in the database: an operator hosting thousands of workspaces reads them a page at a time.
    f.get("/api/v1/workspaces", { config: { auth: "operator" }, schema: { tags: ["operator"], querystring: Type.Object({ limit: ListQuery.properties.limit, cursor: ListQuery.properties.cursor }) } }, async (req) => {
      const after = readKeysetCursor(req.query.cursor, ["string"]);
      const page = await listWorkspaces(app.db, { limit: parseLimit(req.query.limit), after: after?.[0] });
      return { items: page.items, next_cursor: page.more && page.last ? keysetCursor([page.last]) : null };
    });
    const withRetention = async (ws: { id: string }) => ({ ...ws, ...(await retentionOf(app.db, app.clock, ws.id)) });
    f.get("/api/v1/workspace", { config: { auth: "workspace" }, schema: { tags: ["workspace"] } }, async (req) => withRetention(await getWorkspace(app.db, req.workspaceId)));
    f.patch(
      "/api/v1/workspace",
      {
        config: { auth: "workspace" },
        schema: {
          tags: ["workspace"],
          body: Type.Object({ name: Type.Optional(NameString()), timezone: Type.Optional(IdString()), retention_days: Type.Optional(Type.Union([Type.Integer(), Type.Null()])) }),
        },
      },
      async (req) => {
        const { retention_days, ...rest } = req.body;
        // Every field is checked before anything is written: a refused value leaves the whole PATCH undone.
        if (retention_days !== undefined) checkRetentionDays(retention_days);
        const ws = await updateWorkspace(app.db, req.workspaceId, rest);
        if (retention_days !== undefined) await setRetentionDays(app.db, req.workspaceId, retention_days);
        return withRetention(ws);
      },
    );
    // A new API key; the old one is refused from the next request on, in every process.
    f.post("/api/v1/workspace/api_key", { config: { auth: "workspace" }, schema: { tags: ["workspace"] } }, async (req, reply) =>
      reply.status(201).send(await rotateApiKey(app.db, app.clock, req.workspaceId)),
    );
    f.get("/api/v1/notifications", { config: { auth: "workspace" }, schema: { tags: ["workspace"], querystring: ListQuery } }, async (req) => ({
      items: await app.alerts.list(req.workspaceId, parseLimit(req.query.limit)),
      next_cursor: null,
    }));

    // Browser sessions: the UI and the HTML pages sign in with a workspace API key.
    f.post("/api/v1/session", { config: { auth: "public" }, schema: { tags: ["session"], body: Type.Object({ api_key: IdString({ minLength: 1 }) }) } }, async (req, reply) => {
      const ws = await signInWithKey(app, reply, req.body.api_key);
      // The UI offers the first workspace's form on this answer (the token stays in its memory; no cookie).
      if (!ws && (await isOperatorSignIn(app, req.body.api_key))) throw new ApiError("FORBIDDEN", OPERATOR_SIGN_IN, "api_key");
      if (!ws) req.server.authFailures.failed(req);
      if (!ws) throw new ApiError("UNAUTHORIZED", "That API key is not valid; copy it again from where the workspace was created.", "api_key");
      return { workspace: await getWorkspace(app.db, ws) };
    });
    f.get("/api/v1/session", { config: { auth: "workspace" }, schema: { tags: ["session"] } }, async (req) => ({ workspace: await getWorkspace(app.db, req.workspaceId) }));
    f.delete("/api/v1/session", { config: { auth: "public" }, schema: { tags: ["session"] } }, async (req, reply) => {
      const token = req.cookies[SESSION_COOKIE];
      if (token) await deleteSession(app.db, token);
      void reply.clearCookie(SESSION_COOKIE, { path: "/" });
      return reply.status(204).send();
    });

    f.post("/api/v1/teammates", { config: { auth: "workspace" }, schema: { tags: ["teammates"], body: Person } }, async (req, reply) => {
      await checkQuota(app.db, "teammates", req.workspaceId, app.config.quotas);
      return reply.status(201).send(await createTeammate(app.db, app.clock, req.workspaceId, req.body));
    });
    f.get("/api/v1/teammates", { config: { auth: "workspace" }, schema: { tags: ["teammates"], querystring: ListQuery } }, async (req) =>
      pageOf(await listTeammates(app.db, req.workspaceId), req.query),
    );

    f.post(
      "/api/v1/accounts",
      {
        config: { auth: "workspace" },
        schema: {
          tags: ["accounts"],
          body: Type.Object({
            phone: IdString({ minLength: 1 }),
            owner_email: NameString({ minLength: 1 }),
            source: IdString({ minLength: 1 }),
            source_config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
            send_pause_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
          }),
        },
      },
      async (req, reply) => {
        await checkQuota(app.db, "accounts", req.workspaceId, app.config.quotas);
        return reply.status(201).send(accountView(await createAccount(app.db, app.clock, req.workspaceId, req.body), app.publicUrl()));
      },
    );
    f.get("/api/v1/accounts", { config: { auth: "workspace" }, schema: { tags: ["accounts"], querystring: ListQuery } }, async (req) => {
      const page = pageOf(await listAccounts(app.db, req.workspaceId), req.query);
      const connections = await connectionsOf(app.db, page.items);
      return { ...page, items: page.items.map((a) => accountView(a, app.publicUrl(), connections.get(a.id))) };
    });
    f.get("/api/v1/accounts/:id", { config: { auth: "workspace" }, schema: { tags: ["accounts"], params: IdParams } }, async (req) => {
      const row = await getAccount(app.db, req.workspaceId, req.params.id);
      return accountView(row, app.publicUrl(), (await connectionsOf(app.db, [row])).get(row.id));
    });
    // What the account's gateway sent that could not be mapped to messages (newest first).
    f.get(
      "/api/v1/accounts/:id/inbound-events",
      { config: { auth: "workspace" }, schema: { tags: ["accounts"], params: IdParams, querystring: ListQuery } },
      async (req) => {
        const account = await getAccount(app.db, req.workspaceId, req.params.id);
        const limit = parseLimit(req.query.limit);
        let before: number | undefined;
        if (req.query.cursor) {
          before = Number(req.query.cursor);
          if (!/^\d+$/.test(req.query.cursor) || !Number.isSafeInteger(before)) throw invalid("cursor", "is not a cursor this list returned.");
        }
        const items = await listInboundEvents(app.db, account.id, limit + 1, before);
        const page = items.slice(0, limit);
        return { items: page, next_cursor: items.length > limit ? page[page.length - 1]!.id : null };
      },
    );
  };
}
