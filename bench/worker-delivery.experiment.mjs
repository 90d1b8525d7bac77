// Experiment (issue 13, part 2): does delivery in a worker thread, with its own SQLite
// connection, help end to end on 2 cores? One process, the compiled sources (dist/, run
// `npm run build` first), SQLite, 20,000 messages in 1,000 chats ingested in batches of
// 1,000 through `app.ingest` while one unaggregated webhook delivers them to a receiver in its
// own process. `inline`: the ingesting app delivers too (as `serve` does today); `worker`:
// a second app on the same data directory delivers from a worker thread, told of each
// ingest over postMessage. Run: node bench/worker-delivery.experiment.mjs [inline|worker]
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { loadConfig } from "../dist/config/index.js";
import { createThreadline } from "../dist/app.js";
import { createWorkspace } from "../dist/workspaces/service.js";
import { createAccount } from "../dist/accounts/service.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const MESSAGES = 20_000;
const CHATS = 1_000;
const PHONE = "+15550000000";
const config = (dataDir) =>
  loadConfig({ THREADLINE_DATA_DIR: dataDir, PORT: "0", THREADLINE_ALLOW_PRIVATE_TARGETS: "1", LOG_LEVEL: "warn" });

if (!isMainThread) {
  // The delivering app: consumers, writer, deliverer; no HTTP, no ingest.
  const app = await createThreadline(config(workerData.dataDir));
  await app.manager.start({ alone: true });
  parentPort.on("message", (m) =>
    m === "stop" ? app.close().then(() => parentPort.postMessage("stopped")) : app.manager.notify(m),
  );
  parentPort.postMessage("ready");
} else {
  const mode = process.argv[2] ?? "inline";
  const dataDir = mkdtempSync(path.join(tmpdir(), "threadline-worker-exp-"));
  const receiver = fork(path.join(here, "receiver.ts"), { execArgv: ["--import", "tsx"] });
  const [{ port }] = await once(receiver, "message");
  const ask = (cmd) => new Promise((resolve) => (receiver.once("message", resolve), receiver.send({ cmd })));
  const app = await createThreadline(config(dataDir));
  const ws = await createWorkspace(app.db, app.clock, {
    name: "Bench",
    owner: { full_name: "Bench Owner", email: "owner@bench.test" },
  });
  await createAccount(app.db, app.clock, ws.id, { phone: PHONE, owner_email: "owner@bench.test", source: "api" });
  await app.webhooks.create(ws.id, { url: `http://127.0.0.1:${port}/hook`, aggregation: "none" });
  let worker;
  if (mode === "worker") {
    worker = new Worker(fileURLToPath(import.meta.url), { workerData: { dataDir } });
    await once(worker, "message");
  } else await app.manager.start({ alone: true });
  const batches = [];
  for (let b = 0; b < MESSAGES; b += 1000) {
    const batch = [];
    for (let i = b; i < b + 1000; i++) {
      const c = i % CHATS;
      batch.push({
        account_phone: PHONE,
        chat: { external_id: `9725400${String(c).padStart(5, "0")}@s.whatsapp.net`, full_name: `Contact ${c}` },
        external_id: `exp.${i}`,
        direction: "received",
        timestamp: 1_700_000_000 + i,
        type: "text",
        text: `Message ${i}: Hi! How are you? 👋`,
      });
    }
    batches.push(batch);
  }
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  let retries = 0;
  for (const batch of batches) {
    // Two connections write: ingest's deferred transaction cannot become a writer once the
    // worker wrote after it read (SQLITE_BUSY_SNAPSHOT); a real version would BEGIN IMMEDIATE.
    for (;;) {
      try {
        await app.ingest(ws.id, batch);
        break;
      } catch (e) {
        if (e.code !== "SQLITE_BUSY_SNAPSHOT" && e.code !== "SQLITE_BUSY") throw e;
        retries++;
      }
    }
    worker?.postMessage(ws.id);
  }
  const ingested = performance.now() - t0;
  for (;;) {
    const { unique } = await ask("count");
    if (unique >= MESSAGES) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  console.log(
    `${mode}: ingest ${(ingested / 1000).toFixed(2)} s, ${MESSAGES} delivered in ${seconds.toFixed(2)} s → ${(MESSAGES / seconds).toFixed(0)} deliveries/s; process CPU ${((used.user + used.system) / MESSAGES).toFixed(0)} µs a message; ingest retried ${retries} times`,
  );
  if (worker) {
    worker.postMessage("stop");
    await once(worker, "message");
    await worker.terminate();
  }
  await app.close();
  receiver.send({ cmd: "exit" });
}
