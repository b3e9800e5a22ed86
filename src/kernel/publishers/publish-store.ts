/**
 * The `publications` rows (migration 0008): one upload of a job's output to a publisher's platform. An upload
 * runs in the kernel that holds its lease (renewed while it runs); a lease that lapses — the kernel died or
 * stopped — lets any kernel claim the row and resume the platform's session from the bytes it confirmed.
 */
import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { publications } from "../../db/schema.ts";

export type PublicationRow = typeof publications.$inferSelect;

/** How long a lease lasts without renewal; renewed every third of it. */
export const PUBLISH_LEASE_MS = 30_000;

const leaseUntil = (ms = PUBLISH_LEASE_MS) => sql`now() + ${`${ms} milliseconds`}::interval`;
const heldBy = (id: string, owner: string) => and(eq(publications.id, id), eq(publications.leaseOwner, owner), eq(publications.status, "uploading"));

/** A new upload, leased to `owner` from the start (it runs at once where it was asked for). */
export async function insertPublication(db: Db, values: Omit<typeof publications.$inferInsert, "id" | "status" | "runs" | "leaseOwner" | "leaseExpiresAt">, owner: string): Promise<PublicationRow> {
  const [row] = await db
    .insert(publications)
    .values({ ...values, status: "uploading", runs: 1, leaseOwner: owner, leaseExpiresAt: leaseUntil() })
    .returning();
  return row!;
}

/** Uploads nobody runs: still uploading, lease lapsed (or released). */
export async function idleUploads(db: Db, limit = 20): Promise<string[]> {
  const rows = await db
    .select({ id: publications.id })
    .from(publications)
    .where(and(eq(publications.status, "uploading"), or(isNull(publications.leaseExpiresAt), lt(publications.leaseExpiresAt, sql`now()`))))
    .orderBy(publications.leaseExpiresAt)
    .limit(limit);
  return rows.map((r) => r.id);
}

/** Takes an idle upload for `owner` (one kernel wins); the row, or undefined when another kernel has it. */
export async function claimPublication(db: Db, id: string, owner: string): Promise<PublicationRow | undefined> {
  const [row] = await db
    .update(publications)
    .set({ leaseOwner: owner, leaseExpiresAt: leaseUntil(), runs: sql`${publications.runs} + 1`, updatedAt: sql`now()` })
    .where(and(eq(publications.id, id), eq(publications.status, "uploading"), or(isNull(publications.leaseExpiresAt), lt(publications.leaseExpiresAt, sql`now()`))))
    .returning();
  return row;
}

/** False when the lease was lost (another kernel took the upload over): stop uploading. */
export async function renewLease(db: Db, id: string, owner: string): Promise<boolean> {
  const rows = await db.update(publications).set({ leaseExpiresAt: leaseUntil() }).where(heldBy(id, owner)).returning({ id: publications.id });
  return rows.length > 0;
}

/** What the platform confirmed so far, and its session (sealed by the caller). */
export async function recordProgress(db: Db, id: string, owner: string, p: { sessionSealed?: string; bytesConfirmed: number }): Promise<void> {
  await db
    .update(publications)
    .set({ ...(p.sessionSealed ? { sessionSealed: p.sessionSealed } : {}), bytesConfirmed: p.bytesConfirmed, updatedAt: sql`now()` })
    .where(heldBy(id, owner));
}

export type Outcome =
  | { status: "completed"; platformVideoId: string; url: string; bytes: number }
  | { status: "failed"; errorCode: string; errorMessage: string }
  /** A transient failure: stays `uploading`, shows the error, and is resumed (by any kernel) after `retryInMs`. */
  | { status: "retry"; errorCode: string; errorMessage: string; retryInMs: number }
  /** This kernel is stopping: another one (or this one, restarted) resumes it at once. */
  | { status: "released" };

export async function finishRun(db: Db, id: string, owner: string, outcome: Outcome): Promise<void> {
  const set =
    outcome.status === "completed"
      ? { status: "completed", platformVideoId: outcome.platformVideoId, url: outcome.url, bytesConfirmed: outcome.bytes, errorCode: null, errorMessage: null, sessionSealed: null, leaseOwner: null, leaseExpiresAt: null, finishedAt: sql`now()` }
      : outcome.status === "failed"
        ? { status: "failed", errorCode: outcome.errorCode, errorMessage: outcome.errorMessage, leaseOwner: null, leaseExpiresAt: null, finishedAt: sql`now()` }
        : outcome.status === "retry"
          ? { errorCode: outcome.errorCode, errorMessage: outcome.errorMessage, leaseOwner: null, leaseExpiresAt: leaseUntil(outcome.retryInMs) }
          : { leaseOwner: null, leaseExpiresAt: sql`now()` };
  await db
    .update(publications)
    // One update per outcome; the union of their shapes is not one drizzle infers, hence the cast.
    .set({ ...set, updatedAt: sql`now()` } as never)
    .where(heldBy(id, owner));
}

export async function getPublication(db: Db, id: string): Promise<PublicationRow | undefined> {
  const [row] = await db.select().from(publications).where(eq(publications.id, id));
  return row;
}

/** A job's publications, newest first. */
export async function listPublications(db: Db, jobId: string, limit: number, offset: number): Promise<PublicationRow[]> {
  return db.select().from(publications).where(eq(publications.jobId, jobId)).orderBy(desc(publications.createdAt), desc(publications.id)).limit(limit).offset(offset);
}
