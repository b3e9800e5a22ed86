-- Foreign keys whose referencing side had no index: deleting a job (DELETE /v1/jobs/:id, JOB_RETENTION) sets
-- restreams.job_id to null and deleting an output cascades to publications, each a sequential scan of the
-- referencing table per deleted row without these.
CREATE INDEX IF NOT EXISTS "restreams_job_idx" ON "restreams" USING btree ("job_id");
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "publications_output_idx" ON "publications" USING btree ("output_id");
