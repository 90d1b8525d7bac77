// Single-message ingest over HTTP, as gateways post it (one message a request): the rate
// with 8 requests in flight, then latency at a fixed 200 messages/s. CPU per message beside
// each. Run alone with `npm run bench -- --single [--pg]`; `npm run bench` runs it after the
// delivery bench.
import { Pool, type Dispatcher } from "undici";
import { createWorkspace, type TestServer } from "../test/helpers/server.js";
import { CpuMeter } from "./common.js";

const REQUESTS = Number(process.env.BENCH_SINGLE_REQUESTS ?? 10_000);
/** 8 (the goal's figure); `BENCH_SINGLE_IN_FLIGHT=1` makes every group one request (CPU per group instead of a share of one; on the loaded machine no steadier, BENCHMARKS.md). */
const IN_FLIGHT = Number(process.env.BENCH_SINGLE_IN_FLIGHT ?? 8);
const RATE = 200;
const RATE_SECONDS = 10;
/** Each phase stops at this many seconds even when the server is slower than planned. */
const PHASE_LIMIT_MS = 30_000;
const CHATS = 200;

function message(j: number) {
  const c = j % CHATS;
  return JSON.stringify({
    messages: [
      {
        account_phone: "+972500000000",
        chat: { external_id: `9725400${String(c).padStart(5, "0")}@s.whatsapp.net`, full_name: `Contact ${c}` },
        external_id: `single-${j}`,
        direction: j % 3 === 0 ? "sent" : "received",
        timestamp: 1_700_000_000 + j,
        type: "text",
        text: `Message ${j}: Hi! How are you? 👋`,
      },
    ],
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

export async function singleMessageBench(server: TestServer): Promise<void> {
  const ws = await createWorkspace(server);
  const acc = await server.api("POST", "/api/v1/accounts", {
    token: ws.api_key,
    body: { phone: "+972500000000", owner_email: "amnon@acme.com", source: "api" },
  });
  if (acc.status !== 201) throw new Error(`account: ${acc.text}`);
  const pool = new Pool(server.url, { connections: 64, pipelining: 1 });
  const headers = { "content-type": "application/json", authorization: `Bearer ${ws.api_key}` };
  // The client's CPU counts on this 2-core machine: the bodies are built before the clock
  // starts, and each request goes through undici's dispatcher without a response stream.
  const bodies = Array.from({ length: CHATS + REQUESTS + RATE * RATE_SECONDS }, (_, j) => Buffer.from(message(j)));
  let next = 0;
  const post = (j: number) =>
    new Promise<void>((resolve, reject) => {
      let status = 0;
      const unexpected: Buffer[] = [];
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: () => {},
        onResponseStart: (_c, statusCode) => void (status = statusCode),
        onResponseData: (_c, chunk) => void (status !== 202 && unexpected.push(chunk)),
        onResponseEnd: () =>
          status === 202 ? resolve() : reject(new Error(`ingest: ${status} ${Buffer.concat(unexpected).toString()}`)),
        onResponseError: (_c, err) => reject(err),
      };
      pool.dispatch({ path: "/api/v1/messages", method: "POST", headers, body: bodies[j] ?? message(j) }, handler);
    });
  const meter = await CpuMeter.open(server);
  try {
    console.log(`Single-message ingest (${server.database}): one message a request, ${CHATS} chats, one workspace`);
    // Warm-up: connections, prepared paths, the chats created.
    for (let i = 0; i < CHATS; i++) await post(next++);

    await meter.start();
    const started = performance.now();
    let sent = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (sent < REQUESTS && performance.now() - started < PHASE_LIMIT_MS) {
          sent++;
          await post(next++);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `  ${IN_FLIGHT} in flight: ${sent} requests in ${seconds.toFixed(2)} s → ${(sent / seconds).toFixed(0)} req/s; ${await meter.stop(sent)}`,
    );

    // Open loop: a request every 5 ms whatever the answers, latency from its planned start.
    const total = RATE * RATE_SECONDS;
    const latencies: number[] = [];
    await meter.start();
    const t0 = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (performance.now() - t0 > PHASE_LIMIT_MS) break;
      const j = next++;
      pending.push(post(j).then(() => void latencies.push(performance.now() - due)));
    }
    await Promise.all(pending);
    latencies.sort((a, b) => a - b);
    const rateSeconds = (performance.now() - t0) / 1000;
    console.log(
      `  ${RATE} msg/s for ${RATE_SECONDS} s: ${latencies.length} requests, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms (${rateSeconds.toFixed(1)} s); ${await meter.stop(latencies.length)}`,
    );
  } finally {
    await meter.close();
    await pool.close();
  }
}
