CREATE TABLE "job_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"job_id" uuid NOT NULL,
	"task_id" uuid,
	"from_status" text,
	"to_status" text NOT NULL,
	"detail" jsonb,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "job_logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"job_id" uuid NOT NULL,
	"task_id" uuid,
	"level" text NOT NULL,
	"message" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid,
	"source_url" text NOT NULL,
	"profiles" jsonb NOT NULL,
	"outputs" jsonb DEFAULT '["mp4"]'::jsonb NOT NULL,
	"options" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"status_reason" text,
	"progress" real DEFAULT 0 NOT NULL,
	"eta_seconds" integer,
	"probe" jsonb,
	"error_code" text,
	"error_message" text,
	"error_details" jsonb,
	"idempotency_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "jobs_status_check" CHECK (status in ('queued', 'analyzing', 'processing', 'packaging', 'completed', 'failed', 'cancelled')),
	CONSTRAINT "jobs_progress_check" CHECK (progress >= 0 and progress <= 100)
);
--> statement-breakpoint
CREATE TABLE "plugin_configs" (
	"id" text PRIMARY KEY NOT NULL,
	"pillar" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"secrets" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "plugin_configs_pillar_check" CHECK (pillar in ('auth', 'storage', 'encoder', 'live', 'publisher'))
);
--> statement-breakpoint
CREATE TABLE "profiles" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"builtin" boolean DEFAULT false NOT NULL,
	"spec" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "task_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"task_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"worker_id" text NOT NULL,
	"lease_token" text NOT NULL,
	"outcome" text,
	"error_class" text,
	"error_code" text,
	"error_message" text,
	"exit_code" integer,
	"signal" text,
	"argv" jsonb,
	"stderr_tail" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"job_id" uuid NOT NULL,
	"type" text NOT NULL,
	"seq" integer DEFAULT 0 NOT NULL,
	"pool" text DEFAULT 'cpu' NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer DEFAULT 3 NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"result" jsonb,
	"media_seconds" double precision DEFAULT 0 NOT NULL,
	"progress" real DEFAULT 0 NOT NULL,
	"lease_token" text,
	"lease_worker_id" text,
	"lease_expires_at" timestamp with time zone,
	"not_before" timestamp with time zone,
	"published_at" timestamp with time zone,
	"deadline_at" timestamp with time zone,
	"error_code" text,
	"error_message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "tasks_status_check" CHECK (status in ('queued', 'leased', 'completed', 'failed', 'cancelled')),
	CONSTRAINT "tasks_type_check" CHECK (type in ('analyze', 'video', 'audio', 'package'))
);
--> statement-breakpoint
CREATE TABLE "workers" (
	"id" text PRIMARY KEY NOT NULL,
	"hostname" text NOT NULL,
	"version" text NOT NULL,
	"status" text DEFAULT 'healthy' NOT NULL,
	"slots" integer DEFAULT 1 NOT NULL,
	"running" integer DEFAULT 0 NOT NULL,
	"pools" jsonb DEFAULT '["cpu"]'::jsonb NOT NULL,
	"capabilities" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"drain_requested" boolean DEFAULT false NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"offline_at" timestamp with time zone,
	CONSTRAINT "workers_status_check" CHECK (status in ('healthy', 'draining', 'offline'))
);
--> statement-breakpoint
ALTER TABLE "job_events" ADD CONSTRAINT "job_events_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "job_logs" ADD CONSTRAINT "job_logs_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_attempts" ADD CONSTRAINT "task_attempts_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "job_events_job_idx" ON "job_events" USING btree ("job_id","id");--> statement-breakpoint
CREATE INDEX "job_logs_job_idx" ON "job_logs" USING btree ("job_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_idempotency_key_uq" ON "jobs" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "jobs_status_created_idx" ON "jobs" USING btree ("status","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "jobs_created_idx" ON "jobs" USING btree ("created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_jobs_user_created" ON "jobs" USING btree ("user_id","created_at" DESC NULLS LAST) WHERE status <> 'completed';--> statement-breakpoint
CREATE INDEX "plugin_configs_pillar_idx" ON "plugin_configs" USING btree ("pillar");--> statement-breakpoint
CREATE UNIQUE INDEX "task_attempts_task_attempt_uq" ON "task_attempts" USING btree ("task_id","attempt");--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_job_type_seq_uq" ON "tasks" USING btree ("job_id","type","seq");--> statement-breakpoint
CREATE INDEX "idx_tasks_job_status" ON "tasks" USING btree ("job_id","status");--> statement-breakpoint
CREATE INDEX "tasks_status_pool_idx" ON "tasks" USING btree ("status","pool");--> statement-breakpoint
CREATE INDEX "workers_status_idx" ON "workers" USING btree ("status");