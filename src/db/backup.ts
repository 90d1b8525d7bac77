import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { sqliteFile } from "./index.js";

/**
 * `threadline backup FILE`: a consistent copy of the SQLite database of `dataDir`, taken
 * while a server may be writing to it (SQLite's online backup API). The whole database is
 * copied in one step, inside one read snapshot: a copy made in steps restarts whenever another
 * connection writes between two of them, and under steady ingest it might never finish.
 * Readers never block a WAL database's writers, so the server keeps serving meanwhile.
 */
export async function backupSqlite(dataDir: string, target: string): Promise<{ pages: number; file: string }> {
  const source = sqliteFile(dataDir);
  if (!existsSync(source))
    throw new Error(`There is no Threadline database in ${dataDir} (THREADLINE_DATA_DIR): nothing to back up.`);
  const file = path.resolve(target);
  if (existsSync(file)) throw new Error(`${file} exists already: name a new file (a backup never overwrites one).`);
  if (!existsSync(path.dirname(file)))
    throw new Error(
      `The folder ${path.dirname(file)} does not exist: create it first, or name a file in a folder that does.`,
    );
  const db = new SQLite(source, { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    const done = await db.backup(file, { progress: () => 0x7fffffff });
    return { pages: done.totalPages, file };
  } finally {
    db.close();
  }
}

/**
 * `threadline restore FILE`: a backup becomes the database of `dataDir`, which must be empty
 * (or not exist yet), so a restore never overwrites a database. The file is checked to be a
 * Threadline database first. After a restore, the webhooks resume from the cursors the backup
 * held: what they delivered after it is delivered again with the same `webhook-id`s.
 */
export function restoreSqlite(backup: string, dataDir: string): { file: string } {
  const source = path.resolve(backup);
  if (!existsSync(source)) throw new Error(`${source} does not exist: name a file made by threadline backup.`);
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new Error(
      `${dataDir} (THREADLINE_DATA_DIR) is not empty: restore into an empty folder (set THREADLINE_DATA_DIR to a new one), so no database is overwritten.`,
    );
  }
  let probe: SQLite.Database | undefined;
  try {
    probe = new SQLite(source, { readonly: true, fileMustExist: true });
    const ok = probe.pragma("quick_check", { simple: true });
    probe.prepare("select count(*) from webhooks").get();
    probe.prepare("select count(*) from messages").get();
    if (ok !== "ok") throw new Error(String(ok));
  } catch (e) {
    throw new Error(
      `${source} is not a Threadline backup that can be read (${(e as Error).message}): name a file made by threadline backup.`,
    );
  } finally {
    probe?.close();
  }
  mkdirSync(dataDir, { recursive: true });
  const file = sqliteFile(dataDir);
  copyFileSync(source, file);
  return { file };
}
