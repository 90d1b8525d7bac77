import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot } from "../helpers/contract.js";
import { Receiver } from "../helpers/receiver.js";
import { CLI, DATABASES, OPERATOR_TOKEN, TestServer } from "../helpers/server.js";
import { assertError, entry, ingest, space, waitForDelivery } from "../helpers/workspace.js";
import { ownerPassword } from "../helpers/people.js";

for (const database of DATABASES)
  describe(`health, metrics, docs and the test clock (${database})`, () => {
    let server: TestServer;
    let noClock: TestServer;
    before(async () => {
      [server, noClock] = await Promise.all([
        TestServer.start({ database }),
        TestServer.start({ database, env: { THREADLINE_TEST_CLOCK: undefined } }),
      ]);
    });
    after(async () => {
      await Promise.all([server?.stop(), noClock?.stop()]);
    });

    it("GET /healthz answers 200 {ok:true} without a token", async () => {
      const r = await server.api("GET", "/healthz");
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { ok: true });
    });

    it("GET /metrics is Prometheus text with threadline_ metrics that move with traffic", async () => {
      const receiver = await Receiver.start();
      try {
        const s = await space(server, { receiver });
        const id = (await ingest(server, s.key, [entry(s)])).results[0]!.message_id;
        await waitForDelivery(receiver, id);
        const r = await server.api("GET", "/metrics");
        assert.equal(r.status, 200);
        assert.match(r.headers.get("content-type") ?? "", /^text\/plain/);
        assert.match(r.text, /^# HELP threadline_/m);
        assert.match(r.text, /^# TYPE threadline_\w+ (counter|gauge|histogram|summary)$/m);
        const sample = /^threadline_ingested_messages_total\{[^}]*status="accepted"[^}]*\} (\d+(\.\d+)?)$/m.exec(
          r.text,
        );
        assert.ok(sample, `no accepted-ingest sample in:\n${r.text.slice(0, 2000)}`);
        assert.ok(Number(sample[1]) >= 1);
        assert.match(r.text, /^threadline_delivery_attempts_total\{[^}]*\} [1-9]/m);
        // Every path into the log counts, a message sent from Threadline included.
        const accepted = () =>
          server
            .api("GET", "/metrics")
            .then((m) =>
              Number(/^threadline_ingested_messages_total\{[^}]*status="accepted"[^}]*\} (\d+)/m.exec(m.text)![1]),
            );
        const before = await accepted();
        const chat = (await server.api("GET", "/api/v1/chats", { token: s.key })).json.items[0].chat_id as string;
        const sent = await server.api("POST", `/api/v1/chats/${chat}/messages`, {
          token: s.key,
          body: { text: "from Threadline" },
        });
        assert.equal(sent.status, 201, sent.text);
        assert.equal(await accepted(), before + 1);
        // Every sample line is `name{labels} value`.
        for (const line of r.text.split("\n")) {
          if (line && !line.startsWith("#"))
            assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[0-9.e+Inf-]+|NaN$/, line);
        }
      } finally {
        await receiver.close();
      }
    });

    it("GET /docs renders the reference from local files (no CDN); GET /docs/json is the OpenAPI document", async () => {
      const page = await fetch(server.url + "/docs", { redirect: "follow" });
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /text\/html/);
      const html = await page.text();
      assert.match(html, /swagger-ui/i);
      const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      assert.ok(assets.length > 0, html);
      for (const a of assets) assert.doesNotMatch(a, /^(https?:)?\/\//, `an asset from another host: ${a}`);
      const script = assets.find((a) => a.endsWith(".js"))!;
      const js = await fetch(new URL(script, page.url));
      assert.equal(js.status, 200, `${script} is served`);

      const r = await server.api("GET", "/docs/json");
      assert.equal(r.status, 200);
      assert.ok(r.json, "/docs/json is JSON");
      assert.match(String(r.json.openapi), /^3\./);
      const paths = Object.keys(r.json.paths ?? {});
      for (const p of ["/api/v1/messages", "/api/v1/webhooks", "/api/v1/chats", "/api/v1/workspaces"])
        assert.ok(paths.includes(p), `/docs lacks ${p}: ${paths.join(", ")}`);
      assert.ok(paths.some((p) => p.startsWith("/api/v1/webhooks/") && p.endsWith("/log")));
    });

    it("the test clock moves now forward with the operator token, and is a plain 404 without THREADLINE_TEST_CLOCK", async () => {
      const before = Date.now();
      const r = await server.api("POST", "/api/v1/_test/clock", {
        token: OPERATOR_TOKEN,
        body: { advance_ms: 3_600_000 },
      });
      assert.equal(r.status, 200, r.text);
      assert.ok(Date.parse(r.json.now) >= before + 3_600_000);
      assertError(await server.api("POST", "/api/v1/_test/clock", { body: { advance_ms: 1 } }), 401, "UNAUTHORIZED");

      const off = await noClock.api("POST", "/api/v1/_test/clock", {
        token: OPERATOR_TOKEN,
        body: { advance_ms: 1000 },
      });
      assertError(off, 404, "NOT_FOUND");
      // Exactly like a route that does not exist.
      const none = await noClock.api("POST", "/api/v1/_test/nothing", {
        token: OPERATOR_TOKEN,
        body: { advance_ms: 1000 },
      });
      assert.equal(none.status, 404);
      assert.equal(none.json.error.code, off.json.error.code);
    });
  });

/** Runs the CLI `serve` with an environment and returns how it ended. */
function runServe(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "threadline-cfg-"));
  const full: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith("THREADLINE_") && k !== "PORT" && k !== "DATABASE_URL") full[k] = v;
  Object.assign(full, { PORT: "0", THREADLINE_DATA_DIR: dataDir, THREADLINE_ADMIN_TOKEN: OPERATOR_TOKEN, ...env });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, "serve"], {
      cwd: repoRoot,
      env: full,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    // No timer: on a loaded machine start-up can take long; a server that starts is the failure.
    const onData = () => {
      if (!/listening on/i.test(stdout + stderr)) return;
      child.kill("SIGKILL");
      reject(new Error(`serve started with a bad configuration ${JSON.stringify(env)}:\n${stdout}${stderr}`));
    };
    child.stdout.on("data", (d) => ((stdout += d), onData()));
    child.stderr.on("data", (d) => ((stderr += d), onData()));
    child.on("exit", (code) => {
      rmSync(dataDir, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}

for (const database of DATABASES)
  describe(`signing in to the server-rendered pages (${database})`, () => {
    let server: TestServer;
    before(async () => {
      server = await TestServer.start({ database });
    });
    after(async () => {
      await server?.stop();
    });

    const submit = (form: Record<string, string>) =>
      fetch(server.url + "/signin", {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form).toString(),
      });

    it("the sign-in form sets the session cookie and returns to the page; a bad password stays on the form; only local pages are followed", async () => {
      const s = await space(server);
      const { email, password } = await ownerPassword(server, s.workspace);
      const bad = await submit({ email, password: s.key, next: "/chat/1/messages/" });
      assert.equal(bad.status, 401);
      assert.equal(bad.headers.get("set-cookie"), null);
      assert.match(await bad.text(), /do not match/);

      const ok = await submit({ email, password, next: "/chat/1/messages/" });
      assert.equal(ok.status, 303);
      assert.equal(ok.headers.get("location"), "/chat/1/messages/");
      const cookie = /tl_session=[^;]+/.exec(ok.headers.get("set-cookie") ?? "")?.[0];
      assert.ok(cookie, "the form sets tl_session");
      assert.match(ok.headers.get("set-cookie")!, /HttpOnly/i);
      const me = await fetch(server.url + "/api/v1/session", { headers: { cookie } });
      assert.equal(me.status, 200);
      assert.equal(((await me.json()) as { workspace: { id: string } }).workspace.id, s.workspace.id);

      const elsewhere = await submit({ email, password, next: "//evil.example/" });
      assert.equal(elsewhere.headers.get("location"), "/");
    });
  });

describe("bad configuration stops start-up with one sentence naming the variable", { concurrency: 4 }, () => {
  const cases: [Record<string, string>, string][] = [
    [{ PORT: "abc" }, "PORT"],
    [{ DATABASE_URL: "mysql://db.example.com/threadline" }, "DATABASE_URL"],
    // A well-formed URL of a database that cannot be reached.
    [{ DATABASE_URL: "postgres://threadline:secret-pw@127.0.0.1:1/threadline" }, "DATABASE_URL"],
    [{ THREADLINE_PUBLIC_URL: "not a url" }, "THREADLINE_PUBLIC_URL"],
    [{ THREADLINE_PUBLIC_URL: "ftp://threadline.example.com" }, "THREADLINE_PUBLIC_URL"],
    [{ THREADLINE_OIDC_ISSUER: "https://idp.example.com" }, "THREADLINE_OIDC_CLIENT_ID"],
    [
      {
        THREADLINE_OIDC_ISSUER: "https://idp.example.com",
        THREADLINE_OIDC_CLIENT_ID: "c",
        THREADLINE_OIDC_CLIENT_SECRET: "s",
        THREADLINE_OIDC_ALLOWED_DOMAINS: "acme.com",
      },
      "THREADLINE_OIDC_ALLOWED_DOMAINS",
    ],
    [{ THREADLINE_TEST_PASSWORDS: "1" }, "THREADLINE_TEST_PASSWORDS"],
  ];
  for (const [env, variable] of cases) {
    it(`${JSON.stringify(env)} → exit code non-zero, names ${variable}`, async () => {
      const r = await runServe(env);
      assert.notEqual(r.code, 0);
      assert.notEqual(r.code, null);
      const out = (r.stderr + r.stdout).trim();
      assert.ok(!/listening on/i.test(out), `it started:\n${out}`);
      const lines = out.split("\n").filter((l) => l.trim());
      assert.equal(lines.length, 1, `expected one sentence, got:\n${out}`);
      assert.ok(lines[0]!.includes(variable), `the message does not name ${variable}: ${lines[0]}`);
      assert.match(lines[0]!, /[.!]$/, "a sentence ends with a full stop");
      assert.ok(!lines[0]!.includes("secret-pw"), "the message leaks the database password");
    });
  }
});
