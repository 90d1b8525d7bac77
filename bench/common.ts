// What every bench shares: the command line (`--pg`), the server under test, and CPU per
// message measured beside each rate.
import { readFileSync } from "node:fs";
import pg from "pg";
import { TestServer, type Database } from "../test/helpers/server.js";

/** `npm run bench -- --pg`: the server on a fresh PostgreSQL database (TEST_DATABASE_URL), dropped at the end. */
export const DATABASE: Database = process.argv.includes("--pg") ? "postgres" : "sqlite";

export function startServer(): Promise<TestServer> {
  return TestServer.start({ database: DATABASE, env: { THREADLINE_TEST_CLOCK: undefined, LOG_LEVEL: "warn" } });
}

/** user + system CPU of a process in microseconds, from /proc (clock ticks of 10 ms). */
export function procCpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) * 10_000;
  } catch {
    return undefined;
  }
}

/**
 * Read and write system calls a process made so far (/proc/pid/io: socket reads and writes
 * included). Unlike CPU time they do not move with the machine's load.
 */
function procSyscalls(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? 0);
    return { reads: field("syscr"), writes: field("syscw") };
  } catch {
    return { reads: 0, writes: 0 };
  }
}

interface CpuSample {
  client: number;
  server: number;
  serverCalls: { reads: number; writes: number };
  backends: Map<number, number>;
}

/**
 * CPU spent by the bench itself (`process.cpuUsage`), the Threadline process and, on
 * PostgreSQL, the database's backends (pids from pg_stat_activity, times from /proc; they
 * run on this machine). `start()` and `stop(messages)` bracket one measured phase.
 */
export class CpuMeter {
  private admin: pg.Client | undefined;
  private constructor(private readonly server: TestServer) {}

  static async open(server: TestServer): Promise<CpuMeter> {
    const meter = new CpuMeter(server);
    if (server.databaseUrl) {
      meter.admin = new pg.Client({ connectionString: server.databaseUrl });
      await meter.admin.connect();
    }
    return meter;
  }

  private async sample(): Promise<CpuSample> {
    const backends = new Map<number, number>();
    if (this.admin) {
      const dbName = new URL(this.server.databaseUrl!).pathname.slice(1);
      const { rows } = await this.admin.query<{ pid: number }>(
        "select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
        [dbName],
      );
      for (const { pid } of rows) {
        const t = procCpuMicros(pid);
        if (t !== undefined) backends.set(pid, t);
      }
    }
    const u = process.cpuUsage();
    const pid = this.server.child.pid!;
    return { client: u.user + u.system, server: procCpuMicros(pid) ?? 0, serverCalls: procSyscalls(pid), backends };
  }

  private begun: CpuSample | undefined;

  async start(): Promise<void> {
    this.begun = await this.sample();
  }

  /** "server 212 µs + database 95 µs per message (bench client 40 µs)" for the phase since start(). */
  async stop(messages: number): Promise<string> {
    const end = await this.sample();
    const from = this.begun!;
    let db = 0;
    // A backend that went away during the phase is not counted (the pool keeps its connections while busy).
    for (const [pid, t] of end.backends) db += t - (from.backends.get(pid) ?? 0);
    const per = (us: number) => `${(us / messages).toFixed(0)} µs`;
    const server = end.server - from.server;
    const parts = [`CPU per message: server ${per(server)}`];
    if (this.admin) parts.push(`database ${per(db)}`, `together ${per(server + db)}`);
    parts.push(`(bench client ${per(end.client - from.client)})`);
    const calls = (n: number) => (n / messages).toFixed(2);
    parts.push(
      `server system calls per message: ${calls(end.serverCalls.writes - from.serverCalls.writes)} writes, ${calls(end.serverCalls.reads - from.serverCalls.reads)} reads`,
    );
    return parts.join(", ");
  }

  async close(): Promise<void> {
    await this.admin?.end();
  }
}

/** Runs a bench's `main` and exits: 0 once it printed its figures, 1 with the error. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
