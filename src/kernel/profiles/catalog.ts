/**
 * Profiles a job may name: the built-ins (read-only, from src/media/profiles-builtin.ts), built-in ladder ids, and
 * custom profiles stored in the `profiles` table. Unknown ids are an error (WE-JOB-003), never a silent
 * substitute.
 */
import { eq } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import type { Exec } from "../../db/exec.ts";
import { profiles } from "../../db/schema.ts";
import { BUILTIN_LADDERS, BUILTIN_PROFILES, expandProfiles, type ProfileSpec } from "../../media/profiles.ts";

export async function customProfiles(db: Exec): Promise<Record<string, ProfileSpec>> {
  const rows = await db.select().from(profiles).where(eq(profiles.builtin, false));
  return Object.fromEntries(rows.map((r) => [r.id, r.spec]));
}

export function isBuiltinId(id: string): boolean {
  return id in BUILTIN_PROFILES || id in BUILTIN_LADDERS;
}

/** Expands ladder ids and resolves every id, or throws WE-JOB-003 naming the unknown ones. */
export async function resolveProfiles(db: Exec, ids: string[]): Promise<ProfileSpec[]> {
  const custom = await customProfiles(db);
  try {
    return expandProfiles(ids, custom);
  } catch (e) {
    const known = [...Object.keys(BUILTIN_PROFILES), ...Object.keys(BUILTIN_LADDERS), ...Object.keys(custom)].sort();
    throw new AppError("WE-JOB-003", `${(e as Error).message}; known profiles: ${known.join(", ")}`, { requested: ids });
  }
}
