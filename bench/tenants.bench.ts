// Many tenants (`npm run bench -- --tenants [--pg]`): workspaces with 5 webhooks each (half of
// them aggregated, all enabled) and no traffic. After a restart: how long until serving, CPU
// while idle, RSS, and the latency of one message to one workspace among them. On PostgreSQL
// (`--pg`) three processes share the webhooks: each one's share of the leases.
// BENCH_TENANTS=2000 workspaces by default; BENCH_TENANT_RUNS=1000,2000 measures several shapes.
import { readFileSync } from "node:fs";
import { Receiver } from "../test/helpers/receiver.js";
import { TestServer, createWorkspace, waitFor } from "../test/helpers/server.js";
import { DATABASE, procCpuMicros } from "./common.js";

const SHAPES = (process.env.BENCH_TENANT_RUNS ?? process.env.BENCH_TENANTS ?? "2000").split(",").map(Number);
const WEBHOOKS_PER_WORKSPACE = 5;
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 20);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 100);
const PROCESSES = DATABASE === "postgres" ? 3 : 1;
const ENV = { THREADLINE_TEST_CLOCK: undefined, LOG_LEVEL: "warn" };

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/** Threadline's figure of the leases a process holds now (`threadline_webhook_leases_held`), if it has one. */
async function leasesHeld(server: TestServer): Promise<number | undefined> {
  const r = await server.api("GET", "/metrics");
  const m = /^threadline_webhook_leases_held (\d+)/m.exec(r.text);
  return m ? Number(m[1]) : undefined;
}

async function shape(workspaces: number): Promise<void> {
  const receiver = await Receiver.start();
  let servers: TestServer[] = [];
  try {
    // One workspace made through the API (its account and webhooks: the latency probe's), the
    // rest copied in the database while no process runs, as a restart would find them.
    let first = await TestServer.start({ database: DATABASE, env: ENV });
    const ws = await createWorkspace(first);
    const phone = "+972500000001";
    const acc = await first.api("POST", "/api/v1/accounts", {
      token: ws.api_key,
      body: { phone, owner_email: ws.owner.email, source: "api" },
    });
    if (acc.status !== 201) throw new Error(`account: ${acc.text}`);
    const aggregations = ["none", "1h", "none", "6h", "24h"];
    for (const aggregation of aggregations) {
      const r = await first.api("POST", "/api/v1/webhooks", {
        token: ws.api_key,
        body: { url: receiver.url, aggregation },
      });
      if (r.status !== 201) throw new Error(`webhook: ${r.text}`);
    }
    await first.kill("SIGTERM");
    const copy = async (sql: string) => first.sql(sql);
    // Workspaces 2..n: copies of the first, each with copies of its webhooks.
    await copy(
      `insert into workspaces (id, name, timezone, owner_teammate_id, created_at)
       select 'ws_bench_' || n, 'Bench ' || n, timezone, owner_teammate_id, created_at
       from workspaces, (${seriesSql(workspaces - 1)}) s where id = '${ws.id}'`,
    );
    await copy(
      `insert into webhooks (id, workspace_id, url, enabled, aggregation, secret, previous_secret, previous_secret_until, consecutive_failures, disabled_reason, disabled_at, cursor_seq, epoch, window_end, created_at, updated_at, lease_owner, lease_until, filter)
       select w.id || '_' || n, 'ws_bench_' || n, w.url, 1, w.aggregation, w.secret, null, null, 0, null, null, 0, 0, w.window_end, w.created_at, w.updated_at, null, null, null
       from webhooks w, (${seriesSql(workspaces - 1)}) s where w.workspace_id = '${ws.id}'`,
    );
    const total = Number((await first.sql<{ n: number }>("select count(*) as n from webhooks"))[0]!.n);

    // The restart: from spawning until the API answers, every process.
    const t0 = performance.now();
    servers = await Promise.all(
      Array.from({ length: PROCESSES }, () =>
        TestServer.start({ database: DATABASE, dataDir: first.dataDir, databaseUrl: first.databaseUrl, env: ENV }),
      ),
    );
    const startMs = performance.now() - t0;
    // The first process inherits the database's cleanup.
    (servers[0] as unknown as { cleanup?: unknown }).cleanup = (first as unknown as { cleanup?: unknown }).cleanup;
    (first as unknown as { cleanup?: unknown }).cleanup = undefined;
    first = servers[0]!;
    console.log(
      `Tenants (${DATABASE}, ${PROCESSES} process${PROCESSES > 1 ? "es" : ""}): ${workspaces} workspaces × ${WEBHOOKS_PER_WORKSPACE} webhooks = ${total} (2 of 5 aggregated, all enabled), no traffic`,
    );
    console.log(`  start after a restart: serving after ${(startMs / 1000).toFixed(2)} s`);

    if (PROCESSES > 1) {
      const shares = await waitFor(
        async () => {
          const held = await Promise.all(servers.map(leasesHeld));
          return held.every((h) => h !== undefined) && held.reduce((a, b) => a + b!, 0) === total ? held : undefined;
        },
        "every webhook held",
        60_000,
      ).catch(() => undefined);
      const held = await Promise.all(servers.map(leasesHeld));
      // As the database says it (also where processes have no gauge).
      const owners = await first.sql<{ n: number }>(
        "select count(*) as n from webhooks where lease_owner is not null group by lease_owner order by 1 desc",
      );
      console.log(
        `  leases held per process after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${held.map((h) => h ?? "?").join(" / ")}${shares ? "" : " (not all held within 60 s)"}; by lease_owner: ${owners.map((o) => o.n).join(" / ")}`,
      );
    }

    // Let the start-up settle, then idle.
    await new Promise((r) => setTimeout(r, 5_000));
    const pids = servers.map((s) => s.child.pid!);
    const before = pids.map((p) => procCpuMicros(p) ?? 0);
    const idleStart = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idleSeconds = (performance.now() - idleStart) / 1000;
    const cpu = pids.map((p, i) => ((procCpuMicros(p) ?? 0) - before[i]!) / 1e6 / idleSeconds);
    console.log(
      `  idle for ${idleSeconds.toFixed(0)} s: ${cpu.map((c) => `${(c * 100).toFixed(1)} %`).join(" / ")} of a core; RSS ${pids.map((p) => `${rssMb(p).toFixed(0)} MB`).join(" / ")}`,
    );

    // One message at a time to the first workspace (through the first process): from the POST to
    // its unaggregated webhooks' receiver (the first of its two deliveries).
    const latencies: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const text = `tenant probe ${i}`;
      const arrived = new Promise<number>((resolve) => {
        const prev = receiver.respond;
        receiver.respond = (req) => {
          if (req.text === text) {
            receiver.respond = prev;
            resolve(performance.now());
          }
          return { status: 200, body: "ok" };
        };
      });
      const sent = performance.now();
      const r = await servers[0]!.api("POST", "/api/v1/messages", {
        token: ws.api_key,
        body: {
          messages: [
            {
              account_phone: phone,
              chat: { external_id: `972540000${String(i % 50).padStart(3, "0")}@s.whatsapp.net`, full_name: "Probe" },
              external_id: `probe-${workspaces}-${i}`,
              direction: "received",
              timestamp: 1_700_000_000 + i,
              type: "text",
              text,
            },
          ],
        },
      });
      if (r.status !== 202) throw new Error(`ingest: ${r.text}`);
      const at = await Promise.race([arrived, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 10_000))]);
      if (Number.isNaN(at)) throw new Error(`message ${i} did not arrive within 10 s`);
      latencies.push(at - sent);
      await new Promise((r) => setTimeout(r, 50));
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `  one message to one workspace (${SAMPLES} in a row): p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
    );

    if (PROCESSES > 1) {
      // One more process joins: the others hand their surplus over to it.
      const t1 = performance.now();
      servers.push(await TestServer.start({ database: DATABASE, databaseUrl: first.databaseUrl, env: ENV }));
      const fair = Math.ceil(total / servers.length);
      const held = await waitFor(
        async () => {
          const h = await Promise.all(servers.map(leasesHeld));
          return h.reduce<number>((a, b) => a + (b ?? 0), 0) === total &&
            h.every((x) => x !== undefined && Math.abs(x - fair) <= 10)
            ? h
            : undefined;
        },
        "the shares after a join",
        60_000,
      ).catch(() => undefined);
      console.log(
        `  a process joins: ${held ? held.join(" / ") : "(not settled within 60 s)"} after ${((performance.now() - t1) / 1000).toFixed(1)} s (from its spawn)`,
      );
    }
  } finally {
    for (const s of servers.slice(1)) await s.kill("SIGTERM");
    await servers[0]?.stop();
    await receiver.close();
  }
}

/** The numbers 1..n as a one-column table `n` (SQLite and PostgreSQL alike). */
function seriesSql(n: number): string {
  return `with recursive series(n) as (select 1 union all select n + 1 from series where n < ${n}) select n from series`;
}

export async function tenantsBench(): Promise<void> {
  for (const n of SHAPES) await shape(n);
}
