#!/usr/bin/env node
// Runs the compiled CLI (built by `npm install`); `npm run dev` runs the sources with tsx.
import { main } from "../dist/cli.js";

main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
