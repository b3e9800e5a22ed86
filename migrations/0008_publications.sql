CREATE TABLE "publications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"job_id" uuid NOT NULL,
	"output_id" uuid NOT NULL,
	"publisher" text NOT NULL,
	"account" text,
	"title" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"privacy" text DEFAULT 'private' NOT NULL,
	"status" text DEFAULT 'uploading' NOT NULL,
	"bytes_total" bigint NOT NULL,
	"bytes_confirmed" bigint DEFAULT 0 NOT NULL,
	"session_sealed" text,
	"platform_video_id" text,
	"url" text,
	"error_code" text,
	"error_message" text,
	"runs" integer DEFAULT 0 NOT NULL,
	"lease_owner" text,
	"lease_expires_at" timestamp with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "publications_status_check" CHECK (status in ('uploading', 'completed', 'failed')),
	CONSTRAINT "publications_privacy_check" CHECK (privacy in ('private', 'unlisted', 'public'))
);
--> statement-breakpoint
ALTER TABLE "publications" ADD CONSTRAINT "publications_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "publications" ADD CONSTRAINT "publications_output_id_outputs_id_fk" FOREIGN KEY ("output_id") REFERENCES "public"."outputs"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "publications_job_idx" ON "publications" USING btree ("job_id","created_at" DESC NULLS LAST);
--> statement-breakpoint
CREATE INDEX "publications_uploading_idx" ON "publications" USING btree ("lease_expires_at") WHERE status = 'uploading';
