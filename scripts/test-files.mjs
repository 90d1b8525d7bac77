// The test files for `npm test`, the longest first: node --test starts files in the order it
// is given them, so a long file started last would run on alone at the end (the tail). The
// list is what bench/test-files.sh measured longest (BENCHMARKS.md, "Test suite"); a file not
// on it runs in path order after them, so a stale list only costs time, never a test.
import { readdirSync } from "node:fs";
import path from "node:path";

const LONGEST_FIRST = [
  "test/http/server.isolation.test.ts",
  "test/web/readable.test.ts",
  "test/cli/system.test.ts",
  "test/sources/inbound.real-bodies.test.ts",
  "test/db/backup.test.ts",
  "test/web/sso.test.ts",
  "test/webhooks/consumer.blip.test.ts",
  "test/web/replay.test.ts",
  "test/sending/sending.test.ts",
  "test/webhooks/deliver.deadline.test.ts",
  "test/web/failure.test.ts",
  "test/webhooks/manager.restart.test.ts",
  "test/webhooks/bundles.crash.test.ts",
  "test/webhooks/replay.control.test.ts",
  "test/alerts/alerts.test.ts",
  "test/web/people.test.ts",
  "test/web/ui.test.ts",
  "test/webhooks/service.state.test.ts",
  "test/webhooks/bundles.test.ts",
  "test/sources/inbound.lookups.test.ts",
  "test/webhooks/manager.shutdown.test.ts",
  "test/webhooks/targets.test.ts",
];

const all = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? all(path.join(dir, e.name)) : e.name.endsWith(".test.ts") ? [path.join(dir, e.name)] : [],
  );
const files = all("test")
  .map((f) => f.split(path.sep).join("/"))
  .sort();
const rank = (f) => (LONGEST_FIRST.includes(f) ? LONGEST_FIRST.indexOf(f) : LONGEST_FIRST.length);
const ordered = files.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
// --built: the compiled files `npm test` runs (scripts/build-tests.mjs).
const built = process.argv.includes("--built");
console.log(ordered.map((f) => (built ? `.test-build/${f.replace(/\.ts$/, ".js")}` : f)).join("\n"));
