// The response schemas (src/schemas.ts, src/*/schemas.ts) are read by the web UI too: at run
// time a schema module may reach typebox, other schema modules and modules without imports
// only, so it never brings server code into the browser's bundle.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../helpers/contract.js";

const src = path.join(repoRoot, "src");
const schemaModules = [
  path.join(src, "schemas.ts"),
  ...readdirSync(src, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(src, d.name, "schemas.ts")),
].filter((f) => {
  try {
    readFileSync(f);
    return true;
  } catch {
    return false;
  }
});

/** The modules a file imports at run time (`import type` is erased). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+"([^"]+)"/gm)]
    .map((m) => m[1]!)
    .concat([...text.matchAll(/^import\s+"([^"]+)"/gm)].map((m) => m[1]!));
}

describe("response schema modules", () => {
  it("exist for the domains the API answers about", () => {
    const names = schemaModules.map((f) => path.relative(src, f)).sort();
    for (const d of [
      "schemas.ts",
      "webhooks/schemas.ts",
      "timeline/schemas.ts",
      "workspaces/schemas.ts",
      "accounts/schemas.ts",
      "audit/schemas.ts",
    ])
      assert.ok(names.includes(d), `${d} in ${names.join(", ")}`);
  });

  it("import only typebox, other schema modules and modules without imports at run time", () => {
    for (const file of schemaModules) {
      for (const spec of runtimeImports(file)) {
        if (spec === "typebox") continue;
        assert.ok(spec.startsWith("."), `${path.relative(src, file)} imports ${spec}`);
        const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, ".ts"));
        if (/(^|\/)schemas\.ts$/.test(target)) continue;
        assert.deepEqual(
          runtimeImports(target),
          [],
          `${path.relative(src, file)} imports ${spec}, which imports other modules`,
        );
      }
    }
  });
});
