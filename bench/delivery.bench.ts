// End-to-end delivery benchmark: the raw loopback ceiling (undici → receiver, no
// Threadline) against Threadline's ingest → log → consumer → signed POST → logged
// delivery, in one run on the same machine, then single-message ingest (single.bench.ts).
// `--pg` runs the server on PostgreSQL, `--single` only the single-message part, `--no-single` skips it,
// `--tenants` only the many-tenants bench (tenants.bench.ts). Figures go
// to BENCHMARKS.md.
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { createWorkspace } from "../test/helpers/server.js";
import { CpuMeter, procCpuMicros, startServer } from "./common.js";
import { singleMessageBench } from "./single.bench.js";
import { tenantsBench } from "./tenants.bench.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const CHATS = Number(process.env.BENCH_CHATS ?? 1_000);
const CONCURRENCY = 64;

function ask(child: ChildProcess, cmd: string): Promise<any> {
  return new Promise((resolve) => {
    child.once("message", resolve);
    child.send({ cmd });
  });
}

/** The server's largest RSS seen while waiting for deliveries (sampled every 20 ms). */
let peakRss = 0;
let serverPid: number | undefined;

async function waitForCount(child: ChildProcess, n: number, label: string): Promise<void> {
  let last = -1;
  let lastChange = Date.now();
  let lastPrint = Date.now();
  for (;;) {
    const { unique } = await ask(child, "count");
    if (serverPid !== undefined) peakRss = Math.max(peakRss, rssOf(serverPid));
    if (unique >= n) return;
    if (unique !== last) {
      last = unique;
      lastChange = Date.now();
    }
    if (Date.now() - lastPrint > 1000) {
      lastPrint = Date.now();
      console.log(`  ${label}: ${unique}/${n} delivered`);
    }
    if (Date.now() - lastChange > 60_000) throw new Error(`${label}: stuck at ${unique}/${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * undici POSTing `body` to the receiver, 64 at a time, with no Threadline: POST/s, and the CPU
 * a POST costs this client and the receiver (user + system), the share of a delivery that
 * Threadline's own sending cannot go below.
 */
async function ceiling(
  url: string,
  body: string,
  receiverPid: number,
): Promise<{ rate: number; clientMicros: number; receiverMicros: number }> {
  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 });
  let next = 0;
  const client = process.cpuUsage();
  const receiverBefore = procCpuMicros(receiverPid) ?? NaN;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < MESSAGES) {
        const i = next++;
        const res = await request(url, {
          method: "POST",
          dispatcher: agent,
          headers: { "content-type": "application/json", "webhook-id": `ceiling_${i}` },
          body,
        });
        await res.body.dump();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(client);
  const receiverMicros = ((procCpuMicros(receiverPid) ?? NaN) - receiverBefore) / MESSAGES;
  await agent.close();
  return { rate: MESSAGES / seconds, clientMicros: (user + system) / MESSAGES, receiverMicros };
}

/** Resident set size of a process, from /proc (pages of 4 KiB). */
function rssOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4096;
}

/** RSS beside the V8 heap and external memory the server reports in /metrics (prom-client's defaults). */
async function memoryOf(url: string, pid: number): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
  return `RSS ${mb(rssOf(pid))}, V8 heap used ${mb(metric("nodejs_heap_size_used_bytes"))} of ${mb(metric("nodejs_heap_size_total_bytes"))}, external ${mb(metric("nodejs_external_memory_bytes"))}`;
}

async function main() {
  if (process.argv.includes("--tenants")) return tenantsBench();
  if (process.argv.includes("--single")) {
    const server = await startServer();
    try {
      await singleMessageBench(server);
    } finally {
      await server.stop();
    }
    return;
  }
  const receiver = fork(path.join(here, "receiver.ts"), { execArgv: ["--import", "tsx"] });
  const [{ port }] = (await once(receiver, "message")) as [{ port: number }];
  const url = `http://127.0.0.1:${port}/hook`;
  console.log(
    `Threadline delivery benchmark: ${MESSAGES} messages across ${CHATS} chats, ${CONCURRENCY}-way ceiling client`,
  );

  const sample = JSON.stringify({
    whatsapp_account: { full_name: "Amnon Haha", email: "amnon@acme.com", phone: "+972500000000" },
    chat: {
      full_name: "John Doe",
      responsible_name: "",
      responsible_email: "",
      chat_url: "http://localhost:8080/chat/1/messages/",
      chat_id: "1",
      is_new_chat: false,
      is_group: false,
      phone: "+972540000000",
    },
    message: {
      direction: "received",
      timestamp: "2021-02-24T16:25:29+0000",
      message_id: "01JMXK6N6F8Q2Z7Y3VQ4B9T1RD",
      sender: { full_name: "John Doe", phone: "+972540000000" },
      recipient: { full_name: "Amnon Haha", phone: "+972500000000" },
      text: "Hi! How are you? 👋",
    },
  });
  // Warm both sides up, then measure.
  await ceiling(url, sample, receiver.pid!);
  await ask(receiver, "reset");
  const raw = await ceiling(url, sample, receiver.pid!);
  const ceilingRate = raw.rate;
  console.log(
    `  raw loopback ceiling: ${ceilingRate.toFixed(0)} POST/s; CPU per POST: client ${raw.clientMicros.toFixed(0)} µs, receiver ${raw.receiverMicros.toFixed(0)} µs`,
  );
  await ask(receiver, "reset");

  const server = await startServer();
  const rssAtStart = rssOf(server.child.pid!);
  serverPid = server.child.pid!;
  const meter = await CpuMeter.open(server);
  try {
    const ws = await createWorkspace(server);
    await server.api("POST", "/api/v1/accounts", {
      token: ws.api_key,
      body: { phone: "+972500000000", owner_email: "amnon@acme.com", source: "api" },
    });
    const wh = await server.api("POST", "/api/v1/webhooks", { token: ws.api_key, body: { url } });
    if (wh.status !== 201) throw new Error(`webhook: ${wh.text}`);
    const batches: unknown[][] = [];
    for (let i = 0; i < MESSAGES; i += 1000) {
      const batch = [];
      for (let j = i; j < Math.min(MESSAGES, i + 1000); j++) {
        const c = j % CHATS;
        batch.push({
          account_phone: "+972500000000",
          chat: { external_id: `9725400${String(c).padStart(5, "0")}@s.whatsapp.net`, full_name: `Contact ${c}` },
          external_id: `bench-${j}`,
          direction: j % 3 === 0 ? "sent" : "received",
          timestamp: 1_700_000_000 + j,
          type: "text",
          text: `Message ${j}: Hi! How are you? 👋`,
        });
      }
      batches.push(batch);
    }
    // Request bodies are serialized before the clock starts, as the ceiling's body is: the
    // bench's own JSON.stringify (~9 µs a message) would otherwise sit in the measured time.
    const headers = { authorization: `Bearer ${ws.api_key}`, "content-type": "application/json" };
    const post = async (body: string) => {
      const r = await server.request("POST", "/api/v1/messages", { headers, body });
      if (r.status !== 202) throw new Error(`ingest: ${r.status} ${r.text}`);
    };
    const bodies = batches.map((messages) => JSON.stringify({ messages }));
    await meter.start();
    const started = performance.now();
    let ingestDone = 0;
    const ingest = (async () => {
      for (const body of bodies) await post(body);
      ingestDone = performance.now();
    })();
    await waitForCount(receiver, MESSAGES, "threadline");
    await ingest;
    const seconds = (performance.now() - started) / 1000;
    const rate = MESSAGES / seconds;
    console.log(
      `  ingest of ${MESSAGES} (batches of 1000): ${((ingestDone - started) / 1000).toFixed(2)} s → ${(MESSAGES / ((ingestDone - started) / 1000)).toFixed(0)} msg/s`,
    );
    console.log(
      `  threadline end to end (${server.database}): ${rate.toFixed(0)} deliveries/s (${seconds.toFixed(2)} s, every delivery signed and logged); ${await meter.stop(MESSAGES)}`,
    );
    console.log(`  ratio to ceiling: ${(rate / ceilingRate).toFixed(2)}`);
    const log = await server.api("GET", `/api/v1/webhooks/${wh.json.id}/log`, { token: ws.api_key });
    console.log(`  detailed log kept: ${JSON.parse(log.text).length} entries (bounded at 100)`);

    // The consumer alone: a backlog of the same size, stored while the webhook was off.
    await server.api("PATCH", `/api/v1/webhooks/${wh.json.id}`, { token: ws.api_key, body: { enabled: false } });
    // Ingest alone (nothing delivers meanwhile): the batched HTTP path's own rate and CPU.
    const backlog = batches.map((messages, b) =>
      JSON.stringify({
        messages: (messages as { external_id: string }[]).map((m) => ({
          ...m,
          external_id: `backlog-${b}-${m.external_id}`,
        })),
      }),
    );
    await meter.start();
    const ingestStart = performance.now();
    for (const body of backlog) await post(body);
    const ingestRate = MESSAGES / ((performance.now() - ingestStart) / 1000);
    console.log(
      `  ingest alone (webhook off, batches of 1000): ${ingestRate.toFixed(0)} msg/s; ${await meter.stop(MESSAGES)}`,
    );
    await ask(receiver, "reset");
    const endToEndPeak = peakRss;
    peakRss = 0;
    await meter.start();
    const drainStart = performance.now();
    await server.api("PATCH", `/api/v1/webhooks/${wh.json.id}`, {
      token: ws.api_key,
      body: { enabled: true, replay: "since_disabled" },
    });
    await waitForCount(receiver, MESSAGES, "backlog");
    const drain = MESSAGES / ((performance.now() - drainStart) / 1000);
    console.log(
      `  backlog drain (consumer only): ${drain.toFixed(0)} deliveries/s, ratio to ceiling: ${(drain / ceilingRate).toFixed(2)}; ${await meter.stop(MESSAGES)}`,
    );
    console.log(
      `  server memory: ${await memoryOf(server.url, server.child.pid!)} (RSS at start ${(rssAtStart / 1e6).toFixed(0)} MB, peak ${(endToEndPeak / 1e6).toFixed(0)} MB end to end, ${(peakRss / 1e6).toFixed(0)} MB in the backlog drain)`,
    );
    // `--no-single`: the delivery figures only (profiling a drain).
    if (!process.argv.includes("--no-single")) await singleMessageBench(server);
  } finally {
    await meter.close();
    await server.stop();
    receiver.send({ cmd: "exit" });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
