// The repository's API reference (docs/api.md) is the contract: every route the server
// publishes in its OpenAPI document must be documented there.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Ajv } from "ajv";
import formats from "ajv-formats";
import { AjvCompiler } from "@fastify/ajv-compiler";
import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";
import { AJV_OPTIONS } from "../../src/http/lazy-schemas.js";
import { SUMMARIES } from "../../src/http/openapi.js";
import { repoRoot } from "../helpers/contract.js";
import { TestServer } from "../helpers/server.js";

const METHODS = ["get", "post", "put", "patch", "delete"];
/** `GET /api/v1/chats/{chat_id}` → `GET /api/v1/chats/{}`: parameter names may differ. */
const normalize = (method: string, route: string) => `${method.toUpperCase()} ${route.replace(/\{[^}]*\}/g, "{}").replace(/\/$/, "")}`;

describe("the API reference", () => {
  let server: TestServer;
  before(async () => {
    server = await TestServer.start();
  });
  after(async () => server?.stop());

  it("documents every route of the OpenAPI document", async () => {
    const r = await server.api("GET", "/docs/json");
    assert.equal(r.status, 200, r.text);
    const published: string[] = [];
    for (const [route, item] of Object.entries(r.json.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(item)) if (METHODS.includes(method)) published.push(normalize(method, route));
    }
    assert.ok(published.length >= 20, `only ${published.length} routes published`);

    const reference = readFileSync(path.join(repoRoot, "docs/api.md"), "utf8");
    const documented = new Set([...reference.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^\s`?]*)/g)].map((m) => normalize(m[1]!, m[2]!)));
    const missing = published.filter((p) => !documented.has(p));
    assert.deepEqual(missing, [], `routes missing from docs/api.md:\n${missing.join("\n")}`);
  });

  it("/docs gives every operation its answer's schema (the one Fastify writes the answer through)", async () => {
    const doc = (await server.api("GET", "/docs/json")).json;
    const missing: string[] = [];
    let described = 0;
    for (const [route, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        if (!METHODS.includes(method)) continue;
        const key = normalize(method, route);
        const ok = Object.entries(op.responses as Record<string, { content?: Record<string, { schema?: object }> }>).filter(([status]) => /^2\d\d$/.test(status));
        // A 204 has no body; every other answer names its schema under each content type.
        const complete = ok.length > 0 && ok.every(([status, r]) => (r.content ? Object.values(r.content).every((c) => c.schema !== undefined) : status === "204"));
        if (!complete) missing.push(`${key}: ${JSON.stringify(ok)}`);
        else described++;
      }
    }
    assert.deepEqual(missing, [], `operations without a 2xx response schema:\n${missing.join("\n")}`);
    assert.ok(described >= 60, `only ${described} operations`);
    // A list answers its page, its items described field by field.
    const chats = doc.paths["/api/v1/chats"].get.responses["200"].content["application/json"].schema;
    assert.ok(chats.properties.items.items.properties.chat_url, JSON.stringify(chats));
  });

  it("/docs gives every operation a summary, its paragraph of docs/api.md, its errors, and request examples valid against its schema", async () => {
    const doc = (await server.api("GET", "/docs/json")).json;
    const ajv = new Ajv({ strict: false, allErrors: true });
    formats.default(ajv);
    for (const [route, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        if (!METHODS.includes(method)) continue;
        const key = normalize(method, route);
        assert.ok(SUMMARIES[key], `${key}: no summary in src/http/openapi.ts`);
        assert.equal(op.summary, SUMMARIES[key]);
        assert.ok(op.description.includes(`${method.toUpperCase()} ${route.split("{")[0]}`), `${key}: its paragraph of docs/api.md:\n${op.description}`);
        if (key === "GET /healthz") continue;
        assert.match(op.description, /Errors: `/, key);
        if (!(Array.isArray(op.security) && op.security.length === 0)) {
          assert.equal(op.responses["401"]?.content["application/json"].example.error.code, "UNAUTHORIZED", `${key}: its 401`);
        }
        const json = op.requestBody?.content?.["application/json"];
        if (json) {
          assert.ok(json.example !== undefined, `${key}: a request example`);
          assert.ok(ajv.validate(json.schema, json.example), `${key}: the example ${JSON.stringify(json.example)} is refused: ${ajv.errorsText()}`);
          assert.doesNotMatch(JSON.stringify(json.example), /"string"/, `${key}: a placeholder example`);
        }
        for (const p of op.parameters ?? []) assert.ok(p.example !== undefined && p.example !== "string", `${key}: an example of ${p.name}`);
      }
    }
    // The one with a request documented in full takes docs/api.md's own example.
    assert.equal(doc.paths["/api/v1/messages"].post.requestBody.content["application/json"].example.messages[0].text, "Hi! How are you? 👋");
    assert.equal(doc.info.title, "Threadline API");
  });

  it("every schema it publishes compiles with the compilers its route uses (they compile on first use, not at start)", async () => {
    const doc = (await server.api("GET", "/docs/json")).json;
    const validator = AjvCompiler()({}, AJV_OPTIONS as any);
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
