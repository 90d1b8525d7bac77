import { createHash, timingSafeEqual } from "node:crypto";
import { Type } from "typebox";
import { ApiError } from "../../errors.js";
import type { App } from "../fastify-app.js";
import type { Threadline } from "../../app.js";
import { databaseAnswers } from "../../db/index.js";
import { Time } from "../../schemas.js";

/** The system routes' answers: they are the server's own, read by no UI. */
const Health = Type.Object({ ok: Type.Boolean() });
const Metrics = { description: "Prometheus text format", content: { "text/plain": { schema: Type.String() } } };
const TestClock = Type.Object({ now: Time() });

export function systemRoutes(app: Threadline) {
  return async (f: App) => {
    f.get("/healthz", { schema: { tags: ["system"], response: { 200: Health } } }, async () => {
      await databaseAnswers(app.db);
      return { ok: true };
    });
    // Installation-wide figures only (no label names a workspace); behind THREADLINE_METRICS_TOKEN when set.
    const metricsToken = app.config.metricsToken
      ? createHash("sha256").update(app.config.metricsToken).digest()
      : undefined;
    f.get("/metrics", { schema: { tags: ["system"], response: { 200: Metrics } } }, async (req, reply) => {
      if (metricsToken) {
        const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
        if (!given || !timingSafeEqual(createHash("sha256").update(given).digest(), metricsToken)) {
          if (given) req.server.authFailures.failed(req);
          throw new ApiError("UNAUTHORIZED", "Send THREADLINE_METRICS_TOKEN as Authorization: Bearer <token>.");
        }
      }
      return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
    });
    // Exists only with THREADLINE_TEST_CLOCK=1; otherwise it is a plain 404.
    if (app.config.testClock) {
      f.post(
        "/api/v1/_test/clock",
        {
          config: { auth: "operator" },
          schema: {
            tags: ["system"],
            body: Type.Object({ advance_ms: Type.Integer({ minimum: 0 }) }),
            response: { 200: TestClock },
          },
        },
        async (req) => ({ now: new Date(app.clock.advance(req.body.advance_ms)).toISOString() }),
      );
    }
  };
}
