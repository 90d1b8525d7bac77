// `threadline demo`: a newcomer sees a webhook arrive, and nothing is left behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { it } from "node:test";
import { repoRoot } from "../helpers/contract.js";
import { CLI, waitFor } from "../helpers/server.js";

it("the demo delivers simulated messages to its receiver on temporary data, and Ctrl-C stops it and removes the data", async () => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("THREADLINE_")) env[k] = v;
  // A DATABASE_URL of a real installation must not be touched by the demo.
  Object.assign(env, { PORT: "0", DATABASE_URL: "postgres://nobody@127.0.0.1:1/real", LOG_LEVEL: "warn" });
  const child = spawn(process.execPath, [...CLI, "demo"], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    await waitFor(() => /receiver ← \S+: \[[^\]]+\] (received|sent): /.test(out), `a delivery printed by the demo's receiver:\n${out}`);
    const dataDir = /demo data in (\S+) \(temporary\)/.exec(out)?.[1];
    assert.ok(dataDir && existsSync(dataDir), `the demo names its temporary data folder:\n${out}`);
    child.kill("SIGINT");
    assert.equal(await exited, 0, out);
    assert.match(out, /demo stopped; its data \(.+\) was removed\./);
    assert.equal(existsSync(dataDir), false, "the temporary data folder is left behind");
  } finally {
    child.kill("SIGKILL");
  }
});
