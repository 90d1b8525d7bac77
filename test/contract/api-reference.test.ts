// The repository's API reference (docs/api.md) is the contract: every route the server
// publishes in its OpenAPI document must be documented there.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
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
});
