import { Type } from "typebox";
import type { App } from "../server.js";
import type { Threadline } from "../../app.js";
import { whoOf } from "../auth.js";
import type { Role } from "../../workspaces/roles.js";
import { IdParams, IdString, keysetCursor, ListQuery, NameString, parseLimit, readKeysetCursor, UrlString } from "./common.js";
import { AGGREGATIONS } from "../../webhooks/windows.js";
import { parseDeliveryFilter } from "../../webhooks/deliveries.js";
import { CHAT_KINDS, DIRECTIONS } from "../../webhooks/filter.js";
import { checkQuota } from "../../workspaces/quotas.js";

const Aggregation = Type.Union(AGGREGATIONS.map((a) => Type.Literal(a)));
/** Each field optional: on a PATCH, the fields left out keep their values. The service checks accounts and teammates. */
const Filter = Type.Object(
  {
    direction: Type.Optional(Type.Union(DIRECTIONS.map((d) => Type.Literal(d)))),
    accounts: Type.Optional(Type.Union([Type.Null(), Type.Array(NameString(), { maxItems: 100 })])),
    chats: Type.Optional(Type.Union(CHAT_KINDS.map((c) => Type.Literal(c)))),
    responsible: Type.Optional(Type.Union([Type.Null(), Type.Array(NameString(), { maxItems: 100 })])),
  },
  { additionalProperties: false },
);

export function webhookRoutes(app: Threadline) {
  const svc = app.webhooks;
  return async (f: App) => {
    // Members read webhooks, their activity and deliveries; changes, secrets and sends are admin's.
    const opts = (schema: Record<string, unknown> = {}, role: Role = "admin") => ({ config: { auth: "workspace" as const, role }, schema: { tags: ["webhooks"], ...schema } });
    const read = (schema: Record<string, unknown> = {}) => opts(schema, "member");
    f.post(
      "/api/v1/webhooks",
      opts({ body: Type.Object({ url: UrlString(), enabled: Type.Optional(Type.Boolean()), aggregation: Type.Optional(Aggregation), filter: Type.Optional(Filter) }) }),
      async (req, reply) => {
        await checkQuota(app.db, "webhooks", req.workspaceId, app.config.quotas);
        const row = await svc.create(req.workspaceId, req.body as Parameters<typeof svc.create>[1], whoOf(req));
        // The secret is in this answer, rotate-secret's and GET …/secret only.
        return reply.status(201).send({ ...(await svc.read(row)), secret: row.secret });
      },
    );
    f.get("/api/v1/webhooks", read({ querystring: ListQuery }), async (req) => {
      const query = req.query as { limit?: string; cursor?: string };
      // The page first, then each row's health and waiting counts: a page's worth of reads, however many webhooks.
      const page = await svc.list(req.workspaceId, { limit: parseLimit(query.limit), after: readKeysetCursor(query.cursor, ["number", "string"]) });
      const last = page.rows.at(-1);
      return { items: await Promise.all(page.rows.map((w) => svc.read(w))), next_cursor: page.more && last ? keysetCursor([last.created_at, last.id]) : null };
    });
    // Asked by the UI as a URL is entered; create and PATCH still take any http(s) URL (checked at connect time).
    f.post("/api/v1/webhooks/check-target", opts({ body: Type.Object({ url: UrlString() }) }), async (req) => svc.checkTarget((req.body as { url: string }).url));
    f.get("/api/v1/webhooks/:id", read({ params: IdParams }), async (req) => svc.read(await svc.get(req.workspaceId, (req.params as { id: string }).id)));
    f.patch(
      "/api/v1/webhooks/:id",
      opts({
        params: IdParams,
        body: Type.Object({
          url: Type.Optional(UrlString()),
          enabled: Type.Optional(Type.Boolean()),
          aggregation: Type.Optional(Aggregation),
          filter: Type.Optional(Filter),
          replay: Type.Optional(Type.Union([Type.Literal("since_disabled"), Type.Literal("none")])),
        }),
      }),
      async (req) => svc.read(await svc.update(req.workspaceId, (req.params as { id: string }).id, req.body as never, whoOf(req))),
    );
    f.delete("/api/v1/webhooks/:id", opts({ params: IdParams }), async (req, reply) => {
      await svc.remove(req.workspaceId, (req.params as { id: string }).id, whoOf(req));
      return reply.status(204).send();
    });
    f.get("/api/v1/webhooks/:id/activity", read({ params: IdParams }), async (req) => ({ items: await svc.activityOf(req.workspaceId, (req.params as { id: string }).id) }));
    f.get("/api/v1/webhooks/:id/log", read({ params: IdParams }), async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const entries = await svc.logOf(req.workspaceId, id);
      return reply
        .header("content-type", "application/json; charset=utf-8")
        .header("content-disposition", `attachment; filename="threadline-webhook-${id}-log.json"`)
        .send(JSON.stringify(entries, null, 2));
    });
    f.get(
      "/api/v1/webhooks/:id/deliveries",
      read({
        params: IdParams,
        querystring: Type.Object({ status: Type.Optional(IdString()), chat_id: Type.Optional(IdString()), since: Type.Optional(IdString()), until: Type.Optional(IdString()) }),
      }),
      async (req) => {
        const filter = parseDeliveryFilter(req.query as { status?: string; chat_id?: string; since?: string; until?: string });
        return { items: await svc.deliveriesOf(req.workspaceId, (req.params as { id: string }).id, filter) };
      },
    );
    f.post(
      "/api/v1/webhooks/:id/deliveries/:delivery_id/resend",
      opts({ params: Type.Object({ id: IdString(), delivery_id: IdString() }) }),
      async (req) => {
        const p = req.params as { id: string; delivery_id: string };
        return svc.resend(req.workspaceId, p.id, p.delivery_id, whoOf(req));
      },
    );
    f.get("/api/v1/webhooks/:id/parked", read({ params: IdParams }), async (req) => ({ items: await svc.parkedOf(req.workspaceId, (req.params as { id: string }).id) }));
    f.post(
      "/api/v1/webhooks/:id/parked/:delivery_id/resend",
      opts({ params: Type.Object({ id: IdString(), delivery_id: IdString() }) }),
      async (req) => {
        const p = req.params as { id: string; delivery_id: string };
        return svc.resendParked(req.workspaceId, p.id, p.delivery_id);
      },
    );
    f.get(
      "/api/v1/webhooks/:id/preview",
      read({ params: IdParams, querystring: Type.Object({ chat_id: IdString({ minLength: 1 }) }) }),
      async (req) => svc.preview(req.workspaceId, (req.params as { id: string }).id, (req.query as { chat_id: string }).chat_id),
    );
    f.get("/api/v1/webhooks/:id/stats", read({ params: IdParams }), async (req) => svc.statsOf(req.workspaceId, (req.params as { id: string }).id));
    f.post("/api/v1/webhooks/:id/retry", opts({ params: IdParams }), async (req, reply) =>
      reply.status(202).send(await svc.retryNow(req.workspaceId, (req.params as { id: string }).id)),
    );
    f.post("/api/v1/webhooks/:id/flush", opts({ params: IdParams }), async (req) => ({ flushed: await svc.flushOpen(req.workspaceId, (req.params as { id: string }).id) }));
    f.get("/api/v1/webhooks/:id/sample", read({ params: IdParams }), async (req) => svc.sample(req.workspaceId, (req.params as { id: string }).id));
    f.post("/api/v1/webhooks/:id/test", opts({ params: IdParams }), async (req) => svc.sendTest(req.workspaceId, (req.params as { id: string }).id));
    f.post("/api/v1/webhooks/:id/rotate-secret", opts({ params: IdParams }), async (req) => {
      const row = await svc.rotateSecret(req.workspaceId, (req.params as { id: string }).id, whoOf(req));
      return { ...(await svc.read(row)), secret: row.secret };
    });
    f.get("/api/v1/webhooks/:id/secret", opts({ params: IdParams }), async (req) => svc.secretOf(req.workspaceId, (req.params as { id: string }).id));
    // Replay (webhooks/replay.ts): one job per webhook at a time, followed and cancelled here.
    const ReplayRange = Type.Object({ since: IdString({ minLength: 1 }), until: Type.Optional(IdString()) }, { additionalProperties: false });
    const ReplayView = Type.Object({
      replay_id: Type.String(),
      state: Type.Union(["running", "done", "cancelled", "failed"].map((s) => Type.Literal(s))),
      since: Type.String(),
      until: Type.String(),
      total: Type.Integer(),
      delivered: Type.Integer(),
      failed: Type.Integer(),
      reason: Type.Union([Type.String(), Type.Null()]),
      started_at: Type.String(),
      ended_at: Type.Union([Type.String(), Type.Null()]),
    });
    f.post(
      "/api/v1/webhooks/:id/replay",
      opts({ params: IdParams, body: ReplayRange, response: { 202: Type.Object({ replay_id: Type.String(), messages: Type.Integer() }) } }),
      async (req, reply) => reply.status(202).send(await svc.startReplay(req.workspaceId, (req.params as { id: string }).id, req.body as { since: string; until?: string }, whoOf(req))),
    );
    f.get("/api/v1/webhooks/:id/replay", read({ params: IdParams, response: { 200: ReplayView } }), async (req) => svc.replayOf(req.workspaceId, (req.params as { id: string }).id));
    f.delete("/api/v1/webhooks/:id/replay", opts({ params: IdParams, response: { 200: ReplayView } }), async (req) => svc.cancelReplay(req.workspaceId, (req.params as { id: string }).id, whoOf(req)));
    f.get(
      "/api/v1/webhooks/:id/replay/count",
      opts({ params: IdParams, querystring: ReplayRange, response: { 200: Type.Object({ since: Type.String(), until: Type.String(), messages: Type.Integer() }) } }),
      async (req) => svc.replayCountOf(req.workspaceId, (req.params as { id: string }).id, req.query as { since: string; until?: string }),
    );
  };
}
