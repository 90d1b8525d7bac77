// `threadline demo`: a newcomer sees a webhook arrive, and nothing is left behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
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
    await waitFor(
      () => /receiver ← \S+: \[[^\]]+\] (received|sent): /.test(out),
      `a delivery printed by the demo's receiver:\n${out}`,
    );
    const dataDir = /demo data in (\S+) \(temporary\)/.exec(out)?.[1];
    assert.ok(dataDir && existsSync(dataDir), `the demo names its temporary data folder:\n${out}`);
    // The owner signs in with what the demo printed (a key no longer opens the UI).
    const [, url, email, password] = /open (\S+) and sign in as (\S+) with the password (\S+);/.exec(out) ?? [];
    assert.ok(password, `the demo prints how to sign in:\n${out}`);
    const signIn = await fetch(`${url}/api/v1/session`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: url! },
      body: JSON.stringify({ email, password }),
    });
    assert.equal(signIn.status, 200, await signIn.text());
    child.kill("SIGINT");
    assert.equal(await exited, 0, out);
    assert.match(out, /demo stopped; its data \(.+\) was removed\./);
    assert.equal(existsSync(dataDir), false, "the temporary data folder is left behind");
  } finally {
    child.kill("SIGKILL");
  }
});

/** Runs the demo without PORT (so on the default port unless it is taken) and with `env` added. */
function startDemo(extra: Record<string, string> = {}) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith("THREADLINE_") && k !== "PORT") env[k] = v;
  Object.assign(env, { LOG_LEVEL: "warn", ...extra });
  const child = spawn(process.execPath, [...CLI, "demo"], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  const run = {
    child,
    out: "",
    exited: new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code))),
  };
  child.stdout.on("data", (d) => (run.out += d));
  child.stderr.on("data", (d) => (run.out += d));
  return run;
}

/** Holds 127.0.0.1:8080 (the default port) busy; already busy is as good. */
async function occupyDefaultPort(): Promise<Server> {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.once("error", () => resolve()).listen(8080, "127.0.0.1", resolve));
  return holder;
}

it("the demo on a busy default port says so, serves on a free port, and removes its data when stopped", async () => {
  const holder = await occupyDefaultPort();
  const demo = startDemo();
  try {
    await waitFor(
      () => /receiver ← \S+: \[[^\]]+\] (received|sent): /.test(demo.out),
      `a delivery printed by the demo's receiver:\n${demo.out}`,
    );
    assert.match(demo.out, /Port 8080 is in use, so the demo listens on a free port instead/);
    assert.doesNotMatch(demo.out, /open http:\/\/127\.0\.0\.1:8080\b/);
    const dataDir = /demo data in (\S+) \(temporary\)/.exec(demo.out)?.[1];
    assert.ok(dataDir && existsSync(dataDir), demo.out);
    demo.child.kill("SIGINT");
    assert.equal(await demo.exited, 0, demo.out);
    assert.equal(existsSync(dataDir), false, "the temporary data folder is left behind");
  } finally {
    demo.child.kill("SIGKILL");
    holder.close();
  }
});

it("a demo that cannot start (PORT given and busy) says what to do and removes its data", async () => {
  const holder = await occupyDefaultPort();
  const demo = startDemo({ PORT: "8080" });
  try {
    assert.equal(await demo.exited, 1, demo.out);
    assert.match(demo.out, /Port 8080 on 127\.0\.0\.1 is in use: stop what listens there, or set PORT to another port/);
    const dataDir = /demo data in (\S+) \(temporary\)/.exec(demo.out)?.[1];
    assert.ok(dataDir, demo.out);
    assert.equal(existsSync(dataDir), false, "the temporary data folder is left behind");
  } finally {
    demo.child.kill("SIGKILL");
    holder.close();
  }
});
