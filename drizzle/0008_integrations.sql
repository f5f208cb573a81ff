CREATE TABLE "integrations" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"source_service_id" text NOT NULL,
	"target_service_id" text NOT NULL,
	"integration_type" text NOT NULL,
	"config" jsonb NOT NULL,
	"description" text,
	"metadata" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "integrations_source_idx" ON "integrations" USING btree ("source_service_id");--> statement-breakpoint
CREATE INDEX "integrations_target_idx" ON "integrations" USING btree ("target_service_id");