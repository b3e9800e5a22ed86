/**
 * What ordinary queries need from the database layer, whichever driver runs them: a handle that may be the
 * database or a transaction, and the rows of a raw `execute`.
 */
import type { Db } from "./client.ts";

/** A database handle or a transaction: functions that take one run inside their caller's transaction. */
export type Exec = Pick<Db, "select" | "insert" | "update" | "delete" | "execute">;

/** The rows of a raw `execute`: postgres.js returns an array of rows, PGlite an object with `rows`. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
