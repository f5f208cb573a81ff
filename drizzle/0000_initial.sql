CREATE TABLE "circuit_breaker_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "circuit_breaker_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"service_id" text NOT NULL,
	"from_state" text NOT NULL,
	"to_state" text NOT NULL,
	"failure_count" integer NOT NULL,
	"reason" text,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "service_status_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "service_status_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"service_id" text NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"reason" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"service" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "services" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"version" text NOT NULL,
	"base_url" text NOT NULL,
	"health_check_url" text NOT NULL,
	"endpoints" jsonb NOT NULL,
	"capabilities" jsonb NOT NULL,
	"tags" jsonb NOT NULL,
	"metadata" jsonb NOT NULL,
	"heartbeat_interval_seconds" integer NOT NULL,
	"ttl_seconds" integer NOT NULL,
	"owner" text,
	"last_known_status" text NOT NULL,
	"last_heartbeat" timestamp with time zone NOT NULL,
	"registered_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "workflow_definitions" (
	"type" text NOT NULL,
	"version" integer NOT NULL,
	"definition" jsonb NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "workflow_definitions_type_version_pk" PRIMARY KEY("type","version")
);
--> statement-breakpoint
CREATE TABLE "workflow_executions" (
	"id" text PRIMARY KEY NOT NULL,
	"workflow_type" text NOT NULL,
	"definition_version" integer NOT NULL,
	"status" text NOT NULL,
	"data" jsonb NOT NULL,
	"options" jsonb NOT NULL,
	"result" jsonb,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"idempotency_key" text,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"execution_time_ms" double precision,
	"deadline_at" timestamp with time zone,
	"lease_owner" text,
	"lease_expires_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "workflow_steps" (
	"execution_id" text NOT NULL,
	"step_id" text NOT NULL,
	"name" text NOT NULL,
	"service_type" text,
	"service_id" text,
	"status" text NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"duration_ms" double precision,
	"output" jsonb,
	"error" text,
	CONSTRAINT "workflow_steps_execution_id_step_id_pk" PRIMARY KEY("execution_id","step_id")
);
--> statement-breakpoint
ALTER TABLE "workflow_steps" ADD CONSTRAINT "workflow_steps_execution_id_workflow_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."workflow_executions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "circuit_breaker_events_service_at_idx" ON "circuit_breaker_events" USING btree ("service_id","at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "service_status_events_service_at_idx" ON "service_status_events" USING btree ("service_id","at" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "service_status_events_once_idx" ON "service_status_events" USING btree ("service_id","at","to_status");--> statement-breakpoint
CREATE INDEX "services_type_idx" ON "services" USING btree ("type");--> statement-breakpoint
CREATE UNIQUE INDEX "workflow_executions_idempotency_key_idx" ON "workflow_executions" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "workflow_executions_status_lease_idx" ON "workflow_executions" USING btree ("status","lease_expires_at");--> statement-breakpoint
CREATE INDEX "workflow_executions_type_started_idx" ON "workflow_executions" USING btree ("workflow_type","started_at" DESC NULLS LAST);