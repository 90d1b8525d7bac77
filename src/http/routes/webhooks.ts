import { Type } from "typebox";
import type { App } from "../fastify-app.js";
import type { Threadline } from "../../app.js";
import { whoOf } from "../auth.js";
import type { Role } from "../../workspaces/roles.js";
import {
  IdParams,
  IdString,
  keysetCursor,
  ListQuery,
  NameString,
  parseLimit,
  readKeysetCursor,
  UrlString,
} from "./common.js";
import { AGGREGATIONS } from "../../webhooks/windows.js";
import { parseDeliveryFilter } from "../../webhooks/deliveries.js";
import { checkQuota } from "../../workspaces/quotas.js";
import { NoContent } from "../../schemas.js";
import {
  ActivityList,
  CHAT_KINDS,
  DeliveryList,
  Delivery,
  DIRECTIONS,
  Flushed,
  ParkedList,
  Preview,
  ReplayCount,
  ReplayStarted,
  ReplayView,
  RequestLog,
  Retrying,
  Sample,
  Secret,
  Stats,
  TargetCheck,
  TestEvent,
  Webhook,
  WebhookPage,
  WebhookWithSecret,
} from "../../webhooks/schemas.js";

const DeliveryParams = Type.Object({ id: IdString(), delivery_id: IdString() });
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
    const opts = <S extends object>(schema: S, role: Role = "admin") => ({
      config: { auth: "workspace" as const, role },
      schema: { tags: ["webhooks"], ...schema },
    });
    const read = <S extends object>(schema: S) => opts(schema, "member");
    f.post(
      "/api/v1/webhooks",
      opts({
        body: Type.Object({
          url: UrlString(),
          enabled: Type.Optional(Type.Boolean()),
          aggregation: Type.Optional(Aggregation),
          filter: Type.Optional(Filter),
        }),
        response: { 201: WebhookWithSecret },
      }),
      async (req, reply) => {
        await checkQuota(app.db, "webhooks", req.workspaceId, app.config.quotas);
        const row = await svc.create(req.workspaceId, req.body, whoOf(req));
        // The secret is in this answer, rotate-secret's and GET …/secret only.
        return reply.status(201).send({ ...(await svc.read(row)), secret: row.secret });
      },
    );
    f.get("/api/v1/webhooks", read({ querystring: ListQuery, response: { 200: WebhookPage } }), async (req) => {
      const query = req.query;
      // The page first, then each row's health and waiting counts: a page's worth of reads, however many webhooks.
      const page = await svc.list(req.workspaceId, {
        limit: parseLimit(query.limit),
        after: readKeysetCursor(query.cursor, ["number", "string"]),
      });
      const last = page.rows.at(-1);
      return {
        items: await Promise.all(page.rows.map((w) => svc.read(w))),
        next_cursor: page.more && last ? keysetCursor([last.created_at, last.id]) : null,
      };
    });
    // Asked by the UI as a URL is entered; create and PATCH still take any http(s) URL (checked at connect time).
    f.post(
      "/api/v1/webhooks/check-target",
      opts({ body: Type.Object({ url: UrlString() }), response: { 200: TargetCheck } }),
      async (req) => svc.checkTarget(req.body.url),
    );
    f.get("/api/v1/webhooks/:id", read({ params: IdParams, response: { 200: Webhook } }), async (req) =>
      svc.read(await svc.get(req.workspaceId, req.params.id)),
    );
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
        response: { 200: Webhook },
      }),
      async (req) => svc.read(await svc.update(req.workspaceId, req.params.id, req.body, whoOf(req))),
    );
    f.delete("/api/v1/webhooks/:id", opts({ params: IdParams, response: { 204: NoContent } }), async (req, reply) => {
      await svc.remove(req.workspaceId, req.params.id, whoOf(req));
      return reply.status(204).send();
    });
    f.get(
      "/api/v1/webhooks/:id/activity",
      read({ params: IdParams, response: { 200: ActivityList } }),
      async (req) => ({ items: await svc.activityOf(req.workspaceId, req.params.id) }),
    );
    // Indented for a person to read: written by JSON.stringify, every field of each entry as the log keeps it.
    f.get("/api/v1/webhooks/:id/log", read({ params: IdParams, response: { 200: RequestLog } }), async (req, reply) => {
      const id = req.params.id;
      const entries = await svc.logOf(req.workspaceId, id);
      return reply
        .header("content-type", "application/json; charset=utf-8")
        .header("content-disposition", `attachment; filename="threadline-webhook-${id}-log.json"`)
        .serializer((entries) => JSON.stringify(entries, null, 2))
        .send(entries);
    });
    f.get(
      "/api/v1/webhooks/:id/deliveries",
      read({
        params: IdParams,
        querystring: Type.Object({
          status: Type.Optional(IdString()),
          chat_id: Type.Optional(IdString()),
          since: Type.Optional(IdString()),
          until: Type.Optional(IdString()),
        }),
        response: { 200: DeliveryList },
      }),
      async (req) => {
        const filter = parseDeliveryFilter(req.query);
        return { items: await svc.deliveriesOf(req.workspaceId, req.params.id, filter) };
      },
    );
    f.post(
      "/api/v1/webhooks/:id/deliveries/:delivery_id/resend",
      opts({ params: DeliveryParams, response: { 200: Delivery } }),
      async (req) => svc.resend(req.workspaceId, req.params.id, req.params.delivery_id, whoOf(req)),
    );
    f.get("/api/v1/webhooks/:id/parked", read({ params: IdParams, response: { 200: ParkedList } }), async (req) => ({
      items: await svc.parkedOf(req.workspaceId, req.params.id),
    }));
    f.post(
      "/api/v1/webhooks/:id/parked/:delivery_id/resend",
      opts({ params: DeliveryParams, response: { 200: Delivery } }),
      async (req) => svc.resendParked(req.workspaceId, req.params.id, req.params.delivery_id),
    );
    f.get(
      "/api/v1/webhooks/:id/preview",
      read({
        params: IdParams,
        querystring: Type.Object({ chat_id: IdString({ minLength: 1 }) }),
        response: { 200: Preview },
      }),
      async (req) => svc.preview(req.workspaceId, req.params.id, req.query.chat_id),
    );
    f.get("/api/v1/webhooks/:id/stats", read({ params: IdParams, response: { 200: Stats } }), async (req) =>
      svc.statsOf(req.workspaceId, req.params.id),
    );
    f.post("/api/v1/webhooks/:id/retry", opts({ params: IdParams, response: { 202: Retrying } }), async (req, reply) =>
      reply.status(202).send(await svc.retryNow(req.workspaceId, req.params.id)),
    );
    f.post("/api/v1/webhooks/:id/flush", opts({ params: IdParams, response: { 200: Flushed } }), async (req) => ({
      flushed: await svc.flushOpen(req.workspaceId, req.params.id),
    }));
    f.get("/api/v1/webhooks/:id/sample", read({ params: IdParams, response: { 200: Sample } }), async (req) =>
      svc.sample(req.workspaceId, req.params.id),
    );
    f.post("/api/v1/webhooks/:id/test", opts({ params: IdParams, response: { 200: TestEvent } }), async (req) =>
      svc.sendTest(req.workspaceId, req.params.id),
    );
    f.post(
      "/api/v1/webhooks/:id/rotate-secret",
      opts({ params: IdParams, response: { 200: WebhookWithSecret } }),
      async (req) => {
        const row = await svc.rotateSecret(req.workspaceId, req.params.id, whoOf(req));
        return { ...(await svc.read(row)), secret: row.secret };
      },
    );
    f.get("/api/v1/webhooks/:id/secret", opts({ params: IdParams, response: { 200: Secret } }), async (req) =>
      svc.secretOf(req.workspaceId, req.params.id),
    );
    // Replay (webhooks/replay.ts): one job per webhook at a time, followed and cancelled here.
    const ReplayRange = Type.Object(
      { since: IdString({ minLength: 1 }), until: Type.Optional(IdString()) },
      { additionalProperties: false },
    );
    f.post(
      "/api/v1/webhooks/:id/replay",
      opts({ params: IdParams, body: ReplayRange, response: { 202: ReplayStarted } }),
      async (req, reply) =>
        reply.status(202).send(await svc.startReplay(req.workspaceId, req.params.id, req.body, whoOf(req))),
    );
    f.get("/api/v1/webhooks/:id/replay", read({ params: IdParams, response: { 200: ReplayView } }), async (req) =>
      svc.replayOf(req.workspaceId, req.params.id),
    );
    f.delete("/api/v1/webhooks/:id/replay", opts({ params: IdParams, response: { 200: ReplayView } }), async (req) =>
      svc.cancelReplay(req.workspaceId, req.params.id, whoOf(req)),
    );
    f.get(
      "/api/v1/webhooks/:id/replay/count",
      opts({ params: IdParams, querystring: ReplayRange, response: { 200: ReplayCount } }),
      async (req) => svc.replayCountOf(req.workspaceId, req.params.id, req.query),
    );
  };
}
