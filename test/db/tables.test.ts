import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { TABLE_WRITERS, WHOLE_DATABASE, type Module } from "../../src/db/tables.js";
import { repoRoot } from "../helpers/contract.js";

const ROOT = repoRoot;
const TABLES = new Set(Object.keys(TABLE_WRITERS));
const KYSELY_WRITES = new Set(["insertInto", "updateTable", "deleteFrom", "replaceInto", "mergeInto"]);
/** INSERT [OR …] INTO t, REPLACE INTO t, DELETE FROM t, UPDATE t SET (any case, names quoted or not). */
const SQL_WRITE =
  /\b(?:insert\s+(?:or\s+\w+\s+)?into|replace\s+into|delete\s+from)\s+"?(\w+)"?|\bupdate\s+"?(\w+)"?\s+set\b/gi;

interface Write {
  module: string;
  line: number;
  /** Undefined when the scan cannot tell which table (a table name it cannot follow). */
  table: string | undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

/** The table names an expression can be: a literal, or a name bound to literals (a loop over `[…] as const`, a parameter typed by literals, a const). */
function tableNames(expr: ts.Expression): string[] | undefined {
  while (ts.isAsExpression(expr) || ts.isParenthesizedExpression(expr) || ts.isSatisfiesExpression(expr))
    expr = expr.expression;
  if (ts.isStringLiteral(expr) || ts.isNoSubstitutionTemplateLiteral(expr))
    return [expr.text.split(/\s+as\s+/)[0]!.trim()];
  if (ts.isArrayLiteralExpression(expr)) {
    const names = expr.elements.map((e) => tableNames(e));
    return names.every((n) => n !== undefined) ? names.flat() : undefined;
  }
  if (!ts.isIdentifier(expr)) return undefined;
  const name = expr.text;
  for (let node: ts.Node | undefined = expr.parent; node; node = node.parent) {
    if (ts.isForOfStatement(node) && ts.isVariableDeclarationList(node.initializer)) {
      const d = node.initializer.declarations[0];
      if (d && ts.isIdentifier(d.name) && d.name.text === name) return tableNames(node.expression);
    }
    if (ts.isFunctionLike(node)) {
      const p = node.parameters.find((p) => ts.isIdentifier(p.name) && p.name.text === name);
      if (p) return p.type ? literalTypes(p.type) : undefined;
    }
    if (ts.isBlock(node) || ts.isSourceFile(node)) {
      for (const s of node.statements) {
        if (!ts.isVariableStatement(s)) continue;
        const d = s.declarationList.declarations.find((d) => ts.isIdentifier(d.name) && d.name.text === name);
        if (d) return d.initializer ? tableNames(d.initializer) : undefined;
      }
    }
  }
  return undefined;
}

function literalTypes(type: ts.TypeNode): string[] | undefined {
  if (ts.isLiteralTypeNode(type) && ts.isStringLiteral(type.literal)) return [type.literal.text];
  if (ts.isUnionTypeNode(type)) {
    const names = type.types.map(literalTypes);
    return names.every((n) => n !== undefined) ? names.flat() : undefined;
  }
  return undefined;
}

/** Every write in a file's code (comments are not code): Kysely's calls and SQL text in strings and templates. */
export function writesIn(module: string, text: string): Write[] {
  const file = ts.createSourceFile(module, text, ts.ScriptTarget.Latest, true);
  const found = new Map<string, Write>();
  const add = (pos: number, table: string | undefined) => {
    const line = file.getLineAndCharacterOfPosition(pos).line + 1;
    found.set(`${line} ${table}`, { module, line, table });
  };
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      KYSELY_WRITES.has(node.expression.name.text)
    ) {
      const arg = node.arguments[0];
      const names = arg && tableNames(arg);
      if (names) for (const t of names) add(node.expression.name.getStart(), t);
      else add(node.expression.name.getStart(), undefined);
    }
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) {
      const start = node.getStart();
      const raw = text.slice(start, node.getEnd());
      for (const m of raw.matchAll(SQL_WRITE)) {
        const table = (m[1] ?? m[2])!.toLowerCase();
        if (TABLES.has(table)) add(start + m.index, table);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return [...found.values()];
}

function allWrites(): Write[] {
  return sourceFiles(path.join(ROOT, "src")).flatMap((f) =>
    writesIn(path.relative(ROOT, f).split(path.sep).join("/"), readFileSync(f, "utf8")),
  );
}

const mayWrite = (table: string, module: string) => {
  const w = TABLE_WRITERS[table as keyof typeof TABLE_WRITERS];
  return w.owner === module || (w.also !== undefined && module in w.also) || module in WHOLE_DATABASE;
};

describe("Who writes each table (src/db/tables.ts)", () => {
  const writes = allWrites();

  it("finds the writes it is meant to: Kysely calls through names, SQL in strings and templates, not comments", () => {
    const fixture = [
      "// db.deleteFrom('sessions') in a comment, and delete from sessions",
      'await db.insertInto("chats as c").values(v).execute();',
      'for (const table of ["webhook_hourly", "notifications"] as const) await tx.deleteFrom(table).execute();',
      'async function keep(tx: DB, table: "webhook_requests" | "webhook_activity") { await tx.deleteFrom(table).execute(); }',
      "file.prepare(`insert into messages (${COLUMNS.join(', ')}) values (?)`);",
      'await sql`UPDATE "teammates" SET role = ${r}`.execute(db);',
      'db.prepare("insert or ignore into send_pacing values (?)");',
      "await db.updateTable(pick()).set(x).execute();",
      'const text = "Update the settings, then delete from the list";',
    ].join("\n");
    assert.deepEqual(
      writesIn("src/x.ts", fixture).map((w) => `${w.line} ${w.table}`),
      [
        "2 chats",
        "3 webhook_hourly",
        "3 notifications",
        "4 webhook_requests",
        "4 webhook_activity",
        "5 messages",
        "6 teammates",
        "7 send_pacing",
        "8 undefined",
      ],
    );
  });

  it("every write in src/ names its table, and comes from the table's owner or a module declared with a reason", () => {
    const unknown = writes.filter((w) => w.table === undefined).map((w) => `${w.module}:${w.line}`);
    assert.deepEqual(unknown, [], "writes whose table the scan cannot tell: name the table with a literal");
    const stray = writes
      .filter((w) => w.table !== undefined && !mayWrite(w.table, w.module))
      .map((w) => `${w.module}:${w.line} writes ${w.table} (owner: ${TABLE_WRITERS[w.table as never]["owner"]})`);
    assert.deepEqual(
      stray,
      [],
      "call the owner's function (pass the transaction), or declare the module in src/db/tables.ts with why",
    );
    assert.ok(writes.length > 100, `${writes.length} writes found: the scan has stopped seeing them`);
  });

  it("every module named as a writer exists and still writes its table (the map stays true)", () => {
    const stale: string[] = [];
    for (const [table, w] of Object.entries(TABLE_WRITERS)) {
      for (const module of [w.owner, ...Object.keys(w.also ?? {})] as Module[]) {
        if (!writes.some((x) => x.table === table && x.module === module)) stale.push(`${module} → ${table}`);
      }
    }
    assert.deepEqual(stale, []);
    for (const module of Object.keys(WHOLE_DATABASE)) assert.ok(existsSync(path.join(ROOT, module)), module);
  });
});
