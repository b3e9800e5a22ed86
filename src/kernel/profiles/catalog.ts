/**
 * Profiles a job may name: the built-ins (read-only, from src/media/profiles.ts), built-in ladder ids, and
 * custom profiles stored in the `profiles` table. Unknown ids are an error (WE-JOB-003), never a silent
 * substitute.
 */
import { eq } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import type { Db } from "../../db/client.ts";
import { profiles } from "../../db/schema.ts";
import { BUILTIN_LADDERS, BUILTIN_PROFILES, expandProfiles, type ProfileSpec } from "../../media/profiles.ts";

export async function customProfiles(db: Db): Promise<Record<string, ProfileSpec>> {
  const rows = await db.select().from(profiles).where(eq(profiles.builtin, false));
  return Object.fromEntries(rows.map((r) => [r.id, r.spec as unknown as ProfileSpec]));
}

export function isBuiltinId(id: string): boolean {
  return BUILTIN_PROFILES.some((p) => p.id === id) || id in BUILTIN_LADDERS;
}

/** Expands ladder ids and resolves every id, or throws WE-JOB-003 naming the unknown ones. */
export async function resolveProfiles(db: Db, ids: string[]): Promise<ProfileSpec[]> {
  const custom = await customProfiles(db);
  try {
    return expandProfiles(ids, custom);
  } catch (e) {
    const known = [...BUILTIN_PROFILES.map((p) => p.id), ...Object.keys(BUILTIN_LADDERS), ...Object.keys(custom)].sort();
    throw new AppError("WE-JOB-003", `${(e as Error).message}; known profiles: ${known.join(", ")}`, { requested: ids });
  }
}
