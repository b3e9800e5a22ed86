ALTER TABLE "plugin_configs" ALTER COLUMN "priority" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "plugin_configs" ALTER COLUMN "priority" DROP NOT NULL;