/**
 * Deleting many rows without holding the database: statements of at most `BATCH` rows with a
 * pause between them, in which ingest and deliveries of every workspace run (one delete of a
 * whole account or workspace held SQLite's only writer, or PostgreSQL's locks, for seconds).
 * Used by retention and by the deletion of accounts and workspaces.
 */

/** Rows a delete statement takes: a few milliseconds of a SQLite writer at most. */
export const BATCH = 500;
/** The pause between two batches. */
export const PAUSE_MS = 5;

export const pause = () => new Promise<void>((r) => setTimeout(r, PAUSE_MS));

/**
 * Runs `remove` (one statement deleting at most `BATCH` rows) until it deletes fewer than that,
 * pausing between batches; answers the rows deleted. `stopped`: a shutdown ends it early (what
 * is left is deleted by the next pass).
 */
export async function inBatches(
  remove: () => Promise<{ numDeletedRows: bigint }>,
  stopped: () => boolean = () => false,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    if (stopped()) return deleted;
    const n = Number((await remove()).numDeletedRows);
    deleted += n;
    if (n < BATCH) return deleted;
    await pause();
  }
}
