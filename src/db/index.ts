import { mkdirSync } from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import pg from "pg";
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, sql, type MigrationProvider } from "kysely";
import type { Config } from "../config/index.js";
import type { Database } from "./schema.js";
import { migrations } from "./migrations.js";

export type { Database } from "./schema.js";
export type DB = Kysely<Database>;

export interface Storage {
  db: DB;
  dialect: "sqlite" | "postgres";
  close(): Promise<void>;
}

// int8 (bigserial, bigint) as numbers: every value we keep fits in 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export function openStorage(config: Pick<Config, "databaseUrl" | "dataDir">): Storage {
  if (config.databaseUrl) {
    const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: "postgres", close: () => db.destroy() };
  }
  mkdirSync(config.dataDir, { recursive: true });
  const file = new SQLite(path.join(config.dataDir, "threadline.sqlite"));
  file.pragma("journal_mode = WAL");
  file.pragma("synchronous = NORMAL");
  file.pragma("busy_timeout = 5000");
  // 64 MiB of page cache keeps the log's indexes in memory while it grows.
  file.pragma("cache_size = -65536");
  file.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: file }) });
  return { db, dialect: "sqlite", close: () => db.destroy() };
}

export async function migrate(storage: Storage): Promise<string[]> {
  const all = migrations(storage.dialect);
  const provider: MigrationProvider = { getMigrations: async () => all };
  const migrator = new Migrator({ db: storage.db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * Serializes writers of one workspace's log inside a transaction. On PostgreSQL this
 * makes seq order equal commit order per workspace, so a consumer reading past its
 * cursor never skips a row that commits later. SQLite has one writer already.
 */
export async function lockWorkspaceLog(tx: Kysely<any>, workspaceId: string): Promise<void> {
  if (isPostgres(tx)) await sql`select pg_advisory_xact_lock(hashtext(${workspaceId}))`.execute(tx);
}
