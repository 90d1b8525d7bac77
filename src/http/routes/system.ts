import { Type } from "typebox";
import type { App } from "../server.js";
import type { Threadline } from "../../app.js";

export function systemRoutes(app: Threadline) {
  return async (f: App) => {
    f.get("/healthz", { schema: { tags: ["system"] } }, async () => {
      await app.db.selectFrom("meta").select("key").limit(1).execute();
      return { ok: true };
    });
    f.get("/metrics", { schema: { tags: ["system"] } }, async (_req, reply) => reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics()));
    // Exists only with THREADLINE_TEST_CLOCK=1; otherwise it is a plain 404.
    if (app.config.testClock) {
      f.post(
        "/api/v1/_test/clock",
        { config: { auth: "operator" }, schema: { tags: ["system"], body: Type.Object({ advance_ms: Type.Integer({ minimum: 0 }) }) } },
        async (req) => ({ now: new Date(app.clock.advance(req.body.advance_ms)).toISOString() }),
      );
    }
  };
}
