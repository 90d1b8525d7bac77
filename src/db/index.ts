import { mkdirSync } from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import pg from "pg";
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, type MigrationProvider } from "kysely";
import type { Config } from "../config/index.js";
import type { Database } from "./schema.js";
import { migrations } from "./migrations.js";
import { registerCache, StorageCache } from "./cache.js";

export type { Database } from "./schema.js";
export type DB = Kysely<Database>;

export interface Storage {
  db: DB;
  dialect: "sqlite" | "postgres";
  /** API keys and accounts in memory; dropped on any change (`cache.ts`). */
  cache: StorageCache;
  close(): Promise<void>;
}

// int8 (bigserial, bigint) as numbers: every value we keep fits in 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export function openStorage(
  config: Pick<Config, "databaseUrl" | "dataDir">,
  onConnectionError: (err: unknown) => void = (err) => console.error("a database connection failed", err),
): Storage {
  if (config.databaseUrl) {
    const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
    // An idle connection dropped by the server (restart, failover) is replaced on next use;
    // unheard, pg's 'error' event would end the process.
    pool.on("error", onConnectionError);
    // Off until the process hears other processes' changes (listenLogGrowth).
    const cache = new StorageCache(false);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [cache.plugin()] });
    registerCache(db, cache);
    // Ingest's own connections send a transaction's statements without waiting for each
    // answer (pg's pipeline mode; ingest/store.ts). Kysely waits for each, so it keeps its own.
    // Its statements are prepared once per connection (ingest/prepared.ts) but planned on every
    // run with the group's values: a generic plan made while a table is small (scan the
    // account's rows, filter the ids) stays cached as the table grows (BENCHMARKS.md, "Behind choices in the code").
    const pipelined = new pg.Pool({
      connectionString: config.databaseUrl,
      max: 4,
      pipeline: true,
      options: "-c plan_cache_mode=force_custom_plan",
    } as pg.PoolConfig);
    pipelined.on("error", onConnectionError);
    pipelines.set(db, pipelined);
    return {
      db,
      dialect: "postgres",
      cache,
      close: async () => {
        await db.destroy();
        await pipelined.end();
      },
    };
  }
  mkdirSync(config.dataDir, { recursive: true });
  const file = new SQLite(sqliteFile(config.dataDir));
  // Retention deletes old messages: a new database can then give the space back (incremental_vacuum).
  // Set before the first table exists; on an older database it has no effect.
  file.pragma("auto_vacuum = INCREMENTAL");
  file.pragma("journal_mode = WAL");
  file.pragma("synchronous = NORMAL");
  file.pragma("busy_timeout = 5000");
  // 8 MiB of page cache: more held RSS higher with no ingest gain that showed (BENCHMARKS.md, "Behind choices in the code");
  // the OS caches the file's pages too.
  file.pragma("cache_size = -8192");
  file.pragma("foreign_keys = ON");
  const cache = new StorageCache();
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: file }), plugins: [cache.plugin()] });
  registerCache(db, cache);
  sqliteFiles.set(db, file);
  return { db, dialect: "sqlite", cache, close: () => db.destroy() };
}

/** The SQLite database of a data folder (THREADLINE_DATA_DIR). */
export const sqliteFile = (dataDir: string) => path.join(dataDir, "threadline.sqlite");

const sqliteFiles = new WeakMap<object, SQLite.Database>();

/**
 * SQLite: the better-sqlite3 handle under a storage's `db` (undefined on PostgreSQL), for hot
 * paths that keep their prepared statements (Kysely prepares every statement again). Use it
 * only while holding Kysely's connection (`db.transaction()` or `db.connection()`), so its
 * statements never land inside another caller's open transaction.
 */
export function sqliteOf(db: object): SQLite.Database | undefined {
  return sqliteFiles.get(db);
}

const pipelines = new WeakMap<object, pg.Pool>();

/** PostgreSQL: the pool of pipelining connections that goes with a storage's `db` (undefined on SQLite). */
export function pipelineOf(db: object): pg.Pool | undefined {
  return pipelines.get(db);
}

/**
 * PostgreSQL: the queries that `send` submits on a pipelining client (`pipelineOf`) leave in
 * one socket write instead of one each (the socket corked around them; pg's own cork around
 * each query nests inside this one). Those writes were the largest item of ingest's profile.
 */
export function inOneWrite<T>(client: pg.PoolClient, send: () => T[]): T[] {
  const socket = client.connection.stream;
  socket.cork();
  try {
    return send();
  } finally {
    socket.uncork();
  }
}

export async function migrate(storage: Storage): Promise<string[]> {
  const all = migrations(storage.dialect);
  const provider: MigrationProvider = { getMigrations: async () => all };
  const migrator = new Migrator({ db: storage.db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Whether the database answers a query (`GET /healthz`). */
export async function databaseAnswers(db: DB): Promise<void> {
  await db.selectFrom("meta").select("key").limit(1).execute();
}

export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * Serializes writers of one workspace's log inside a transaction (PostgreSQL only; SQLite
 * has one writer already): a condition that takes `pg_advisory_xact_lock`, to be placed in a
 * statement that runs before any seq is allocated (ingest/prepared.ts). SQL text, given the
 * placeholder of the workspace's id: it goes into prepared statements. It makes seq order
 * equal commit order per workspace, so a consumer reading past its cursor never skips a row
 * that commits later.
 */
export function workspaceLogLock(workspaceIdParameter: string): string {
  return `pg_advisory_xact_lock(hashtext(${workspaceIdParameter})) is not null`;
}

const LOG_CHANNEL = "threadline_log";
/** Sent at commit by triggers on the cached tables (migration `0005_cache_notify`). */
const CACHE_CHANNEL = "threadline_cache";

/** Tells every process that a workspace's log grew (PostgreSQL sends it when the transaction commits). */
export function logGrowthAnnouncement(workspaceIdParameter: string): string {
  return `pg_notify('${LOG_CHANNEL}', ${workspaceIdParameter})`;
}

/**
 * Hears other processes' `announceLogGrowth` (PostgreSQL LISTEN), so a consumer here wakes
 * within milliseconds of an ingest there. Reconnects a second after any error; the
 * consumers' own 1 s sync covers the gap. On the same connection, `onCacheChange(true)`
 * hears that another process changed a cached table (and comes once LISTEN is in place);
 * `onCacheChange(false)` says changes can no longer be heard (the connection failed).
 */
export function listenLogGrowth(
  databaseUrl: string,
  onGrowth: (workspaceId: string) => void,
  onError: (err: unknown) => void,
  onCacheChange?: (listening: boolean) => void,
): { close(): Promise<void> } {
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const retry = (c: pg.Client) => {
    if (client === c) client = undefined;
    onCacheChange?.(false);
    c.end().catch(() => undefined);
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, 1000);
    timer.unref();
  };
  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: databaseUrl });
    c.on("notification", (n) => {
      if (n.channel === LOG_CHANNEL && n.payload) onGrowth(n.payload);
      else if (n.channel === CACHE_CHANNEL) onCacheChange?.(true);
    });
    c.on("error", (e) => {
      onError(e);
      retry(c);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${LOG_CHANNEL}; LISTEN ${CACHE_CHANNEL}`);
      if (!closed) onCacheChange?.(true);
      if (closed) await c.end();
      else client = c;
    } catch (e) {
      onError(e);
      retry(c);
    }
  };
  void connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await client?.end().catch(() => undefined);
    },
  };
}
