// Retention at scale (issue 25): 1,000,000 messages (BENCH_MESSAGES) older than a 1-day
// retention on SQLite, pruned while 200 single-message requests a second arrive over HTTP.
// Prints how long pruning took, ingest latency p50/p99/max meanwhile (and before, as the
// baseline), and the database file before and after. Run: npx tsx bench/retention.bench.ts
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../src/config/index.js";
import { createThreadline } from "../src/app.js";
import { boundHeapGrowth } from "../src/cli.js";
import { buildServer } from "../src/http/server.js";
import { createWorkspace } from "../src/workspaces/service.js";
import { createAccount } from "../src/accounts/service.js";
import { sqliteFile, sqliteOf } from "../src/db/index.js";
import type { IngestMessage } from "../src/ingest/types.js";
import { runBench } from "./common.js";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1_000_000);
const RATE = 200;
const PHONE = "+15550000000";
const DAY = 86_400_000;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const fileSize = (dir: string) =>
  ["", "-wal"].reduce((n, s) => n + (statSync(sqliteFile(dir) + s, { throwIfNoEntry: false })?.size ?? 0), 0);

async function main(): Promise<void> {
  boundHeapGrowth();
  const dataDir = mkdtempSync(path.join(tmpdir(), "threadline-retention-bench-"));
  const app = await createThreadline(
    loadConfig({ THREADLINE_DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "warn", THREADLINE_TEST_CLOCK: "1" }),
  );
  const server = await buildServer(app);
  try {
    const ws = await createWorkspace(app.db, app.clock, {
      name: "Bench",
      owner: { full_name: "Bench Owner", email: "owner@bench.test" },
    });
    await createAccount(app.db, app.clock, ws.id, { phone: PHONE, owner_email: "owner@bench.test", source: "api" });
    for (let b = 0; b < MESSAGES; b += 1000) {
      const batch: IngestMessage[] = [];
      for (let n = b; n < Math.min(MESSAGES, b + 1000); n++) {
        const contact = `1555${String(1_000_000 + (n % 10_000)).padStart(7, "0")}`;
        batch.push({
          account_phone: PHONE,
          chat: { external_id: `${contact}@s.whatsapp.net`, full_name: `Contact ${n % 10_000}`, phone: `+${contact}` },
          external_id: `old.${n}`,
          direction: "received",
          timestamp: 1_614_184_000 + n,
          type: "text",
          text: `An old message ${n}, of typical length for a CRM note. 👋`,
        });
      }
      await app.ingest(ws.id, batch);
    }
    const before = fileSize(dataDir);
    console.log(`Retention benchmark: ${MESSAGES} old messages stored, database ${mb(before)} (SQLite in ${dataDir})`);
    await server.listen({ port: 0, host: "127.0.0.1" });
    const { port } = server.server.address() as { port: number };
    let n = 0;
    /** Single-message requests at RATE a second for `ms`; answers their latencies. */
    const ingestFor = async (ms: number, until?: () => Promise<boolean>): Promise<number[]> => {
      const latencies: number[] = [];
      const start = performance.now();
      const inFlight: Promise<void>[] = [];
      for (let i = 0; ; i++) {
        const due = start + (i * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (performance.now() - start > ms && (!until || (i % RATE === 0 && (await until())))) break;
        const body = JSON.stringify({
          messages: [
            {
              account_phone: PHONE,
              chat: { external_id: "15559999999@s.whatsapp.net", full_name: "New", phone: "+15559999999" },
              external_id: `new.${n++}`,
              direction: "received",
              timestamp: Math.floor(Date.now() / 1000),
              type: "text",
              text: "new",
            },
          ],
        });
        const t = performance.now();
        inFlight.push(
          fetch(`http://127.0.0.1:${port}/api/v1/messages`, {
            method: "POST",
            headers: { authorization: `Bearer ${ws.api_key}`, "content-type": "application/json" },
            body,
          }).then(async (r) => {
            await r.arrayBuffer();
            if (r.status !== 202) throw new Error(`ingest answered ${r.status}`);
            latencies.push(performance.now() - t);
          }),
        );
      }
      await Promise.all(inFlight);
      return latencies;
    };
    const show = (what: string, l: number[]) =>
      console.log(
        `  ${what}: ${l.length} requests, p50 ${pct(l, 50).toFixed(1)} ms, p99 ${pct(l, 99).toFixed(1)} ms, max ${Math.max(...l).toFixed(1)} ms`,
      );
    show("ingest at 200 msg/s, nothing to prune", await ingestFor(10_000));

    await app.db.updateTable("workspaces").set({ retention_days: 1 }).where("id", "=", ws.id).execute();
    const lastOld = Number(
      (
        await app.db
          .selectFrom("messages")
          .select((eb) => eb.fn.max("seq").as("seq"))
          .where("external_id", "=", `old.${MESSAGES - 1}`)
          .executeTakeFirstOrThrow()
      ).seq,
    );
    // An indexed look for any old message left (a count would scan a million rows each time).
    const oldLeft = async () =>
      (await app.db
        .selectFrom("messages")
        .select("seq")
        .where("workspace_id", "=", ws.id)
        .where("seq", "<=", lastOld)
        .limit(1)
        .executeTakeFirst()) !== undefined;
    const t0 = performance.now();
    app.clock.advance(2 * DAY + 3600_000); // the hourly pass finds them all past the retention
    const file = sqliteOf(app.db)!;
    let prunedMs = 0;
    // Pruning is done when the old messages are gone and the freed pages are given back.
    const during = await ingestFor(5_000, async () => {
      if (prunedMs === 0 && !(await oldLeft())) prunedMs = performance.now() - t0;
      return prunedMs > 0 && Number(file.pragma("freelist_count", { simple: true })) === 0;
    });
    console.log(
      `  pruned ${MESSAGES} messages in ${(prunedMs / 1000).toFixed(1)} s, pages given back after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    show("ingest at 200 msg/s while pruning", during);
    file.pragma("wal_checkpoint(TRUNCATE)");
    console.log(
      `  database ${mb(before)} before, ${mb(fileSize(dataDir))} after (auto_vacuum ${file.pragma("auto_vacuum", { simple: true })})`,
    );
  } finally {
    await server.close();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runBench(main);
