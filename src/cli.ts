import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import v8 from "node:v8";
import { PerformanceObserver } from "node:perf_hooks";
import net, { type AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { ConfigError, loadConfig, type Config } from "./config/index.js";
import { createThreadline, VERSION } from "./app.js";
import { buildServer } from "./http/server.js";
import { migrate, openStorage } from "./db/index.js";
import { backupSqlite, restoreSqlite } from "./db/backup.js";
import { SHUTDOWN_GRACE_MS } from "./webhooks/manager.js";

const USAGE = `Threadline ${VERSION}: WhatsApp conversations to CRMs and automations.

Usage: threadline <command>
  serve     run the server (configuration from the environment; see README)
  migrate   create or update the database schema, then exit
  demo      run the server with simulated WhatsApp traffic and a local receiver that prints what it gets,
            on its own temporary SQLite data (removed on Ctrl-C), or on --data DIR (kept)
  backup FILE   copy the SQLite database to FILE while the server runs (PostgreSQL: pg_dump, see README)
  restore FILE  make FILE (a backup) the database of an empty THREADLINE_DATA_DIR
`;

function config(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`Configuration error: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}

/**
 * V8 lets the old generation grow to up to four times what survived the last full
 * collection before collecting again. Delivery makes a lot of short-lived garbage, so the
 * heap grew to about four times its live objects and RSS followed; growing by 30 % at most
 * keeps RSS lower at no rate the bench can tell (BENCHMARKS.md, "Bounded heap growth").
 * V8 reads this flag at each full collection, so setting it at run time works; the
 * command line or NODE_OPTIONS can still set another value.
 */
export function boundHeapGrowth(): void {
  if (!givenAtStart("--heap-growing-percent")) v8.setFlagsFromString("--heap-growing-percent=30");
  boundYoungGeneration(YOUNG_SEMI_SPACE_MB);
}

function givenAtStart(flag: string): boolean {
  return process.execArgv.some((a) => a.startsWith(flag)) || !!process.env.NODE_OPTIONS?.includes(flag);
}

/** Largest semi-space of the young generation `serve` lets V8 grow to (V8's default: 16 MB). */
const YOUNG_SEMI_SPACE_MB = 4;

/**
 * V8 doubles the young generation (two semi-spaces) while objects survive, up to 2 × 16 MB,
 * and keeps it: after the delivery bench it was most of what the heap held beyond its live
 * objects (BENCHMARKS.md, "Young generation and the bundle's source"). Its maximum (`--max-semi-space-size`) is read only when the process starts,
 * but the growth factor is read at each growth: so after every collection, growth stops
 * (factor 1) once a semi-space reached `maxMb`, and resumes (factor 2) should V8 shrink it.
 * Flags given at start win.
 */
let youngBounded = false;
function boundYoungGeneration(maxMb: number): void {
  if (youngBounded || givenAtStart("--max-semi-space-size") || givenAtStart("--semi-space-growth-factor")) return;
  youngBounded = true; // one observer per process, however many servers it starts
  const cap = 2 * maxMb * 1024 * 1024; // the new space's size counts both semi-spaces
  let factor = 2;
  const adjust = () => {
    const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
    const next = young && young.space_size >= cap ? 1 : 2;
    if (next !== factor) v8.setFlagsFromString(`--semi-space-growth-factor=${(factor = next)}`);
  };
  adjust();
  new PerformanceObserver(adjust).observe({ entryTypes: ["gc"] });
}

/**
 * An error that escaped every handler (a promise nobody awaited, a throw in a timer) is one
 * unit of work's failure, never the process's: it is logged and every other workspace keeps
 * being served. Node's default would end the process, and a restart would meet the same data.
 */
let keepingServing = false;
function keepServingOnErrors(log: { error(obj: object, msg: string): void }): void {
  if (keepingServing) return;
  keepingServing = true;
  process.on("unhandledRejection", (reason) =>
    log.error({ err: reason }, "an unhandled rejection; Threadline keeps serving"),
  );
  process.on("uncaughtException", (err) => log.error({ err }, "an uncaught exception; Threadline keeps serving"));
}

/** Starts the server; resolves with its URL and a function that stops it gracefully. */
export async function serve(cfg: Config): Promise<{ url: string; stop: () => Promise<void> }> {
  boundHeapGrowth();
  const app = await createThreadline(cfg);
  keepServingOnErrors(app.log);
  const server = await buildServer(app);
  await server.listen({ port: cfg.port, host: cfg.host }).catch((e: NodeJS.ErrnoException) => {
    // The process exits on this error (bin/threadline.js), which also ends what createThreadline started.
    if (e.code !== "EADDRINUSE") throw e;
    throw new Error(
      `Port ${cfg.port} on ${cfg.host} is in use: stop what listens there, or set PORT to another port (0: any free port).`,
    );
  });
  const port = (server.server.address() as AddressInfo).port;
  app.setPort(port);
  const shownHost =
    cfg.host === "0.0.0.0" || cfg.host === "::" ? "localhost" : cfg.host.includes(":") ? `[${cfg.host}]` : cfg.host;
  const url = `http://${shownHost}:${port}`;
  if (app.operatorTokenGenerated) {
    console.log(`Operator token (shown once; keep it, it manages workspaces): ${app.operatorTokenGenerated}`);
  }
  console.log(
    `Threadline ${VERSION} listening on ${url} (${app.storage.dialect === "sqlite" ? `SQLite in ${cfg.dataDir}` : "PostgreSQL"})`,
  );
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Stop taking work: no new connections (requests on open ones answer 503), no new deliveries.
      const closing = server.close();
      // Deliveries in flight get a few seconds to finish and be recorded; what is still
      // unanswered then is cut and handed back (its cursor stays: the next start sends it again).
      await app.manager.stop({ graceMs: SHUTDOWN_GRACE_MS });
      // A request still waiting on a receiver (a test event) is cut too, so closing cannot hang.
      await Promise.race([closing, new Promise((r) => setTimeout(r, 1000).unref())]);
      await app.deliverer.abort();
      await closing;
      await app.close();
    })());
  return { url, stop };
}

/** On SIGTERM or SIGINT: stops gracefully, then `after` (clean-up), then exits; gone within 10 s whatever happens. */
function stopOnSignals(stop: () => Promise<void>, after: () => void = () => {}): void {
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => {
      console.log(
        `${sig}: shutting down; deliveries in flight get ${SHUTDOWN_GRACE_MS / 1000} s, the rest resume on the next start.`,
      );
      const force = setTimeout(() => process.exit(1), 9_000);
      force.unref();
      stop()
        .then(after)
        .then(
          () => process.exit(0),
          (e) => {
            console.error(e);
            process.exit(1);
          },
        );
    });
  }
}

async function runServe(): Promise<void> {
  const { stop } = await serve(config());
  stopOnSignals(stop);
}

async function runMigrate(): Promise<void> {
  const cfg = config();
  const storage = openStorage(cfg);
  const done = await migrate(storage);
  await storage.close();
  console.log(done.length ? `Applied migrations: ${done.join(", ")}` : "The database schema is up to date.");
}

/** Whether a server could listen on host:port now. */
function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** `backup FILE` and `restore FILE`: SQLite only; PostgreSQL has pg_dump and pg_restore (README). */
async function runBackupOrRestore(cmd: "backup" | "restore", args: string[]): Promise<void> {
  const cfg = config();
  if (!args[0]) throw new Error(`${cmd} needs a file: threadline ${cmd} ./threadline-backup.sqlite`);
  if (cfg.databaseUrl)
    throw new Error(
      `${cmd} is for the embedded SQLite database; on PostgreSQL use pg_dump and pg_restore (README, "Backup and restore").`,
    );
  if (cmd === "backup") {
    const t0 = performance.now();
    const done = await backupSqlite(cfg.dataDir, args[0]);
    console.log(
      `Backed up ${cfg.dataDir} to ${done.file} (${done.pages} pages) in ${((performance.now() - t0) / 1000).toFixed(1)} s.`,
    );
  } else {
    const done = restoreSqlite(args[0], cfg.dataDir);
    console.log(
      `Restored ${path.resolve(args[0])} into ${done.file}. Start Threadline on it: webhooks resume where the backup left them (what they delivered since is sent again with the same webhook-id).`,
    );
  }
}

async function runDemo(args: string[]): Promise<void> {
  const at = args.indexOf("--data");
  if (at >= 0 && !args[at + 1]) throw new Error("--data needs a directory: threadline demo --data ./demo-data");
  // The demo never touches the data of a real installation: its own SQLite, temporary unless --data says where.
  const dataDir = at >= 0 ? path.resolve(args[at + 1]!) : mkdtempSync(path.join(tmpdir(), "threadline-demo-"));
  const temporary = at < 0;
  console.log(`demo data in ${dataDir}${temporary ? " (temporary)" : ""}`);
  // Every way out (Ctrl-C, a failed start, an error) removes temporary data: 'exit' runs on all of them.
  if (temporary) process.once("exit", () => rmSync(dataDir, { recursive: true, force: true }));
  const receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const p = JSON.parse(body) as {
        chat?: { full_name: string };
        message?: { direction: string; text: string };
        messages?: unknown[];
      };
      console.log(
        `receiver ← ${req.headers["webhook-id"]}: ${p.message ? `[${p.chat?.full_name}] ${p.message.direction}: ${p.message.text}` : `bundle of ${p.messages?.length} messages`}`,
      );
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/demo-hook`;
  const adminToken = process.env.THREADLINE_ADMIN_TOKEN ?? `demo-operator-${Date.now()}-token`;
  const env = {
    ...process.env,
    DATABASE_URL: undefined,
    THREADLINE_DATA_DIR: dataDir,
    THREADLINE_ADMIN_TOKEN: adminToken,
    THREADLINE_ALLOW_PRIVATE_TARGETS: "127.0.0.0/8",
  };
  let cfg = config(env);
  // A newcomer's default port is often taken (another server, an earlier demo): take a free one and say so.
  if (process.env.PORT === undefined && !(await portIsFree(cfg.host, cfg.port))) {
    console.log(`Port ${cfg.port} is in use, so the demo listens on a free port instead (set PORT to choose one).`);
    cfg = config({ ...env, PORT: "0" });
  }
  const { url, stop } = await serve(cfg);
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
    const res = await fetch(url + path, { method, headers, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<any>;
  };
  const ws = await call("POST", "/api/v1/workspaces", adminToken, {
    name: "Demo",
    owner: { full_name: "Dana Demo", email: "dana@demo.test" },
  });
  await call("POST", "/api/v1/accounts", ws.api_key, {
    phone: "+15550001000",
    owner_email: "dana@demo.test",
    source: "api",
  });
  await call("POST", "/api/v1/webhooks", ws.api_key, { url: receiverUrl });
  // People sign in as themselves (a key is for scripts): the demo's owner accepts her invitation with a password made here.
  const password = `demo-${randomBytes(9).toString("base64url")}`;
  await call("POST", "/api/v1/invitations/accept", "", {
    token: String(ws.owner_invitation_url).split("/").pop(),
    password,
  });
  console.log(
    `demo workspace API key (for scripts): ${ws.api_key}\nopen ${url} and sign in as dana@demo.test with the password ${password}; simulated messages follow (Ctrl-C stops).`,
  );
  const contacts = [
    ["Jane Roe", "+15551234567"],
    ["Omar Haddad", "+15557654321"],
    ["Li Wei", "+15559876543"],
  ] as const;
  const lines = [
    "Hi! Is the offer still valid? 👋",
    "Can you send me the price list?",
    "Thanks, that works 👍",
    "When can you deliver?",
  ];
  let n = 0;
  const traffic = setInterval(() => {
    const [name, phone] = contacts[n % contacts.length]!;
    const direction = n % 3 === 2 ? "sent" : "received";
    n++;
    void call("POST", "/api/v1/messages", ws.api_key, {
      messages: [
        {
          account_phone: "+15550001000",
          chat: { external_id: `${phone.slice(1)}@s.whatsapp.net`, full_name: name, phone },
          external_id: `demo-${Date.now()}-${n}`,
          direction,
          timestamp: Math.floor(Date.now() / 1000),
          type: "text",
          text: lines[n % lines.length],
        },
      ],
    }).catch((e) => console.error(e));
  }, 2000);
  stopOnSignals(
    async () => {
      clearInterval(traffic);
      await stop();
      receiver.close();
    },
    () => {
      console.log(
        temporary ? `demo stopped; its data (${dataDir}) was removed.` : `demo stopped; its data stays in ${dataDir}.`,
      );
    },
  );
}

export async function main(argv: string[]): Promise<void> {
  const cmd = argv[0] ?? "serve";
  if (cmd === "serve") return runServe();
  if (cmd === "migrate") return runMigrate();
  if (cmd === "demo") return runDemo(argv.slice(1));
  if (cmd === "backup" || cmd === "restore") return runBackupOrRestore(cmd, argv.slice(1));
  if (cmd === "--help" || cmd === "-h" || cmd === "help") {
    console.log(USAGE);
    return;
  }
  console.error(`Unknown command "${cmd}".\n\n${USAGE}`);
  process.exit(2);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
