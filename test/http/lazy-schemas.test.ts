// Route schemas are compiled on a route's first request (src/http/lazy-schemas.ts). A route
// still validates and serializes as Fastify's own compilers do, a schema is compiled once, and
// since nothing compiles them all at start any more, every schema the server publishes is
// compiled here with those same compilers, so a broken one fails this test, not a user's request.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AjvCompiler } from "@fastify/ajv-compiler";
import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";
import Fastify from "fastify";
import { lazySerializers, lazyValidators } from "../../src/http/lazy-schemas.js";
import { TestServer } from "../helpers/server.js";

const AJV = { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } };

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

describe("every schema the server publishes", () => {
  let server: TestServer;
  before(async () => {
    server = await TestServer.start();
  });
  after(async () => server?.stop());

  it("compiles with the compilers its route uses", async () => {
    const doc = (await server.api("GET", "/docs/json")).json;
    const validator = AjvCompiler()({}, AJV as any);
    const serializer = SerializerSelector()({}, {});
    let n = 0;
    const failed: string[] = [];
    const compile = (what: string, fn: () => unknown) => {
      try {
        fn();
        n++;
      } catch (e) {
        failed.push(`${what}: ${(e as Error).message}`);
      }
    };
    for (const [url, item] of Object.entries(doc.paths as Record<string, Record<string, any>>))
      for (const [method, op] of Object.entries(item)) {
        for (const p of op.parameters ?? [])
          compile(`${method} ${url} ${p.in} ${p.name}`, () =>
            validator({ schema: p.schema, method, url, httpPart: p.in }),
          );
        for (const [type, c] of Object.entries((op.requestBody?.content ?? {}) as Record<string, any>))
          compile(`${method} ${url} body ${type}`, () =>
            validator({ schema: c.schema, method, url, httpPart: "body" }),
          );
        for (const [status, r] of Object.entries((op.responses ?? {}) as Record<string, any>))
          for (const c of Object.values((r.content ?? {}) as Record<string, any>))
            compile(`${method} ${url} ${status}`, () =>
              serializer({ schema: c.schema, method, url, httpStatus: status }),
            );
      }
    assert.deepEqual(failed, []);
    assert.ok(n > 200, `only ${n} schemas compiled`);
  });
});
