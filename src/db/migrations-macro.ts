/**
 * Bun macro (imported `with { type: "macro" }`): reads migrations/ at transpile/bundle time, so the SQL is
 * inside the compiled kernel and `webencode-kernel migrate` needs no files beside the binary.
 * Hashes are computed the way drizzle's migrator does (sha256 of the whole file), so a database migrated by
 * drizzle-kit and one migrated by us agree.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface EmbeddedMigration {
  tag: string;
  /** The journal's `when` (ms); drizzle stores it as `created_at` in `drizzle.__drizzle_migrations`. */
  when: number;
  hash: string;
  statements: string[];
}

export function embeddedMigrations(): EmbeddedMigration[] {
  const dir = join(import.meta.dir, "..", "..", "migrations");
  const journal = JSON.parse(readFileSync(join(dir, "meta", "_journal.json"), "utf8")) as {
    entries: Array<{ idx: number; when: number; tag: string }>;
  };
  return journal.entries.map((e) => {
    const text = readFileSync(join(dir, `${e.tag}.sql`), "utf8");
    return {
      tag: e.tag,
      when: e.when,
      hash: createHash("sha256").update(text).digest("hex"),
      statements: text
        .split("--> statement-breakpoint")
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    };
  });
}
