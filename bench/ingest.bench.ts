// Ingest throughput, in process: the validate → dedupe → one-transaction path, without
// HTTP. Prints messages/s for fresh messages and for a batch of repeats.
// `npx tsx bench/ingest.bench.ts [--pg]` (PostgreSQL: a fresh database of TEST_DATABASE_URL).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Clock } from "../src/clock/index.js";
import { migrate, openStorage } from "../src/db/index.js";
import { ingestMessages } from "../src/ingest/ingest.js";
import type { IngestMessage } from "../src/ingest/types.js";
import { createAccount } from "../src/accounts/service.js";
import { createWorkspace } from "../src/workspaces/service.js";
import { freshPostgres } from "../test/helpers/server.js";
import { DATABASE } from "./common.js";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
const CHATS = 1_000;

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "threadline-ingest-bench-"));
  const pg = DATABASE === "postgres" ? await freshPostgres() : undefined;
  const storage = openStorage({ dataDir: dir, databaseUrl: pg?.url });
  await migrate(storage);
  const clock = new Clock();
  const ws = await createWorkspace(storage.db, clock, {
    name: "Bench",
    owner: { full_name: "Bench Owner", email: "owner@bench.test" },
  });
  await createAccount(storage.db, clock, ws.id, {
    phone: "+15550000000",
    owner_email: "owner@bench.test",
    source: "api",
  });
  const batch = (from: number): IngestMessage[] =>
    Array.from({ length: 1000 }, (_, k) => {
      const j = from + k;
      return {
        account_phone: "+15550000000",
        chat: {
          external_id: `1555${String(j % CHATS).padStart(7, "0")}@s.whatsapp.net`,
          full_name: `Contact ${j % CHATS}`,
        },
        external_id: `m-${j}`,
        direction: "received",
        timestamp: 1_700_000_000 + j,
        type: "text",
        text: `Message ${j} 👋`,
      };
    });
  let t = performance.now();
  for (let i = 0; i < MESSAGES; i += 1000) await ingestMessages(storage.db, clock, ws.id, batch(i));
  let s = (performance.now() - t) / 1000;
  console.log(
    `ingest (${storage.dialect}): ${MESSAGES} new messages in batches of 1000: ${s.toFixed(2)} s → ${(MESSAGES / s).toFixed(0)} msg/s`,
  );
  t = performance.now();
  for (let i = 0; i < 10_000; i += 1000) await ingestMessages(storage.db, clock, ws.id, batch(i));
  s = (performance.now() - t) / 1000;
  console.log(`ingest (${storage.dialect}): 10000 duplicates: ${s.toFixed(2)} s → ${(10_000 / s).toFixed(0)} msg/s`);
  await storage.close();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
