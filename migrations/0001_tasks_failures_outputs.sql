CREATE TABLE "outputs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"job_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"profile" text,
	"storage_plugin" text NOT NULL,
	"storage_key" text NOT NULL,
	"storage_prefix" text,
	"size_bytes" bigint DEFAULT 0 NOT NULL,
	"duration_s" double precision,
	"width" integer,
	"height" integer,
	"bitrate" integer,
	"video_codec" text,
	"audio_codec" text,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "outputs_kind_check" CHECK (kind in ('mp4', 'webm', 'hls', 'thumbnail', 'sprite', 'vtt'))
);
--> statement-breakpoint
ALTER TABLE "tasks" ALTER COLUMN "attempt" SET DEFAULT 1;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "failures" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "outputs" ADD CONSTRAINT "outputs_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "outputs_job_idx" ON "outputs" USING btree ("job_id");