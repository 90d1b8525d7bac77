// A node:test reporter that closes the run with the time each file took (slowest first)
// and how many tests ran on each database, so a slow file or a missing matrix is easy to see.
import path from "node:path";

/** A test runs on PostgreSQL when its file is a `*.postgres.test.ts` (PostgreSQL only) or a suite above it names the database. */
const onPostgres = (file, names) => /\.postgres\.test\.[jt]s$/.test(file) || names.some((n) => /\(postgres\)/.test(n));

/** The test's source file, also when `npm test` ran its compiled copy (scripts/build-tests.mjs). */
const sourceFile = (file) =>
  path
    .relative(process.cwd(), file)
    .replace(/^\.test-build[\\/]/, "")
    .replace(/\.js$/, ".ts");

export default async function* summary(source) {
  const files = new Map();
  const stacks = new Map();
  let tests = 0;
  let failed = 0;
  let postgres = 0;
  let sqlite = 0;
  for await (const { type, data } of source) {
    if (!data?.file) continue;
    if (type === "test:start") {
      const stack = stacks.get(data.file) ?? [];
      stack.length = data.nesting;
      stack.push(data.name);
      stacks.set(data.file, stack);
    } else if (type === "test:pass" || type === "test:fail") {
      if (data.nesting === 0) files.set(data.file, (files.get(data.file) ?? 0) + (data.details?.duration_ms ?? 0));
      if (data.details?.type === "suite") continue;
      const names = (stacks.get(data.file) ?? []).slice(0, data.nesting);
      tests++;
      if (type === "test:fail") failed++;
      if (onPostgres(data.file, names)) postgres++;
      else if (names.some((n) => /\(sqlite\)/.test(n))) sqlite++;
    }
  }
  const rows = [...files].sort((a, b) => b[1] - a[1]);
  let out = "\n# time per file (slowest first)\n";
  for (const [file, ms] of rows) out += `#   ${(ms / 1000).toFixed(1).padStart(6)} s  ${sourceFile(file)}\n`;
  out += `# ${tests} tests: ${postgres} on PostgreSQL, ${sqlite} on SQLite in the database matrix, ${tests - postgres - sqlite} others\n`;
  out += `tests: ${tests - failed} passed, ${failed} failed\n`;
  yield out;
}
