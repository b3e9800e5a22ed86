/**
 * Custom profiles in PostgreSQL for the `/v1/profiles` routes (src/kernel/api/profiles.ts validates; the SQL
 * is here), and the hardware the healthy workers offer, which decides whether a profile can be encoded now.
 */
import { eq, sql } from "drizzle-orm";
import { profiles, workers } from "../../db/schema.ts";
import type { ProfileSpec } from "../../media/profiles.ts";
import type { KernelContext } from "../context.ts";

/** The pools healthy workers offer: cpu and each proven hardware encoder (nvenc:h264 …; media/encoder-choice.ts reads them). */
export async function healthyHardware(ctx: KernelContext): Promise<ReadonlySet<string>> {
  const rows = await ctx.db.select({ pools: workers.pools }).from(workers).where(eq(workers.status, "healthy"));
  return new Set(rows.flatMap((r) => r.pools));
}

/** False when a profile with this id exists already. */
export async function insertProfile(ctx: KernelContext, spec: ProfileSpec): Promise<boolean> {
  const inserted = await ctx.db.insert(profiles).values({ id: spec.id, name: spec.name, description: spec.description, spec: spec as never }).onConflictDoNothing().returning();
  return inserted.length > 0;
}

/** False when there is no custom profile with this id. */
export async function replaceProfile(ctx: KernelContext, id: string, spec: ProfileSpec): Promise<boolean> {
  const updated = await ctx.db
    .update(profiles)
    .set({ name: spec.name, description: spec.description, spec: spec as never, updatedAt: sql`now()` })
    .where(eq(profiles.id, id))
    .returning();
  return updated.length > 0;
}

/** False when there is no custom profile with this id. */
export async function deleteProfile(ctx: KernelContext, id: string): Promise<boolean> {
  const gone = await ctx.db.delete(profiles).where(eq(profiles.id, id)).returning({ id: profiles.id });
  return gone.length > 0;
}
