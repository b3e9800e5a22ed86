/**
 * Routes stay thin (issue 13 item 4): a file in src/kernel/api/ parses, authorizes and calls a domain function
 * (src/kernel/jobs/, webhooks/, auth/, workers/, …); the SQL lives there. Measured on the source itself, so
 * it stays true: no drizzle import, no database handle and no SQL in src/kernel/api/*.ts, and no function
 * there (route builders included) longer than MAX_FUNCTION_LINES.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

const API = join(import.meta.dir, "../../src/kernel/api");
const MAX_FUNCTION_LINES = 40;

function apiFiles(): Array<{ name: string; text: string }> {
  return readdirSync(API)
    .filter((f) => f.endsWith(".ts"))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(API, name), "utf8") }));
}

/** Every function (declaration, expression, arrow, method) with its length in lines and a readable name. Pure. */
export function functionLengths(name: string, text: string): Array<{ where: string; lines: number }> {
  const sf = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true);
  const found: Array<{ where: string; lines: number }> = [];
  const lineOf = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const visit = (node: ts.Node) => {
    if (ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node) || ts.isArrowFunction(node) || ts.isMethodDeclaration(node)) {
      const start = lineOf(node.getStart(sf));
      const label = node.name?.getText(sf) ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText(sf) : "(anonymous)");
      found.push({ where: `${name}:${start} ${label}`, lines: lineOf(node.getEnd()) - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** What reaches the database from a file: drizzle or schema imports, the context's db handle, SQL templates. Pure. */
export function databaseUses(text: string): string[] {
  const uses: string[] = [];
  if (/from\s+"drizzle-orm[^"]*"/.test(text)) uses.push("imports drizzle-orm");
  if (/from\s+"[./]*\/db\/(schema|exec|client)\.ts"/.test(text)) uses.push("imports the database layer");
  // Handing the database to a domain function (`listAudit(ctx.db, q)`) is fine; querying it here is not.
  if (/\bdb\s*\.\s*(select|selectDistinct|insert|update|delete|transaction|execute|query)\b/.test(text)) uses.push("queries the database");
  if (/\bsql`/.test(text)) uses.push("writes SQL");
  return uses;
}

describe("the measures", () => {
  test("function lengths: nested handlers count on their own and inside their builder", () => {
    const text = ["export function routes() {", "  return app.get('/', () => {", "    return 1;", "  });", "}", "const f = async () => 2;"].join("\n");
    expect(functionLengths("x.ts", text)).toEqual([
      { where: "x.ts:1 routes", lines: 5 },
      { where: "x.ts:2 (anonymous)", lines: 3 },
      { where: "x.ts:6 f", lines: 1 },
    ]);
  });

  test("database uses are recognised", () => {
    expect(databaseUses(`import { eq } from "drizzle-orm";`)).toEqual(["imports drizzle-orm"]);
    expect(databaseUses(`import { jobs } from "../../db/schema.ts";`)).toEqual(["imports the database layer"]);
    expect(databaseUses(`await ctx.db.select().from(jobs)`)).toEqual(["queries the database"]);
    expect(databaseUses(`await db\n  .update(jobs)`)).toEqual(["queries the database"]);
    expect(databaseUses(`await ctx.db.transaction(async (tx) => {})`)).toEqual(["queries the database"]);
    expect(databaseUses(`await listAudit(ctx.db, q)`)).toEqual([]);
    expect(databaseUses("await tx.execute(sql`select 1`)")).toEqual(["writes SQL"]);
    expect(databaseUses(`import { listJobs } from "../jobs/views.ts";`)).toEqual([]);
  });
});

describe("src/kernel/api", () => {
  test("no database access in route files: SQL lives in the domain folders", () => {
    const found = apiFiles().flatMap((f) => databaseUses(f.text).map((u) => `${f.name}: ${u}`));
    expect(found).toEqual([]);
  });

  test(`no function longer than ${MAX_FUNCTION_LINES} lines (route builders split into groups, handlers named)`, () => {
    const long = apiFiles()
      .flatMap((f) => functionLengths(f.name, f.text))
      .filter((fn) => fn.lines > MAX_FUNCTION_LINES)
      .map((fn) => `${fn.where}: ${fn.lines} lines`);
    expect(long).toEqual([]);
  });
});
