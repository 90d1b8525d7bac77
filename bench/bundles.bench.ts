// Aggregation at scale: 100,000 chats with one message each (BENCH_MESSAGES_PER_CHAT=10:
// ten each, 1,000,000 messages, the chats' messages interleaved as gateways deliver them),
// all in one 1h window, then the window closes. Prints the time to deliver every bundle to
// a local receiver (its own process) and the sender's peak RSS and heap while doing it; only
// the delivery after the close is timed. Run: npx tsx bench/bundles.bench.ts
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/index.js";
import { createThreadline } from "../src/app.js";
import { boundHeapGrowth } from "../src/cli.js";
import { createWorkspace } from "../src/workspaces/service.js";
import { createAccount } from "../src/accounts/service.js";
import type { IngestMessage } from "../src/ingest/types.js";
import { runBench } from "./common.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CHATS = Number(process.env.BENCH_CHATS ?? 100_000);
const PER_CHAT = Number(process.env.BENCH_MESSAGES_PER_CHAT ?? 1);
const MESSAGES = CHATS * PER_CHAT;
const BATCH = 1000;
const PHONE = "+15550000000";

function ask(child: ChildProcess, cmd: string): Promise<any> {
  return new Promise((resolve) => {
    child.once("message", resolve);
    child.send({ cmd });
  });
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

async function main(): Promise<void> {
  // The heap bounds `serve` sets, so memory here is what a server's would be.
  boundHeapGrowth();
  const dataDir = mkdtempSync(path.join(tmpdir(), "threadline-bundles-bench-"));
  const receiver = fork(path.join(here, "receiver.ts"), { execArgv: ["--import", "tsx"] });
  const [{ port }] = (await once(receiver, "message")) as [{ port: number }];
  const app = await createThreadline(
    loadConfig({
      THREADLINE_DATA_DIR: dataDir,
      PORT: "0",
      THREADLINE_ALLOW_PRIVATE_TARGETS: "1",
      THREADLINE_TEST_CLOCK: "1",
      LOG_LEVEL: "warn",
    }),
  );
  try {
    console.log(
      `Aggregation benchmark: ${CHATS} chats x ${PER_CHAT} message${PER_CHAT === 1 ? "" : "s"} in one 1h window (SQLite in ${dataDir})`,
    );
    const ws = await createWorkspace(app.db, app.clock, {
      name: "Bench",
      owner: { full_name: "Bench Owner", email: "owner@bench.test" },
    });
    await createAccount(app.db, app.clock, ws.id, { phone: PHONE, owner_email: "owner@bench.test", source: "api" });
    const webhook = await app.webhooks.create(ws.id, { url: `http://127.0.0.1:${port}/hook`, aggregation: "1h" });

    const t0 = performance.now();
    // Message n goes to chat n mod CHATS: every chat's messages are spread over the whole log.
    for (let b = 0; b < MESSAGES; b += BATCH) {
      const batch: IngestMessage[] = [];
      for (let n = b; n < Math.min(MESSAGES, b + BATCH); n++) {
        const i = n % CHATS;
        const contact = `1555${String(1_000_000 + i).padStart(7, "0")}`;
        batch.push({
          account_phone: PHONE,
          chat: { external_id: `${contact}@s.whatsapp.net`, full_name: `Contact ${i}`, phone: `+${contact}` },
          external_id: `bench.${n}`,
          direction: n % 3 === 2 ? "sent" : "received",
          timestamp: 1_614_184_000 + Math.floor((n / MESSAGES) * 3600),
          type: "text",
          text: `Hello from chat ${i}, message ${Math.floor(n / CHATS) + 1}, of typical length for a CRM note. 👋`,
        });
      }
      await app.ingest(ws.id, batch);
    }
    const ingestMs = performance.now() - t0;
    console.log(`  stored ${MESSAGES} messages in ${CHATS} chats in ${(ingestMs / 1000).toFixed(1)} s`);

    await app.writer.flush();
    const row = await app.db
      .selectFrom("webhooks")
      .select("window_end")
      .where("id", "=", webhook.id)
      .executeTakeFirstOrThrow();
    const windowEnd = Number(row.window_end);
    global.gc?.();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakHeap = base.heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 100); // memoryUsage() walks the heap: every 20 ms it was 2 % of the sender's CPU

    const cpu0 = process.cpuUsage();
    const t1 = performance.now();
    app.clock.advance(windowEnd - app.clock.now() + 1);
    let last = 0;
    let lastChange = Date.now();
    let lastPrint = Date.now();
    for (;;) {
      const { unique } = await ask(receiver, "count");
      if (unique >= CHATS) break;
      if (unique !== last) [last, lastChange] = [unique, Date.now()];
      if (Date.now() - lastPrint > 2000) {
        lastPrint = Date.now();
        console.log(`  ${unique}/${CHATS} bundles delivered`);
      }
      if (Date.now() - lastChange > 60_000) throw new Error(`stuck at ${unique}/${CHATS}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const deliverMs = performance.now() - t1;
    // The window is done when the cursor moves past it.
    for (;;) {
      await app.writer.flush();
      const w = await app.db
        .selectFrom("webhooks")
        .select(["cursor_seq", "window_end"])
        .where("id", "=", webhook.id)
        .executeTakeFirstOrThrow();
      if (Number(w.window_end) > windowEnd) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const doneMs = performance.now() - t1;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);
    const { count, unique } = await ask(receiver, "count");
    console.log(
      `  window closed -> ${unique} bundles delivered (${count} requests) in ${(deliverMs / 1000).toFixed(2)} s: ${Math.round(unique / (deliverMs / 1000))} bundles/s; cursor moved at ${(doneMs / 1000).toFixed(2)} s`,
    );
    // CPU time does not depend on what else the machine runs (this process only; the receiver has its own).
    const cpuS = (cpu.user + cpu.system) / 1e6;
    console.log(
      `  sender CPU while delivering: ${cpuS.toFixed(2)} s (user ${(cpu.user / 1e6).toFixed(2)}, system ${(cpu.system / 1e6).toFixed(2)}), ${Math.round((cpuS * 1e6) / MESSAGES)} µs per message, ${Math.round((cpuS * 1e6) / CHATS)} µs per bundle`,
    );
    console.log(
      `  memory before the close: rss ${mb(base.rss)}, heap ${mb(base.heapUsed)}; peak while delivering: rss ${mb(peakRss)} (+${mb(peakRss - base.rss)}), heap ${mb(peakHeap)} (+${mb(peakHeap - base.heapUsed)})`,
    );
  } finally {
    await app.close();
    receiver.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runBench(main);
