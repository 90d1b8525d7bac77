import type { DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import { cached } from "../db/cache.js";
import { hashToken, newId, newToken } from "../db/ids.js";
import { notFound } from "../errors.js";
import { audit, THREADLINE, type Actor, type Who } from "../audit/index.js";
import { checkName, DEFAULT_KEY } from "./service.js";

/** What an API key opens: its workspace, and the name its actions are attributed to. */
export interface KeyOwner {
  workspaceId: string;
  id: string;
  name: string;
}

/** The key behind a bearer token; kept in memory until api_keys changes (db/cache.ts). */
export async function keyFor(db: DB, token: string): Promise<KeyOwner | undefined> {
  const hash = hashToken(token);
  return cached(db, "api_key", hash, async () => {
    const row = await db
      .selectFrom("api_keys")
      .select(["workspace_id", "id", "name"])
      .where("key_hash", "=", hash)
      .executeTakeFirst();
    return row ? { workspaceId: row.workspace_id, id: row.id, name: row.name } : undefined;
  });
}

const USE_WRITE_MS = 60_000;
const lastWritten = new Map<string, number>();

/**
 * Notes that a key was used: written at most once a minute per key and process (its own
 * table, so a use does not drop the key cache the way a write to api_keys would).
 */
export async function touchKey(db: DB, clock: Clock, keyId: string): Promise<void> {
  const now = clock.now();
  if ((lastWritten.get(keyId) ?? -Infinity) > now - USE_WRITE_MS) return;
  if (lastWritten.size > 10_000) lastWritten.clear();
  lastWritten.set(keyId, now);
  // Awaited (once a minute per key): a list read right after a use shows it.
  await db
    .insertInto("api_key_uses")
    .values({ key_id: keyId, last_used_at: now })
    .onConflict((oc) => oc.column("key_id").doUpdateSet({ last_used_at: now }))
    .execute()
    .catch(() => lastWritten.delete(keyId));
}

const parseActor = (s: string | null): Actor => (s ? (JSON.parse(s) as Actor) : THREADLINE);

export async function listApiKeys(db: DB, workspaceId: string) {
  const rows = await db
    .selectFrom("api_keys as k")
    .leftJoin("api_key_uses as u", "u.key_id", "k.id")
    .select(["k.id", "k.name", "k.created_by", "k.created_at", "u.last_used_at"])
    .where("k.workspace_id", "=", workspaceId)
    .orderBy("k.created_at", "desc")
    .orderBy("k.id", "desc")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    created_by: parseActor(r.created_by),
    created_at: new Date(r.created_at).toISOString(),
    last_used_at: r.last_used_at === null ? null : new Date(r.last_used_at).toISOString(),
  }));
}

/** A new key; the secret is in this answer only. */
export async function createApiKey(db: DB, clock: Clock, workspaceId: string, who: Who, input: { name: string }) {
  const name = checkName("name", input.name);
  const key = newToken("tlk");
  const id = newId("key");
  const now = clock.now();
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto("api_keys")
      .values({
        id,
        workspace_id: workspaceId,
        key_hash: hashToken(key),
        created_at: now,
        name,
        created_by: JSON.stringify(who.actor),
      })
      .execute();
    await audit(tx, clock, workspaceId, who, {
      action: "api_key.created",
      object: { type: "api_key", id },
      after: { name },
    });
  });
  return { id, name, key, created_by: who.actor, created_at: new Date(now).toISOString() };
}

/** Revokes a key: refused from the next request on, in every process (the cache is dropped by the delete). */
export async function deleteApiKey(db: DB, clock: Clock, workspaceId: string, who: Who, id: string): Promise<void> {
  const row = await db
    .selectFrom("api_keys")
    .select(["id", "name"])
    .where("workspace_id", "=", workspaceId)
    .where("id", "=", id)
    .executeTakeFirst();
  if (!row) throw notFound("The API key");
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom("api_keys").where("id", "=", id).execute();
    await tx.deleteFrom("api_key_uses").where("key_id", "=", id).execute();
    await audit(tx, clock, workspaceId, who, {
      action: "api_key.deleted",
      object: { type: "api_key", id },
      before: { name: row.name },
    });
  });
}

/**
 * `POST /api/v1/workspace/api_key`: a new "Default key" in place of the one(s) of that name;
 * other named keys stay. The old one is refused at once, in every process.
 */
export async function rotateApiKey(db: DB, clock: Clock, workspaceId: string, who: Who): Promise<{ api_key: string }> {
  const apiKey = newToken("tlk");
  const id = newId("key");
  await db.transaction().execute(async (tx) => {
    const old = await tx
      .selectFrom("api_keys")
      .select("id")
      .where("workspace_id", "=", workspaceId)
      .where("name", "=", DEFAULT_KEY)
      .execute();
    if (old.length) {
      await tx
        .deleteFrom("api_keys")
        .where(
          "id",
          "in",
          old.map((o) => o.id),
        )
        .execute();
      await tx
        .deleteFrom("api_key_uses")
        .where(
          "key_id",
          "in",
          old.map((o) => o.id),
        )
        .execute();
    }
    await tx
      .insertInto("api_keys")
      .values({
        id,
        workspace_id: workspaceId,
        key_hash: hashToken(apiKey),
        created_at: clock.now(),
        name: DEFAULT_KEY,
        created_by: JSON.stringify(who.actor),
      })
      .execute();
    await audit(tx, clock, workspaceId, who, {
      action: "api_key.rotated",
      object: { type: "api_key", id },
      before: { ids: old.map((o) => o.id) },
      after: { name: DEFAULT_KEY },
    });
  });
  return { api_key: apiKey };
}
