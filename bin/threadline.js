#!/usr/bin/env node
// Runs the compiled CLI, bundled into one file (built by `npm install`: scripts/bundle.mjs);
// `npm run dev` runs the sources with tsx.
import { main } from "../dist/threadline.mjs";

main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
