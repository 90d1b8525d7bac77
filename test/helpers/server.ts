import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "./contract.js";
import type { WorkspaceCreated } from "../../src/workspaces/schemas.js";

export const OPERATOR_TOKEN = "tlo_test_operator_token_0123456789";

/** The newest modification time of the files under `dir`. */
function newestUnder(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestUnder(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * The node arguments that run the CLI: the compiled one-file bundle `dist/threadline.mjs` (what
 * bin/threadline.js runs) when it is newer than every source (`npm test` builds it first; it
 * starts with a sixth of tsx's CPU, and the suite starts a server well over a hundred times),
 * else the sources through tsx.
 */
export const CLI: readonly string[] = (() => {
  const compiled = path.join(repoRoot, "dist/threadline.mjs");
  if (existsSync(compiled) && statSync(compiled).mtimeMs >= newestUnder(path.join(repoRoot, "src"))) return [compiled];
  return ["--import", "tsx", path.join(repoRoot, "src/cli.ts")];
})();

/** The databases every storage test runs on, as kysely runs its suite over its dialects. */
export type Database = "sqlite" | "postgres";
export const DATABASES: readonly Database[] = ["sqlite", "postgres"];

export interface StartOptions {
  /** sqlite (default) or postgres: a fresh PostgreSQL database, dropped by `stop()`. */
  database?: Database;
  /** Reuse a data directory (restart tests); a fresh temp dir by default. */
  dataDir?: string;
  /** Reuse a PostgreSQL database (restart tests, several processes); not dropped by `stop()`. */
  databaseUrl?: string;
  env?: Record<string, string | undefined>;
}

/** A real Threadline process (the CLI's `serve`), on a free port, with its own data dir. */
export class TestServer {
  readonly url: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  readonly database: Database;
  /** The PostgreSQL database this process uses (undefined on SQLite). */
  readonly databaseUrl: string | undefined;
  output = "";
  private cleanup: (() => Promise<void>) | undefined;

  private constructor(url: string, dataDir: string, child: ChildProcess, storage: Storage, output: string) {
    this.url = url;
    this.dataDir = dataDir;
    this.child = child;
    this.database = storage.database;
    this.databaseUrl = storage.databaseUrl;
    this.cleanup = storage.cleanup;
    this.output = output;
    child.stdout?.on("data", (d) => (this.output += d));
    child.stderr?.on("data", (d) => (this.output += d));
  }

  static async start(opts: StartOptions = {}): Promise<TestServer> {
    const storage = await openStorage(opts);
    const { dataDir } = storage;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({
      ...process.env,
      DATABASE_URL: storage.databaseUrl,
      PORT: "0",
      HOST: "127.0.0.1",
      THREADLINE_DATA_DIR: dataDir,
      THREADLINE_ADMIN_TOKEN: OPERATOR_TOKEN,
      THREADLINE_ALLOW_PRIVATE_TARGETS: "1",
      THREADLINE_TEST_CLOCK: "1",
      // Passwords at a low scrypt cost (the suite signs in hundreds of times); test/workspaces/passwords.test.ts checks the real one.
      THREADLINE_TEST_PASSWORDS: "1",
      // Every JSON answer is checked against what its response schema wrote (src/http/server.ts, checkResponses).
      THREADLINE_TEST_RESPONSES: "1",
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
      ...opts.env,
    })) {
      if (v !== undefined) env[k] = v;
    }
    // The low password cost is refused without the test clock (a server started without it gets the real cost).
    if (env.THREADLINE_TEST_CLOCK !== "1") {
      delete env.THREADLINE_TEST_PASSWORDS;
      delete env.THREADLINE_TEST_RESPONSES;
    }
    // e.g. SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server.
    const nodeArgs = process.env.SERVER_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...nodeArgs, ...CLI, "serve"], {
      cwd: repoRoot,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server did not start in ${WAIT_MS / 1000} s:\n${output}`)),
        WAIT_MS,
      );
      const onData = (d: Buffer) => {
        output += d.toString();
        const m = /listening on (http:\/\/\S+)/i.exec(output);
        if (m) {
          clearTimeout(timer);
          child.stdout?.off("data", onData);
          child.stderr?.off("data", onData);
          resolve(m[1]!);
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before listening:\n${output}`));
      });
    }).catch(async (err: unknown) => {
      child.kill("SIGKILL");
      await storage.cleanup?.();
      throw err;
    });
    return new TestServer(url, dataDir, child, storage, output);
  }

  /**
   * Stops this process (SIGKILL by default: a crash) and starts another on the same data
   * directory or PostgreSQL database, which takes over their cleanup.
   */
  async restart(opts: { signal?: NodeJS.Signals; env?: Record<string, string | undefined> } = {}): Promise<TestServer> {
    await this.kill(opts.signal ?? "SIGKILL");
    const next = await TestServer.start({
      database: this.database,
      dataDir: this.dataDir,
      databaseUrl: this.databaseUrl,
      env: opts.env,
    });
    next.cleanup = this.cleanup;
    this.cleanup = undefined;
    return next;
  }

  /** Fetch against the server with JSON in and out (redirects followed). */
  async api(
    method: string,
    p: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    return this.request(method, p, {
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      redirect: "follow",
    });
  }

  /** A request with exactly these headers and this raw body (no defaults); redirects are not followed unless asked. */
  async request(
    method: string,
    p: string,
    opts: { headers?: Record<string, string>; body?: string; redirect?: RequestRedirect } = {},
  ) {
    const res = await fetch(this.url + p, {
      method,
      headers: opts.headers,
      body: opts.body,
      redirect: opts.redirect ?? "manual",
    });
    const text = await res.text();
    let json: any = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  /** Moves the server's clock forward (THREADLINE_TEST_CLOCK=1). */
  async advance(ms: number): Promise<string> {
    const r = await this.api("POST", "/api/v1/_test/clock", { token: OPERATOR_TOKEN, body: { advance_ms: ms } });
    if (r.status !== 200) throw new Error(`clock advance failed: ${r.status} ${r.text}`);
    return r.json.now as string;
  }

  /**
   * Runs one statement on this server's database (`?` placeholders on both), for tests that
   * change what is stored behind the server's back (an outage, a broken table).
   */
  async sql<T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> {
    if (this.database === "sqlite") {
      const { default: SQLite } = await import("better-sqlite3");
      const db = new SQLite(path.join(this.dataDir, "threadline.sqlite"));
      try {
        const statement = db.prepare(query);
        if (statement.reader) return statement.all(...params) as T[];
        statement.run(...params);
        return [];
      } finally {
        db.close();
      }
    }
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: this.databaseUrl });
    await client.connect();
    try {
      let n = 0;
      return (
        await client.query(
          query.replace(/\?/g, () => `$${++n}`),
          params,
        )
      ).rows as T[];
    } finally {
      await client.end();
    }
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.kill(signal);
    });
  }

  async stop(): Promise<void> {
    await this.kill("SIGTERM");
    const cleanup = this.cleanup;
    this.cleanup = undefined;
    await cleanup?.();
  }
}

interface Storage {
  database: Database;
  dataDir: string;
  databaseUrl: string | undefined;
  /** Removes what this start created (temp dir, PostgreSQL database); passed on by `restart`. */
  cleanup: (() => Promise<void>) | undefined;
}

async function openStorage(opts: StartOptions): Promise<Storage> {
  const database = opts.database ?? (opts.databaseUrl || opts.env?.DATABASE_URL ? "postgres" : "sqlite");
  const ownDir = opts.dataDir ? undefined : mkdtempSync(path.join(tmpdir(), "threadline-test-"));
  const dataDir = opts.dataDir ?? ownDir!;
  const removeDir = ownDir ? async () => rmSync(ownDir, { recursive: true, force: true }) : undefined;
  let databaseUrl = opts.databaseUrl ?? opts.env?.DATABASE_URL;
  let dropDb: (() => Promise<void>) | undefined;
  if (database === "postgres" && !databaseUrl) {
    const fresh = await freshPostgres({ migrated: true });
    databaseUrl = fresh.url;
    dropDb = fresh.drop;
  }
  const cleanup =
    removeDir || dropDb
      ? async () => {
          await dropDb?.();
          await removeDir?.();
        }
      : undefined;
  return { database, dataDir, databaseUrl: database === "postgres" ? databaseUrl : undefined, cleanup };
}

/** Creates a workspace with its owner and returns its key and ids. */
export async function createWorkspace(server: TestServer, over: Record<string, unknown> = {}) {
  const r = await server.api("POST", "/api/v1/workspaces", {
    token: OPERATOR_TOKEN,
    body: { name: "Acme", owner: { full_name: "Amnon Haha", email: "amnon@acme.com" }, ...over },
  });
  if (r.status !== 201) throw new Error(`create workspace: ${r.status} ${r.text}`);
  return r.json as WorkspaceCreated;
}

/**
 * How long a test waits for something that should happen. Generous on purpose: a passing
 * test returns as soon as it happens, and a loaded machine must not turn a wait into a failure.
 */
export const WAIT_MS = 90_000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the time runs out. */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = WAIT_MS): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A fresh PostgreSQL database for one test (dropped by the returned function), on the
 * server of TEST_DATABASE_URL (default: the local one CI starts). Never skipped. `migrated`:
 * a copy of a database the migrations ran on once in this run (`migratedTemplate`), so each
 * server does not run them again; without it, an empty database.
 */
export async function freshPostgres(
  opts: { migrated?: boolean } = {},
): Promise<{ url: string; drop: () => Promise<void> }> {
  const { default: pg } = await import("pg");
  const base = postgresBase();
  const name = `threadline_t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    const create = async () => {
      const from = opts.migrated ? await migratedTemplate() : undefined;
      await admin.query(`CREATE DATABASE ${name}${from ? ` TEMPLATE ${from}` : ""}`);
    };
    await create().catch(async (e: { code?: string }) => {
      // 3D000: the template was dropped since (a checkout with other migrations made its own): made again.
      if (!opts.migrated || e.code !== "3D000") throw e;
      template = undefined;
      await create();
    });
  } finally {
    await admin.end();
  }
  return {
    url: postgresUrl(name),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

const postgresBase = () => process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const postgresUrl = (name: string) => {
  const u = new URL(postgresBase());
  u.pathname = `/${name}`;
  return u.toString();
};

let template: Promise<string> | undefined;

/**
 * The name of a database the migrations of src/db/migrations.ts ran on, named after a hash of
 * that file, made once by whichever test process asks first (an advisory lock keeps the others
 * waiting) and kept between runs; a changed file makes a new one and drops the older. A server
 * started on a copy finds every migration applied (0.2 s of its start, and the DDL in
 * PostgreSQL, saved ~100 times a run); the migrations themselves run here and in the tests of
 * fresh storage (test/db/).
 */
function migratedTemplate(): Promise<string> {
  return (template ??= (async () => {
    const { default: pg } = await import("pg");
    const { createHash } = await import("node:crypto");
    const source = readFileSync(path.join(repoRoot, "src/db/migrations.ts"));
    const name = `threadline_tpl_${createHash("sha256").update(source).digest("hex").slice(0, 16)}`;
    const admin = new pg.Client({ connectionString: postgresBase() });
    await admin.connect();
    try {
      await admin.query("SELECT pg_advisory_lock(hashtext('threadline test template'))");
      const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (found.rowCount === 0) {
        const building = `${name}_building`;
        await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${building}`);
        const { openStorage, migrate } = await import("../../src/db/index.js");
        const storage = openStorage({ databaseUrl: postgresUrl(building), dataDir: "" });
        try {
          await migrate(storage);
        } finally {
          await storage.close();
        }
        await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
        const older = await admin.query<{ datname: string }>(
          "SELECT datname FROM pg_database WHERE datname LIKE 'threadline\\_tpl\\_%' AND datname <> $1",
          [name],
        );
        for (const { datname } of older.rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      }
    } finally {
      await admin.query("SELECT pg_advisory_unlock(hashtext('threadline test template'))").catch(() => undefined);
      await admin.end();
    }
    return name;
  })());
}

/**
 * Storage for a test in this process, as graphile-worker's helpers give one: a fresh
 * PostgreSQL database or a fresh SQLite folder (not migrated). `close` shuts it and removes it.
 */
export async function openTestStorage(
  database: Database,
): Promise<{ storage: import("../../src/db/index.js").Storage; close: () => Promise<void> }> {
  const { openStorage } = await import("../../src/db/index.js");
  if (database === "postgres") {
    const pg = await freshPostgres();
    const storage = openStorage({ databaseUrl: pg.url, dataDir: "" });
    return { storage, close: async () => (await storage.close(), await pg.drop()) };
  }
  const dir = mkdtempSync(path.join(tmpdir(), "threadline-storage-"));
  const storage = openStorage({ databaseUrl: undefined, dataDir: dir });
  return { storage, close: async () => (await storage.close(), rmSync(dir, { recursive: true, force: true })) };
}
