// Compiles the tests and what they import (src/, test/, web/src/) to JavaScript in
// .test-build/, beside the sources, for `npm test`. Every test file is its own process, and
// under tsx each one spent 0.2–2 s of CPU loading the loader and compiling the TypeScript it
// imports (test/webhooks/consumer.test.ts: 3.0 s under tsx, 1.05 s compiled; BENCHMARKS.md,
// "Test suite"). Files are compiled one by one (not bundled), so a test imports the same
// modules at the same relative paths; inline source maps keep stack traces on the .ts lines.
// One test file runs from its source too: `node --import tsx --test test/x.test.ts`.
import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { buildSync } from "esbuild";

export const OUT = ".test-build";

const sources = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [path.join(dir, e.name)] : [],
  );

rmSync(OUT, { recursive: true, force: true });
buildSync({
  entryPoints: ["src", "test", "web/src"].flatMap(sources),
  outdir: OUT,
  outbase: ".",
  format: "esm",
  platform: "node",
  target: "node20",
  jsx: "automatic",
  sourcemap: "inline",
  logLevel: "warning",
});
