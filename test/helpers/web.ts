/** The browser tests' Chromium and the UI build they run against. */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { repoRoot as root } from "./contract.js";
import { waitFor, type TestServer } from "./server.js";
import { ownerPassword } from "./people.js";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

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
  const shared = ["web/index.html", "src/http/safe-next.ts", "src/webhooks/windows.ts"].map(
    (f) => statSync(path.join(root, f)).mtimeMs,
  );
  const sources = Math.max(newest(path.join(root, "web/src")), ...shared);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  execFileSync(
    process.execPath,
    [
      path.join(root, "node_modules/vite/bin/vite.js"),
      "build",
      "--config",
      "web/vite.config.ts",
      "--logLevel",
      "error",
    ],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
}

/** The system Chromium, headless, as every browser test launches it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/**
 * Signs in through the form as a workspace's owner (e-mail and password), setting the
 * owner's password first through the operator's `owner_invitation_url` when not done yet,
 * and waits for the signed-in UI.
 */
export async function signIn(
  page: Page,
  server: TestServer,
  ws: { owner_invitation_url: string; owner: { email: string } },
): Promise<void> {
  const { email, password } = await ownerPassword(server, ws);
  await signInAs(page, email, password);
}

/** Fills the sign-in form with an e-mail and password and waits for the signed-in UI. */
export async function signInAs(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** Polls a locator-based check until it holds (the UI refreshes on its own); a throw counts as not yet. */
export const eventually = (fn: () => Promise<unknown>, what: string, ms = 20_000) =>
  waitFor(
    async () => {
      try {
        return await fn();
      } catch {
        return false;
      }
    },
    what,
    ms,
  );
