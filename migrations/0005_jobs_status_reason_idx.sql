-- The reconciler asks every second which jobs carry a status_reason (to clear stale ones). Without an index that
-- is a sequential scan of every job ever kept (bench/periodic-queries.ts); this partial index holds only the
-- few waiting jobs that have one.
CREATE INDEX IF NOT EXISTS "jobs_status_reason_idx" ON "jobs" USING btree ("id") WHERE status_reason is not null;
