// Route schemas are compiled on a route's first request (src/http/lazy-schemas.ts). A route
// still validates and serializes as Fastify's own compilers do, and a schema is compiled once.
// Since nothing compiles them all at start any more, test/contract/api-reference.test.ts compiles
// every schema the server publishes with those same compilers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Fastify from "fastify";
import { AJV_OPTIONS as AJV, lazySerializers, lazyValidators } from "../../src/http/lazy-schemas.js";

describe("lazily compiled route schemas", () => {
  it("validate and serialize as Fastify's compilers do, compiling each schema once, on first use", async () => {
    const app = Fastify({
      ajv: AJV,
      schemaController: { compilersFactory: { buildValidator: lazyValidators(), buildSerializer: lazySerializers() } },
    });
    const body = {
      type: "object",
      required: ["url"],
      properties: { url: { type: "string", maxLength: 10 } },
      additionalProperties: false,
    };
    const response = { 200: { type: "object", properties: { id: { type: "string" }, n: { type: "integer" } } } };
    app.post("/hooks", { schema: { body, response } }, async (req) => ({
      id: (req.body as { url: string }).url,
      n: 2,
      secret: "not in the schema",
    }));
    await app.ready();

    const bad = await app.inject({ method: "POST", url: "/hooks", payload: { url: "x".repeat(11) } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /body\/url must NOT have more than 10 characters/);
    const extra = await app.inject({ method: "POST", url: "/hooks", payload: { url: "a", other: 1 } });
    assert.equal(extra.statusCode, 400);
    assert.match(extra.json().message, /must NOT have additional properties/);
    const missing = await app.inject({ method: "POST", url: "/hooks", payload: {} });
    assert.match(missing.json().message, /must have required property 'url'/);
    // The serializer writes what the schema names, nothing else.
    const ok = await app.inject({ method: "POST", url: "/hooks", payload: { url: "a" } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.body, '{"id":"a","n":2}');
    await app.close();
  });

  it("compile a route's schemas on its first request, once, not at start", async () => {
    const compiled = { validators: 0, serializers: 0 };
    // The compilers read a route's schema once, when they compile it: counted here.
    const counted = <R extends { schema?: unknown }>(route: R, what: keyof typeof compiled): R =>
      Object.defineProperty({ ...route }, "schema", {
        get: () => (compiled[what]++, route.schema),
      });
    const v = lazyValidators();
    const s = lazySerializers();
    const app = Fastify({
      ajv: AJV,
      schemaController: {
        compilersFactory: {
          buildValidator: (ext, opts) => {
            const compile = v(ext, opts);
            return (route) => compile(counted(route, "validators"));
          },
          buildSerializer: (ext, opts) => {
            const compile = s(ext, opts);
            return (route) => compile(counted(route, "serializers"));
          },
        },
      },
    });
    const schema = {
      querystring: { type: "object", properties: { q: { type: "string" } } },
      response: { 200: { type: "object", properties: { q: { type: "string" } } } },
    };
    app.get("/a", { schema }, async (req) => req.query);
    app.get("/b", { schema }, async (req) => req.query);
    await app.ready();
    assert.deepEqual(compiled, { validators: 0, serializers: 0 }, "nothing compiled at start");
    for (let i = 0; i < 3; i++) assert.equal((await app.inject("/a?q=x")).body, '{"q":"x"}');
    assert.deepEqual(compiled, { validators: 1, serializers: 1 }, "the route served, once each");
    await app.close();
  });
});
