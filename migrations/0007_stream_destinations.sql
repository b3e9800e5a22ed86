CREATE TABLE "stream_destinations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"stream_id" uuid NOT NULL,
	"publisher" text NOT NULL,
	"name" text NOT NULL,
	"url" text,
	"key_sealed" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"transcode" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stream_destinations_publisher_check" CHECK (publisher in ('publisher-rtmp', 'publisher-youtube', 'publisher-twitch'))
);
--> statement-breakpoint
ALTER TABLE "stream_destinations" ADD CONSTRAINT "stream_destinations_stream_id_streams_id_fk" FOREIGN KEY ("stream_id") REFERENCES "public"."streams"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "stream_destinations_stream_idx" ON "stream_destinations" USING btree ("stream_id","created_at");
