/** The browser tests' Chromium and the UI build they run against. */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { repoRoot as root } from "./contract.js";

export const CHROMIUM_PATH = "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Builds web/dist when it is missing or older than the UI sources (and what they import from src/). */
export function ensureWebBuild(): void {
  const index = path.join(root, "web/dist/index.html");
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }, 0);
  const shared = ["web/index.html", "src/http/safe-next.ts", "src/webhooks/windows.ts"].map((f) => statSync(path.join(root, f)).mtimeMs);
  const sources = Math.max(newest(path.join(root, "web/src")), ...shared);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  execFileSync(process.execPath, [path.join(root, "node_modules/vite/bin/vite.js"), "build", "--config", "web/vite.config.ts", "--logLevel", "error"], {
    cwd: root,
    stdio: "inherit",
  });
}
