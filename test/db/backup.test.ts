/**
 * Backup and restore (issue 25, item 3), on both databases: a backup taken while messages
 * keep arriving, restored into fresh storage, and a server started on it. Nothing accepted
 * before the backup is lost; what was delivered after the backup is delivered again with the
 * same `webhook-id`s (never new ones), and no webhook starts failing. SQLite through
 * `threadline backup` / `threadline restore`; PostgreSQL through the README's pg_dump and
 * pg_restore commands.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, describe, it } from "node:test";
import { repoRoot } from "../helpers/contract.js";
import { CLI, DATABASES, freshPostgres, sleep, TestServer, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { entry, ingest, space } from "../helpers/workspace.js";

const run = promisify(execFile);

/** Runs the CLI with `env` added; answers its exit code and output. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI, ...args], {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.once("exit", (code) => resolve({ code, out }));
  });
}

for (const database of DATABASES) {
  describe(`backup and restore (${database})`, () => {
    const tmp = mkdtempSync(path.join(tmpdir(), "threadline-backup-test-"));
    const cleanups: (() => Promise<unknown>)[] = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
      rmSync(tmp, { recursive: true, force: true });
    });

    it("a backup under load, restored and started: nothing lost, what was delivered since is sent again under the same webhook-ids, no webhook failing", async () => {
      const receiver = await Receiver.start();
      cleanups.push(() => receiver.close());
      const a = await TestServer.start({ database });
      cleanups.push(() => a.stop());
      const s = await space(a, { receiver });
      await ingest(
        a,
        s,
        Array.from({ length: 20 }, (_, i) =>
          entry(s, { text: `before ${i}`, timestamp: Math.floor(Date.now() / 1000) }),
        ),
      );

      // Messages keep arriving while the backup is taken.
      const accepted: { id: string; at: number }[] = [];
      let loading = true;
      const load = (async () => {
        for (let n = 0; loading; n++) {
          const r = await ingest(a, s, [entry(s, { text: `during ${n}`, timestamp: Math.floor(Date.now() / 1000) })]);
          accepted.push({ id: r.results[0]!.message_id, at: Date.now() });
          await sleep(15);
        }
      })();
      await waitFor(() => accepted.length >= 10, "messages arriving");
      const backupStarted = Date.now();
      const file = path.join(tmp, database === "sqlite" ? "threadline-backup.sqlite" : "threadline.dump");
      if (database === "sqlite") {
        const done = await cli(["backup", file], { THREADLINE_DATA_DIR: a.dataDir });
        assert.equal(done.code, 0, done.out);
        assert.match(done.out, /Backed up .* to .*threadline-backup\.sqlite/);
        const again = await cli(["backup", file], { THREADLINE_DATA_DIR: a.dataDir });
        assert.equal(again.code, 1, "a backup never overwrites a file");
        assert.match(again.out, /exists already: name a new file/);
      } else {
        await run("pg_dump", ["--format=custom", `--file=${file}`, a.databaseUrl!]);
      }
      // More arrive and are delivered after the backup: the restored server must send them again, under the same ids.
      await sleep(300);
      loading = false;
      await load;
      const total = 20 + accepted.length;
      await waitFor(
        () => new Set(receiver.requests.map((r) => r.messageId)).size >= total,
        "every message delivered before the stop",
      );
      const idsOfA = new Map(receiver.requests.map((r) => [r.messageId, r.id]));
      await a.kill("SIGTERM");
      const seenBeforeB = receiver.requests.length;

      let b: TestServer;
      if (database === "sqlite") {
        const occupied = path.join(tmp, "occupied");
        mkdirSync(occupied);
        writeFileSync(path.join(occupied, "keep.txt"), "x");
        const refused = await cli(["restore", file], { THREADLINE_DATA_DIR: occupied });
        assert.equal(refused.code, 1, refused.out);
        assert.match(refused.out, /is not empty: restore into an empty folder/);
        const notABackup = await cli(["restore", path.join(occupied, "keep.txt")], {
          THREADLINE_DATA_DIR: path.join(tmp, "never"),
        });
        assert.equal(notABackup.code, 1, notABackup.out);
        assert.match(notABackup.out, /is not a Threadline backup/);

        const restoredDir = path.join(tmp, "restored");
        const restored = await cli(["restore", file], { THREADLINE_DATA_DIR: restoredDir });
        assert.equal(restored.code, 0, restored.out);
        b = await TestServer.start({ database, dataDir: restoredDir });
      } else {
        const fresh = await freshPostgres();
        cleanups.push(fresh.drop);
        await run("pg_restore", ["--no-owner", `--dbname=${fresh.url}`, file]);
        b = await TestServer.start({ database, databaseUrl: fresh.url });
      }
      cleanups.push(() => b.stop());

      // Nothing accepted before the backup began is lost.
      for (const { id } of accepted.filter((x) => x.at < backupStarted)) {
        assert.equal(
          (await b.api("GET", `/api/v1/messages/${id}`, { token: s.key })).status,
          200,
          `message ${id} accepted before the backup`,
        );
      }
      // The restored webhook catches up: nothing waits, no error counted.
      const caughtUp = await waitFor(async () => {
        const w = (await b.api("GET", `/api/v1/webhooks/${s.webhook.id}`, { token: s.key })).json;
        return w.pending_messages === 0 ? w : undefined;
      }, "the restored webhook with nothing waiting");
      assert.equal(caughtUp.consecutive_failures, 0);
      assert.equal(caughtUp.state, "ok");
      const again = receiver.requests.slice(seenBeforeB);
      assert.ok(again.length > 0, "what was delivered after the backup is delivered again");
      for (const r of again)
        assert.equal(r.id, idsOfA.get(r.messageId), `message ${r.messageId} sent again under its first webhook-id`);
    });
  });
}
