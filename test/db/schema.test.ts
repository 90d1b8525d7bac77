// src/db/schema.ts restates the migrated tables for Kysely's types, and nothing else ties the
// two: a NOT NULL column that a migration added and schema.ts left out typechecked, and every
// insert into its table failed at run time. Here schema.ts's `Database` (read with the
// TypeScript compiler) is held to the tables a fresh migration makes on both databases.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_MIGRATION_LOCK_TABLE, DEFAULT_MIGRATION_TABLE, sql } from "kysely";
import ts from "typescript";
import { migrate, type Storage } from "../../src/db/index.js";
import { repoRoot } from "../helpers/contract.js";
import { DATABASES, openTestStorage } from "../helpers/server.js";

interface DeclaredColumn {
  /** The selected type admits `null`. */
  nullable: boolean;
  /** `Generated<…>`, `ColumnType<…, … | undefined, …>` or `column?:`: an insert may leave it out. */
  insertOptional: boolean;
  /** The selected type without `null`: "string" or "number" (anything else as written). */
  type: string;
}

interface TableColumn {
  nullable: boolean;
  /** A default value, or an auto-assigned key (SQLite's INTEGER PRIMARY KEY, PostgreSQL's bigserial). */
  hasDefault: boolean;
  type: string;
}

type Tables<C> = Map<string, Map<string, C>>;

const SCHEMA_FILE = "src/db/schema.ts";
const KYSELY_TABLES = new Set([DEFAULT_MIGRATION_TABLE, DEFAULT_MIGRATION_LOCK_TABLE]);

const isNull = (t: ts.TypeNode) => ts.isLiteralTypeNode(t) && t.literal.kind === ts.SyntaxKind.NullKeyword;
const isUndefined = (t: ts.TypeNode) => t.kind === ts.SyntaxKind.UndefinedKeyword;

/** A union's members (a non-union is a union of one), parentheses dropped. */
function members(t: ts.TypeNode): ts.TypeNode[] {
  while (ts.isParenthesizedTypeNode(t)) t = t.type;
  return ts.isUnionTypeNode(t) ? t.types.flatMap(members) : [t];
}

function describeSelect(t: ts.TypeNode, file: ts.SourceFile): Pick<DeclaredColumn, "nullable" | "type"> {
  const ms = members(t);
  const rest = ms.filter((m) => !isNull(m));
  return { nullable: rest.length < ms.length, type: rest.map((m) => m.getText(file)).join(" | ") };
}

/** schema.ts's `Database`: each table's columns as Kysely sees them. */
export function declaredTables(text: string): Tables<DeclaredColumn> {
  const file = ts.createSourceFile(SCHEMA_FILE, text, ts.ScriptTarget.Latest, true);
  const database = file.statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === "Database",
  );
  assert.ok(database, `no interface Database in ${SCHEMA_FILE}`);
  const tables: Tables<DeclaredColumn> = new Map();
  for (const table of database.members) {
    const tableName = table.name?.getText(file) ?? "";
    assert.ok(
      ts.isPropertySignature(table) && table.type && ts.isTypeLiteralNode(table.type),
      `${SCHEMA_FILE}: Database.${tableName} is not written as { column: type; … }`,
    );
    const columns = new Map<string, DeclaredColumn>();
    for (const column of table.type.members) {
      const name = `${tableName}.${column.name?.getText(file) ?? ""}`;
      assert.ok(ts.isPropertySignature(column) && column.type, `${SCHEMA_FILE}: ${name} has no type`);
      let t = column.type;
      let insertOptional = column.questionToken !== undefined;
      if (ts.isTypeReferenceNode(t) && ts.isIdentifier(t.typeName)) {
        const [select, insert] = t.typeArguments ?? [];
        if (t.typeName.text === "Generated" && select) {
          insertOptional = true;
          t = select;
        } else if (t.typeName.text === "ColumnType" && select) {
          insertOptional ||= insert !== undefined && members(insert).some(isUndefined);
          t = select;
        }
      }
      columns.set(column.name!.getText(file), { ...describeSelect(t, file), insertOptional });
    }
    tables.set(tableName, columns);
  }
  return tables;
}

/** The TS type Kysely gives a column of this SQL type here (int8 is parsed to a number: db/index.ts). */
function tsType(sqlType: string): string {
  const t = sqlType.toLowerCase();
  if (t === "text") return "string";
  if (t === "integer" || t === "bigint") return "number";
  return `(SQL ${sqlType})`;
}

async function migratedTables(storage: Storage): Promise<Tables<TableColumn>> {
  const tables: Tables<TableColumn> = new Map();
  const column = (table: string, name: string, c: TableColumn) => {
    if (KYSELY_TABLES.has(table)) return;
    if (!tables.has(table)) tables.set(table, new Map());
    tables.get(table)!.set(name, c);
  };
  if (storage.dialect === "sqlite") {
    const { rows: names } = await sql<{ name: string }>`select name from sqlite_master
      where type = 'table' and name not like 'sqlite\\_%' escape '\\'`.execute(storage.db);
    for (const { name: table } of names) {
      const { rows } = await sql<{
        name: string;
        type: string;
        notnull: number;
        dflt_value: string | null;
        pk: number;
      }>`
        pragma table_info(${sql.table(table)})`.execute(storage.db);
      const keyColumns = rows.filter((r) => r.pk > 0).length;
      for (const r of rows) {
        // An INTEGER PRIMARY KEY is the rowid: never null, assigned when left out. SQLite lets
        // another primary key hold NULL (kept for old versions' sake); none is written so, and
        // PostgreSQL, held to the same schema.ts here, refuses it.
        const rowid = r.pk === 1 && keyColumns === 1 && r.type.toLowerCase() === "integer";
        column(table, r.name, {
          nullable: r.notnull === 0 && r.pk === 0,
          hasDefault: r.dflt_value !== null || rowid,
          type: tsType(r.type),
        });
      }
    }
  } else {
    const { rows } = await sql<{
      table_name: string;
      column_name: string;
      is_nullable: "YES" | "NO";
      column_default: string | null;
      is_identity: "YES" | "NO";
      data_type: string;
    }>`select c.table_name, c.column_name, c.is_nullable, c.column_default, c.is_identity, c.data_type
      from information_schema.columns c
      join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
      where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'`.execute(storage.db);
    for (const r of rows) {
      column(r.table_name, r.column_name, {
        nullable: r.is_nullable === "YES",
        hasDefault: r.column_default !== null || r.is_identity === "YES",
        type: tsType(r.data_type),
      });
    }
  }
  return tables;
}

const declared = declaredTables(readFileSync(path.join(repoRoot, SCHEMA_FILE), "utf8"));

/** Each `table.column` of both sides with what `differs` says of the pair, where it says something. */
function compare(
  tables: Tables<TableColumn>,
  differs: (d: DeclaredColumn, c: TableColumn) => string | undefined,
): string[] {
  const found: string[] = [];
  for (const [table, columns] of tables) {
    for (const [name, c] of columns) {
      const d = declared.get(table)?.get(name);
      const why = d && differs(d, c);
      if (why) found.push(`${table}.${name}: ${why}`);
    }
  }
  return found.sort();
}

describe(`reading ${SCHEMA_FILE}`, () => {
  it("tells null, Generated, an optional insert and the type apart", () => {
    const t = declaredTables(`import type { ColumnType, Generated } from "kysely";
      export interface Database {
        t: {
          a: string;
          b: number | null;
          c: Generated<number>;
          d: ColumnType<number | null, number | null | undefined, number | null>;
          e: ColumnType<string, string, string>;
          f?: (string | null);
        };
      }`).get("t");
    assert.deepEqual(t && Object.fromEntries(t), {
      a: { nullable: false, insertOptional: false, type: "string" },
      b: { nullable: true, insertOptional: false, type: "number" },
      c: { nullable: false, insertOptional: true, type: "number" },
      d: { nullable: true, insertOptional: true, type: "number" },
      e: { nullable: false, insertOptional: false, type: "string" },
      f: { nullable: true, insertOptional: true, type: "string" },
    });
  });
});

for (const database of DATABASES)
  describe(`${SCHEMA_FILE} states the migrated tables (${database})`, () => {
    let tables: Tables<TableColumn>;
    let close: (() => Promise<void>) | undefined;
    before(async () => {
      const opened = await openTestStorage(database);
      close = opened.close;
      await migrate(opened.storage);
      tables = await migratedTables(opened.storage);
    });
    after(async () => close?.());

    it("the same tables, with the same columns", () => {
      const names = (t: Tables<unknown>) =>
        [...t].flatMap(([table, columns]) => [table, ...[...columns.keys()].map((c) => `${table}.${c}`)]);
      const inDatabase = new Set(names(tables));
      const inSchema = new Set(names(declared));
      assert.ok(inDatabase.has("messages.seq") && inSchema.has("messages.seq"), "the columns are not being read");
      assert.deepEqual(
        [
          ...[...inDatabase].filter((n) => !inSchema.has(n)).map((n) => `${n}: migrated, not in ${SCHEMA_FILE}`),
          ...[...inSchema].filter((n) => !inDatabase.has(n)).map((n) => `${n}: in ${SCHEMA_FILE}, not migrated`),
        ].sort(),
        [],
      );
    });

    it("a column is `| null` in schema.ts exactly when the database lets it be null", () => {
      assert.deepEqual(
        compare(tables, (d, c) =>
          d.nullable === c.nullable
            ? undefined
            : c.nullable
              ? `nullable in the database, not \`| null\` in ${SCHEMA_FILE}`
              : `NOT NULL in the database, \`| null\` in ${SCHEMA_FILE}`,
        ),
        [],
      );
    });

    it("a NOT NULL column without a default is required on insert (neither Generated nor optional)", () => {
      assert.deepEqual(
        compare(tables, (d, c) =>
          !c.nullable && !c.hasDefault && d.insertOptional
            ? `NOT NULL without a default, optional on insert in ${SCHEMA_FILE}: an insert that leaves it out fails`
            : undefined,
        ),
        [],
      );
    });

    it("a column's TS type is what its SQL type reads as (text: string, integer and bigint: number)", () => {
      assert.deepEqual(
        compare(tables, (d, c) =>
          d.type === c.type ? undefined : `${c.type} in the database, ${d.type} in ${SCHEMA_FILE}`,
        ),
        [],
      );
    });
  });
