CREATE TABLE "restreams" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text,
	"origin" text DEFAULT 'api' NOT NULL,
	"input" jsonb NOT NULL,
	"loop" boolean DEFAULT false NOT NULL,
	"start_at" timestamp with time zone,
	"stop_at" timestamp with time zone,
	"destinations" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"status" text DEFAULT 'scheduled' NOT NULL,
	"job_id" uuid,
	"task_id" uuid,
	"position_s" double precision DEFAULT 0 NOT NULL,
	"input_duration_s" double precision,
	"reports" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"error" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	CONSTRAINT "restreams_status_check" CHECK (status in ('scheduled', 'starting', 'live', 'stopping', 'stopped', 'completed', 'failed')),
	CONSTRAINT "restreams_origin_check" CHECK (origin in ('api', 'stream'))
);
--> statement-breakpoint
ALTER TABLE "restreams" ADD CONSTRAINT "restreams_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE set null ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "restreams_created_idx" ON "restreams" USING btree ("created_at" DESC NULLS LAST);
--> statement-breakpoint
CREATE INDEX "restreams_due_idx" ON "restreams" USING btree ("status") WHERE status in ('scheduled', 'starting', 'live', 'stopping');
--> statement-breakpoint
CREATE INDEX "restreams_task_idx" ON "restreams" USING btree ("task_id");
--> statement-breakpoint
ALTER TABLE "tasks" DROP CONSTRAINT "tasks_type_check";
--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_type_check" CHECK (type in ('analyze', 'video', 'audio', 'package', 'live', 'restream'));
