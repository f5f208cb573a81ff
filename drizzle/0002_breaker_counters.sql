ALTER TABLE "circuit_breaker_events" ADD COLUMN "consecutive_failures" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "circuit_breaker_events" ADD COLUMN "last_failure_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "circuit_breaker_events_at_idx" ON "circuit_breaker_events" USING btree ("at");