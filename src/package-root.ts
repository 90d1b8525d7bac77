import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The package's folder (where package.json is): found by walking up, so it is the same from
 * the sources (tsx), the compiled files and the one-file bundle (`dist/threadline.mjs`).
 */
export const PACKAGE_ROOT = ((): string => {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir)
      throw new Error(`Threadline's package.json was not found above ${fileURLToPath(import.meta.url)}.`);
  }
})();
