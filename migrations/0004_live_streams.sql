CREATE TABLE "streams" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"key_hash" text NOT NULL,
	"key_prefix" text NOT NULL,
	"is_live" boolean DEFAULT false NOT NULL,
	"archive" boolean DEFAULT false NOT NULL,
	"archive_profiles" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"ladder" text DEFAULT 'default' NOT NULL,
	"segment_seconds" integer DEFAULT 2 NOT NULL,
	"playback" text DEFAULT 'public' NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "streams_segment_seconds_check" CHECK (segment_seconds in (1, 2)),
	CONSTRAINT "streams_playback_check" CHECK (playback in ('public', 'signed'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "streams_key_hash_uq" ON "streams" USING btree ("key_hash");
--> statement-breakpoint
CREATE INDEX "streams_created_idx" ON "streams" USING btree ("created_at" DESC NULLS LAST);
--> statement-breakpoint
CREATE TABLE "stream_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"stream_id" uuid NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"end_reason" text,
	"bytes_in" bigint DEFAULT 0 NOT NULL,
	"remote_address" text,
	"live_task_id" uuid,
	"archive_job_id" uuid,
	"kernel_id" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "stream_sessions" ADD CONSTRAINT "stream_sessions_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "stream_sessions_stream_idx" ON "stream_sessions" USING btree ("stream_id","started_at" DESC NULLS LAST);
--> statement-breakpoint
CREATE UNIQUE INDEX "stream_sessions_open_uq" ON "stream_sessions" USING btree ("stream_id") WHERE ended_at is null;
--> statement-breakpoint
ALTER TABLE "tasks" DROP CONSTRAINT "tasks_type_check";
--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_type_check" CHECK (type in ('analyze', 'video', 'audio', 'package', 'live'));
