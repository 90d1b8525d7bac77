// Bundles the compiled CLI (dist/cli.js) and its pure-JS dependencies into one file,
// dist/threadline.mjs, which bin/threadline.js and the tests run. Measured on the 2-core
// machine: a process starts with 0.4 s of CPU instead of 0.9 s (resolving and reading some
// two thousand module files was most of the start), and the test suite starts a server
// well over a hundred times. Packages with native code or files of their own stay external.
import { readFileSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

await build({
  entryPoints: ["dist/cli.js"],
  outfile: "dist/threadline.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["better-sqlite3", "pg-native", "@fastify/swagger-ui", "@fastify/static"],
  // CommonJS dependencies call require(); an ES module bundle has none of its own.
  banner: {
    js: "import { createRequire as __threadlineRequire } from 'node:module'; const require = __threadlineRequire(import.meta.url);",
  },
  logLevel: "warning",
});

// esbuild escapes what is not ASCII in code (charset "ascii"), but some comments it keeps
// carry a few such characters ("’", "§"), and one is enough for V8 to hold the whole 4.8 MB
// source as a two-byte string: 9.7 MB of the idle heap instead of 4.8 MB. Escaped as text,
// they stay comments.
const out = "dist/threadline.mjs";
const source = readFileSync(out, "utf8");
const ascii = source.replace(/[\u0080-\u{10ffff}]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
if (ascii !== source) writeFileSync(out, ascii);
