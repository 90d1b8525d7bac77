// Export at scale (issue 25): 1,000,000 messages (BENCH_MESSAGES) in 10,000 chats on SQLite,
// then `GET /api/v1/messages/export` read over HTTP as a CRM backfill would. Prints the rate
// and the server's RSS before and at its peak while streaming (server and client share this
// process; the client only counts lines), then the time `threadline backup` takes for that
// database. Run: npx tsx bench/export.bench.ts
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../src/config/index.js";
import { createThreadline } from "../src/app.js";
import { boundHeapGrowth } from "../src/cli.js";
import { buildServer } from "../src/http/server.js";
import { backupSqlite } from "../src/db/backup.js";
import { createWorkspace } from "../src/workspaces/service.js";
import { createAccount } from "../src/accounts/service.js";
import type { IngestMessage } from "../src/ingest/types.js";
import { runBench } from "./common.js";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1_000_000);
const CHATS = 10_000;
const BATCH = 1000;
const PHONE = "+15550000000";
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

async function main(): Promise<void> {
  boundHeapGrowth(); // the heap bounds `serve` sets
  const dataDir = mkdtempSync(path.join(tmpdir(), "threadline-export-bench-"));
  const app = await createThreadline(loadConfig({ THREADLINE_DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "warn" }));
  const server = await buildServer(app);
  try {
    const ws = await createWorkspace(app.db, app.clock, {
      name: "Bench",
      owner: { full_name: "Bench Owner", email: "owner@bench.test" },
    });
    await createAccount(app.db, app.clock, ws.id, { phone: PHONE, owner_email: "owner@bench.test", source: "api" });
    const t0 = performance.now();
    for (let b = 0; b < MESSAGES; b += BATCH) {
      const batch: IngestMessage[] = [];
      for (let n = b; n < Math.min(MESSAGES, b + BATCH); n++) {
        const contact = `1555${String(1_000_000 + (n % CHATS)).padStart(7, "0")}`;
        batch.push({
          account_phone: PHONE,
          chat: { external_id: `${contact}@s.whatsapp.net`, full_name: `Contact ${n % CHATS}`, phone: `+${contact}` },
          external_id: `bench.${n}`,
          direction: n % 3 === 2 ? "sent" : "received",
          timestamp: 1_614_184_000 + n,
          type: "text",
          text: `Hello, message ${n}, of typical length for a CRM note. 👋`,
        });
      }
      await app.ingest(ws.id, batch);
    }
    console.log(
      `Export benchmark: stored ${MESSAGES} messages in ${CHATS} chats in ${((performance.now() - t0) / 1000).toFixed(1)} s (SQLite in ${dataDir})`,
    );
    await server.listen({ port: 0, host: "127.0.0.1" });
    const { port } = server.server.address() as { port: number };
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
    const cpu0 = process.cpuUsage();
    const t1 = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/messages/export`, {
      headers: { authorization: `Bearer ${ws.api_key}` },
    });
    if (res.status !== 200) throw new Error(`export answered ${res.status}: ${await res.text()}`);
    let lines = 0;
    let bytes = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    }
    const s = (performance.now() - t1) / 1000;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);
    if (lines !== MESSAGES) throw new Error(`exported ${lines} lines of ${MESSAGES}`);
    console.log(
      `  exported ${lines} messages (${mb(bytes)}) in ${s.toFixed(1)} s: ${Math.round(lines / s)} messages/s, ${((cpu.user + cpu.system) / lines).toFixed(1)} µs CPU a message (server and client)`,
    );
    console.log(`  RSS before ${mb(base)}, peak while streaming ${mb(peak)} (+${mb(peak - base)})`);
    // `threadline backup` of the same database (SQLite's online backup, in one snapshot).
    const t2 = performance.now();
    const copy = await backupSqlite(dataDir, path.join(dataDir, "backup.sqlite"));
    console.log(
      `  backup of the ${MESSAGES}-message database: ${mb(statSync(copy.file).size)} in ${((performance.now() - t2) / 1000).toFixed(1)} s`,
    );
  } finally {
    await server.close();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runBench(main);
