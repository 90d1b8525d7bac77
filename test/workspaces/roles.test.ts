// Roles on every route (issue 22, item 2): docs/api.md's table of least roles is the
// contract. For each route of the table and each actor (member, admin, owner, an API key),
// the answer is 403 FORBIDDEN naming the role when the actor's role is below the route's,
// and anything but 401/403 otherwise. One server per database; ids that exist nowhere, so
// allowed calls answer 404 or 400 and change nothing that matters.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot } from "../helpers/contract.js";
import { DATABASES, TestServer, createWorkspace } from "../helpers/server.js";
import { as, invite, ownerOf, type Person } from "../helpers/people.js";

const RANK: Record<string, number> = { member: 1, admin: 2, owner: 3 };

/** The roles table of docs/api.md: `METHOD /path` → least role (member, admin, owner or person). */
function rolesTable(): [string, string, string][] {
  const doc = readFileSync(path.join(repoRoot, "docs/api.md"), "utf8");
  const block = doc.slice(doc.indexOf("<!-- roles:start -->"), doc.indexOf("<!-- roles:end -->"));
  const rows = [...block.matchAll(/^\| `(GET|POST|PATCH|DELETE|PUT) (\/[^`]+)` \| (\w+) \|$/gm)].map(
    (m) => [m[1]!, m[2]!, m[3]!] as [string, string, string],
  );
  assert.ok(rows.length > 40, `the roles table has ${rows.length} rows`);
  return rows;
}

/** Routes that answer without a workspace credential, or only to the operator: not in the table. */
const NOT_WORKSPACE = new Set([
  "POST /api/v1/workspaces",
  "GET /api/v1/workspaces",
  "DELETE /api/v1/workspaces/{id}",
  "POST /api/v1/_test/clock",
  "POST /api/v1/session",
  "DELETE /api/v1/session",
  "POST /api/v1/sign-in-links",
  "POST /api/v1/sign-in-links/accept",
  "POST /api/v1/password-resets",
  "POST /api/v1/password-resets/accept",
  "POST /api/v1/invitations/accept",
  "GET /api/v1/sso",
]);

for (const database of DATABASES)
  describe(`roles on every route (${database})`, () => {
    let server: TestServer;
    const actors: {
      name: string;
      role: string;
      call: (method: string, p: string, body?: unknown) => ReturnType<TestServer["api"]>;
    }[] = [];
    before(async () => {
      server = await TestServer.start({ database, env: { THREADLINE_RATE_LIMIT_SIGNIN: "0" } });
      const ws = await createWorkspace(server, { owner: { full_name: "Olive Owner", email: "olive@roles.example" } });
      const owner = await ownerOf(server, ws);
      const admin: Person = await invite(server, owner, "adele@roles.example", "admin");
      const member = await invite(server, owner, "milo@roles.example", "member");
      const key = await as(server, owner, "POST", "/api/v1/api-keys", { name: "Matrix key" });
      assert.equal(key.status, 201, key.text);
      for (const [name, p] of [
        ["member", member],
        ["admin", admin],
        ["owner", owner],
      ] as const)
        actors.push({ name, role: name, call: (m, u, b) => as(server, p, m, u, b) });
      actors.push({
        name: "API key",
        role: "key",
        call: (m, u, b) => server.api(m, u, { token: key.json.key, body: b }),
      });
    });
    after(async () => {
      await server?.stop();
    });

    it("every workspace route of the OpenAPI document is in the roles table", async () => {
      const doc = (await server.api("GET", "/docs/json")).json as { paths: Record<string, Record<string, unknown>> };
      const table = new Set(rolesTable().map(([m, p]) => `${m} ${p.replace(/\{[^}]+\}/g, "{}")}`));
      const missing: string[] = [];
      for (const [p, methods] of Object.entries(doc.paths)) {
        if (!p.startsWith("/api/v1/")) continue;
        for (const m of Object.keys(methods)) {
          const route = `${m.toUpperCase()} ${p.replace(/\{[^}]+\}/g, "{}")}`;
          if (!NOT_WORKSPACE.has(`${m.toUpperCase()} ${p}`) && !table.has(route)) missing.push(route);
        }
      }
      assert.deepEqual(missing, []);
    });

    it("each route answers its role or 403 naming the role it needs, for member, admin, owner and an API key", async () => {
      const wrong: string[] = [];
      for (const [method, route, least] of rolesTable()) {
        const p = route.replace(/\{[^}]+\}/g, "zz_missing");
        const body = method === "GET" || method === "DELETE" ? undefined : {};
        for (const actor of actors) {
          const allowed =
            least === "person"
              ? actor.role !== "key"
              : RANK[actor.role === "key" ? "admin" : actor.role]! >= RANK[least]!;
          const r = await actor.call(method, p, body);
          if (
            allowed
              ? r.status === 401 || r.status === 403
              : r.status !== 403 ||
                r.json?.error?.code !== "FORBIDDEN" ||
                (least !== "person" && !r.json.error.message.includes(`needs the ${least} role`))
          )
            wrong.push(`${method} ${route} as ${actor.name}: ${r.status} ${r.text.slice(0, 160)}`);
        }
      }
      assert.deepEqual(wrong, []);
    });
  });
