import type {
  KyselyPlugin,
  OperationNode,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";

/**
 * The tables whose rows are kept in memory (API key → workspace, accounts with their
 * owner). They change rarely and every request reads them: one single-message ingest on
 * PostgreSQL made two of its ten round trips for them.
 */
export const CACHED_TABLES: ReadonlySet<string> = new Set(["api_keys", "accounts", "teammates", "workspaces"]);

const MAX_ENTRIES = 10_000;

/**
 * Lookups of one storage, dropped together whenever a cached table changes: in this process
 * by the plugin below (any insert, update or delete through Kysely, as soon as it ran), in
 * other processes by the `threadline_cache` NOTIFY that PostgreSQL triggers send at commit
 * (`listenLogGrowth`). Only hits are kept, so a row created elsewhere is found at once and
 * unknown keys cannot fill memory.
 */
export class StorageCache {
  private readonly maps = new Map<string, Map<string, unknown>>();
  /** Bumped by every invalidation: a load that began before one is not kept. */
  private generation = 0;

  /**
   * `enabled` false: every read goes to the database. PostgreSQL starts so and caches only
   * while it hears the other processes' changes (`invalidate(true)` once LISTENing,
   * `invalidate(false)` when that connection is lost).
   */
  constructor(private enabled = true) {}

  async get<V>(kind: string, key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    if (!this.enabled) return load();
    let map = this.maps.get(kind);
    const hit = map?.get(key);
    if (hit !== undefined) return hit as V;
    const generation = this.generation;
    const value = await load();
    if (value === undefined || generation !== this.generation || !this.enabled) return value;
    if (!map) this.maps.set(kind, (map = new Map()));
    if (map.size >= MAX_ENTRIES) map.clear();
    map.set(key, value);
    return value;
  }

  invalidate(enabled = this.enabled): void {
    this.enabled = enabled;
    this.generation++;
    this.maps.clear();
  }

  /** Drops the caches after any statement that writes a cached table. */
  plugin(): KyselyPlugin {
    const writes = new WeakSet<object>();
    return {
      transformQuery: ({ node, queryId }: PluginTransformQueryArgs): RootOperationNode => {
        if (writesCachedTable(node)) {
          writes.add(queryId);
          this.invalidate();
        }
        return node;
      },
      transformResult: async ({ queryId, result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => {
        // Again once it ran: a load that read the old row meanwhile is not kept either.
        if (writes.has(queryId)) this.invalidate();
        return result;
      },
    };
  }
}

function tableName(node: OperationNode | undefined): string | undefined {
  if (!node) return undefined;
  const n = node as { kind: string; table?: { identifier?: { name?: string } }; node?: OperationNode };
  if (n.kind === "TableNode") return n.table?.identifier?.name;
  if (n.kind === "AliasNode") return tableName(n.node);
  return undefined;
}

function writesCachedTable(node: RootOperationNode): boolean {
  switch (node.kind) {
    case "InsertQueryNode":
      return CACHED_TABLES.has(tableName(node.into) ?? "");
    case "UpdateQueryNode":
      return CACHED_TABLES.has(tableName(node.table) ?? "");
    case "DeleteQueryNode":
      return node.from.froms.some((f) => CACHED_TABLES.has(tableName(f) ?? ""));
    default:
      return false;
  }
}

const caches = new WeakMap<object, StorageCache>();

/** The cache of a storage's root `db` (undefined for a transaction: it reads the database). */
export function cacheOf(db: object): StorageCache | undefined {
  return caches.get(db);
}

export function registerCache(db: object, cache: StorageCache): void {
  caches.set(db, cache);
}

/** A cached read: `load` runs on a miss, or always when `db` has no cache (a transaction). */
export function cached<V>(
  db: object,
  kind: string,
  key: string,
  load: () => Promise<V | undefined>,
): Promise<V | undefined> {
  const cache = caches.get(db);
  return cache ? cache.get(kind, key, load) : load();
}
