import type { DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import { invalid } from "../errors.js";
import { parseIsoTime } from "../clock/iso-time.js";
import type { Actor, AuditPage } from "./schemas.js";

/** Who did something: a signed-in person, an API key (by its name), or Threadline itself. */
export type { Actor };

/** What Threadline does on its own (the auto-disable, the Default key). */
export const THREADLINE: Actor = { type: "threadline", id: "threadline", name: "Threadline" };

/** The actor of a change and the client address it came from (none for Threadline's own). */
export interface Who {
  actor: Actor;
  address?: string;
}

export const BY_THREADLINE: Who = { actor: THREADLINE };

export interface AuditInput {
  action: string;
  object: { type: string; id: string };
  before?: unknown;
  after?: unknown;
}

/** Field names whose values are secrets: never written to the audit log (nor anywhere it is read). */
const SECRET_FIELD = /secret|password|token|api_key|^key$|key_hash|hmac|inbound_url|send_url|^url$/i;

/**
 * A copy of a value for the audit log with every secret field left out, recursively. A
 * webhook's `url` counts as one: Zapier-style URLs carry their own credential in the path;
 * the log says the URL changed and shows its origin instead.
 */
export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === "url" && typeof v === "string") {
      out.url_origin = originOf(v);
      continue;
    }
    if (SECRET_FIELD.test(k)) continue;
    out[k] = withoutSecrets(v);
  }
  return out;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(not a URL)";
  }
}

/** Records one change. `db` may be a transaction, so the entry commits with the change. */
export async function audit(db: DB, clock: Clock, workspaceId: string, who: Who, e: AuditInput): Promise<void> {
  const json = (v: unknown) => (v === undefined ? null : JSON.stringify(withoutSecrets(v)));
  await db
    .insertInto("audit_log")
    .values({
      workspace_id: workspaceId,
      at: clock.now(),
      actor_type: who.actor.type,
      actor_id: who.actor.id,
      actor_name: who.actor.name,
      action: e.action,
      object_type: e.object.type,
      object_id: e.object.id,
      before: json(e.before),
      after: json(e.after),
      address: who.address ?? null,
    })
    .execute();
}

export interface AuditFilter {
  actor?: string;
  object?: string;
  since?: string;
  until?: string;
  cursor?: string;
  limit: number;
}

/**
 * The workspace's audit log, newest first. `actor`: an actor's id (a person's `tm_…`, a key's
 * `key_…`, or `threadline`); `object`: an object's id (`wh_…`) or `type:id`.
 */
export async function listAudit(db: DB, workspaceId: string, f: AuditFilter): Promise<AuditPage> {
  let q = db.selectFrom("audit_log").selectAll().where("workspace_id", "=", workspaceId);
  if (f.actor) q = q.where("actor_id", "=", f.actor);
  if (f.object) {
    const colon = f.object.indexOf(":");
    q =
      colon > 0
        ? q.where("object_type", "=", f.object.slice(0, colon)).where("object_id", "=", f.object.slice(colon + 1))
        : q.where("object_id", "=", f.object);
  }
  const since = parseIsoTime("since", f.since);
  const until = parseIsoTime("until", f.until);
  if (since !== undefined) q = q.where("at", ">=", since);
  if (until !== undefined) q = q.where("at", "<", until);
  if (f.cursor) {
    if (!/^\d{1,15}$/.test(f.cursor)) throw invalid("cursor", "is not a cursor this list returned.");
    q = q.where("id", "<", Number(f.cursor));
  }
  const rows = await q
    .orderBy("id", "desc")
    .limit(f.limit + 1)
    .execute();
  const page = rows.slice(0, f.limit);
  return {
    items: page.map((r) => ({
      id: String(r.id),
      at: new Date(r.at).toISOString(),
      actor: { type: r.actor_type as Actor["type"], id: r.actor_id, name: r.actor_name },
      action: r.action,
      object: { type: r.object_type, id: r.object_id },
      before: r.before === null ? null : (JSON.parse(r.before) as unknown),
      after: r.after === null ? null : (JSON.parse(r.after) as unknown),
      address: r.address,
    })),
    next_cursor: rows.length > f.limit ? String(page[page.length - 1]!.id) : null,
  };
}
