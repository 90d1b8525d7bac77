import { after, before } from "node:test";
import { Receiver } from "./receiver.js";
import { freshPostgres, TestServer } from "./server.js";
import { type Space, space } from "./workspace.js";

export interface TwoProcesses {
  /** Holds the webhook's lease: it was created through A before B started. */
  a: TestServer;
  b: TestServer;
  receiver: Receiver;
  s: Space;
  db: Awaited<ReturnType<typeof freshPostgres>>;
}

/**
 * Two Threadline processes on one fresh PostgreSQL database and a workspace whose webhook
 * points at a receiver, for a test file (started in `before`, stopped in `after`).
 */
export function twoProcesses(opts: { env?: Record<string, string> } = {}): TwoProcesses {
  const f = {} as TwoProcesses;
  before(async () => {
    f.db = await freshPostgres();
    f.receiver = await Receiver.start();
    // The test clock would be per process; these processes share one real clock.
    const env = { DATABASE_URL: f.db.url, THREADLINE_TEST_CLOCK: undefined, ...opts.env };
    f.a = await TestServer.start({ env });
    f.s = await space(f.a, { receiver: f.receiver });
    f.b = await TestServer.start({ env });
  });
  after(async () => {
    await f.a?.stop();
    await f.b?.stop();
    await f.receiver?.close();
    await f.db?.drop();
  });
  return f;
}
