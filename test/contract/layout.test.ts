// The tests mirror the code (README, "Tests"): a test folder is a folder of src/ (or one of the
// shared ones), and a test file is named after what it tests: a module of that folder, a route
// file of src/http/routes, a file at the top of src/, or the folder itself (its index.ts).
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { repoRoot } from "../helpers/contract.js";

const SHARED = new Set(["helpers", "fixtures", "contract", "web", "cli"]);
const src = path.join(repoRoot, "src");
const test = path.join(repoRoot, "test");

const names = (dir: string) => new Set(readdirSync(dir).map((f) => f.replace(/\.tsx?$/, "")));
const routes = names(path.join(src, "http", "routes"));
const topLevel = names(src);

it("every test folder mirrors a folder of src/, and every test file is named after what it tests", () => {
  const wrong: string[] = [];
  for (const folder of readdirSync(test, { withFileTypes: true })) {
    if (!folder.isDirectory() || SHARED.has(folder.name)) continue;
    const mirrored = path.join(src, folder.name);
    if (!existsSync(mirrored)) {
      wrong.push(`test/${folder.name}/ mirrors no folder of src/`);
      continue;
    }
    const modules = names(mirrored);
    for (const file of readdirSync(path.join(test, folder.name))) {
      if (!file.endsWith(".test.ts")) continue;
      const subject = file.split(".")[0]!;
      if (subject === folder.name || modules.has(subject) || routes.has(subject) || topLevel.has(subject)) continue;
      wrong.push(`test/${folder.name}/${file}: no src/${folder.name}/${subject}.ts, no route file ${subject}.ts`);
    }
  }
  assert.deepEqual(wrong, []);
});
