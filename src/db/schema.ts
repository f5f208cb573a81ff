import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import type { GraphQLApi } from "../domain/federation.js";
import type { JsonObject, JsonValue } from "../domain/json.js";
import type { ServiceEndpoint, ServiceRecord } from "../domain/service.js";
import type { StepCall } from "../domain/workflow.js";

/*
 * The durable record: PostgreSQL (or embedded PGlite) is the source of truth; the live
 * store (memory, Redis) is rebuilt from here when it comes up empty. SQL stays within
 * what PostgreSQL 15 and PGlite both accept.
 */

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: "string" });

/** One row per registered service: every field of the registration, and its last known state. */
export const services = pgTable(
  "services",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    type: text("type").notNull(),
    version: text("version").notNull(),
    baseUrl: text("base_url").notNull(),
    healthCheckUrl: text("health_check_url").notNull(),
    endpoints: jsonb("endpoints").$type<ServiceEndpoint[]>().notNull(),
    capabilities: jsonb("capabilities").$type<string[]>().notNull(),
    tags: jsonb("tags").$type<string[]>().notNull(),
    metadata: jsonb("metadata").$type<JsonObject>().notNull(),
    heartbeatIntervalSeconds: integer("heartbeat_interval_seconds").notNull(),
    ttlSeconds: integer("ttl_seconds").notNull(),
    probeIntervalSeconds: integer("probe_interval_seconds"),
    /** Null when the service declares no GraphQL API (and for rows from before 0007). */
    graphql: jsonb("graphql").$type<GraphQLApi>(),
    /** sha-256 of the registering bearer token; null when registered anonymously. */
    owner: text("owner"),
    lastKnownStatus: text("last_known_status").notNull(),
    lastHeartbeat: timestamptz("last_heartbeat").notNull(),
    registeredAt: timestamptz("registered_at").notNull(),
    updatedAt: timestamptz("updated_at").notNull(),
  },
  (table) => [index("services_type_idx").on(table.type)],
);

/**
 * Every status transition, kept after the service is unregistered. Each row keeps the
 * service as it was at that moment, so history reads whole after the service is gone.
 */
export const serviceStatusEvents = pgTable(
  "service_status_events",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    serviceId: text("service_id").notNull(),
    fromStatus: text("from_status"),
    toStatus: text("to_status").notNull(),
    reason: text("reason").notNull(),
    at: timestamptz("at").notNull(),
    service: jsonb("service").$type<ServiceRecord>().notNull(),
  },
  (table) => [
    index("service_status_events_service_at_idx").on(table.serviceId, table.at.desc()),
    // One transition of a service to a status at one instant: a retried write records
    // it once (ON CONFLICT DO NOTHING).
    uniqueIndex("service_status_events_once_idx").on(table.serviceId, table.at, table.toStatus),
  ],
);

/** Every circuit breaker transition. */
export const circuitBreakerEvents = pgTable(
  "circuit_breaker_events",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    serviceId: text("service_id").notNull(),
    fromState: text("from_state").notNull(),
    toState: text("to_state").notNull(),
    failureCount: integer("failure_count").notNull(),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    lastFailureAt: timestamptz("last_failure_at"),
    reason: text("reason"),
    /** Reset or isolated by an operator, rather than moved by calls. */
    byOperator: boolean("by_operator").notNull().default(false),
    at: timestamptz("at").notNull(),
  },
  (table) => [
    index("circuit_breaker_events_service_at_idx").on(table.serviceId, table.at.desc()),
    // Replicas read what changed since they last looked.
    index("circuit_breaker_events_at_idx").on(table.at),
  ],
);

/** Workflow definitions are data, versioned per type; one version is active. */
export const workflowDefinitions = pgTable(
  "workflow_definitions",
  {
    type: text("type").notNull(),
    version: integer("version").notNull(),
    definition: jsonb("definition").$type<JsonObject>().notNull(),
    active: boolean("active").notNull().default(true),
    createdAt: timestamptz("created_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.type, table.version] })],
);

/** One run of a workflow, with the lease a replica holds while it drives it. */
export const workflowExecutions = pgTable(
  "workflow_executions",
  {
    id: text("id").primaryKey(),
    workflowType: text("workflow_type").notNull(),
    definitionVersion: integer("definition_version").notNull(),
    status: text("status").notNull(),
    data: jsonb("data").$type<JsonValue>().notNull(),
    options: jsonb("options").$type<JsonObject>().notNull(),
    result: jsonb("result").$type<JsonValue>(),
    errors: jsonb("errors").$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    idempotencyKey: text("idempotency_key"),
    startedAt: timestamptz("started_at").notNull(),
    finishedAt: timestamptz("finished_at"),
    executionTimeMs: doublePrecision("execution_time_ms"),
    deadlineAt: timestamptz("deadline_at"),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: timestamptz("lease_expires_at"),
    updatedAt: timestamptz("updated_at").notNull(),
  },
  (table) => [
    // An idempotency key names one execution of one workflow type.
    uniqueIndex("workflow_executions_type_idempotency_key_idx").on(
      table.workflowType,
      table.idempotencyKey,
    ),
    index("workflow_executions_status_lease_idx").on(table.status, table.leaseExpiresAt),
    index("workflow_executions_type_started_idx").on(table.workflowType, table.startedAt.desc()),
  ],
);

/** The state of each step of an execution, written before and after it runs. */
export const workflowSteps = pgTable(
  "workflow_steps",
  {
    executionId: text("execution_id")
      .notNull()
      .references(() => workflowExecutions.id, { onDelete: "cascade" }),
    stepId: text("step_id").notNull(),
    name: text("name").notNull(),
    serviceType: text("service_type"),
    serviceId: text("service_id"),
    status: text("status").notNull(),
    attempt: integer("attempt").notNull().default(0),
    startedAt: timestamptz("started_at"),
    finishedAt: timestamptz("finished_at"),
    durationMs: doublePrecision("duration_ms"),
    output: jsonb("output").$type<JsonValue>(),
    error: text("error"),
    /** Every call the step made: which instance answered, how, and how long it took. */
    calls: jsonb("calls").$type<StepCall[]>().notNull().default(sql`'[]'::jsonb`),
  },
  (table) => [primaryKey({ columns: [table.executionId, table.stepId] })],
);

/**
 * API tokens made with createApiToken. The secret is shown once and never stored: only
 * its sha-256, which is also the owner key of the ids the token registers.
 */
export const apiTokens = pgTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    role: text("role").notNull(),
    /** Service types a service token may register; null: any. */
    serviceTypes: jsonb("service_types").$type<string[]>(),
    secretHash: text("secret_hash").notNull(),
    createdBy: text("created_by"),
    createdAt: timestamptz("created_at").notNull(),
    expiresAt: timestamptz("expires_at"),
    revokedAt: timestamptz("revoked_at"),
    /** Bumped by every change, so replicas read only what changed since they last looked. */
    updatedAt: timestamptz("updated_at").notNull(),
  },
  (table) => [
    uniqueIndex("api_tokens_secret_hash_idx").on(table.secretHash),
    index("api_tokens_updated_at_idx").on(table.updatedAt),
  ],
);

/** Every mutation, over GraphQL or REST: who, what, when and how it ended. */
export const auditLog = pgTable(
  "audit_log",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamptz("at").notNull(),
    /** Token id and name; null for an anonymous caller, who is known by address. */
    actorTokenId: text("actor_token_id"),
    actorName: text("actor_name"),
    actorRole: text("actor_role"),
    actorAddress: text("actor_address"),
    /** "graphql" or "rest". */
    transport: text("transport").notNull(),
    /** The mutation field or REST route, e.g. "registerService", "PUT /registry/services/{id}/status". */
    operation: text("operation").notNull(),
    /** Ids the operation acted on: services, executions, tokens, workflow types. */
    targets: jsonb("targets").$type<string[]>().notNull(),
    /** "ok", or the error code it ended with. */
    result: text("result").notNull(),
    requestId: text("request_id"),
  },
  (table) => [
    index("audit_log_at_idx").on(table.at.desc()),
    index("audit_log_actor_idx").on(table.actorTokenId, table.at.desc()),
    index("audit_log_targets_idx").using("gin", table.targets),
  ],
);

/**
 * Integrations between two registered services (the shared client's /integrations): what
 * calling the target for the source means. The services are referred to by id only, not
 * by foreign key: a service's row goes when it is unregistered, and its integrations are
 * configuration that outlives one registration.
 */
export const integrations = pgTable(
  "integrations",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    sourceServiceId: text("source_service_id").notNull(),
    targetServiceId: text("target_service_id").notNull(),
    integrationType: text("integration_type").notNull(),
    config: jsonb("config").$type<JsonObject>().notNull(),
    description: text("description"),
    metadata: jsonb("metadata").$type<JsonObject>().notNull(),
    createdAt: timestamptz("created_at").notNull(),
    updatedAt: timestamptz("updated_at").notNull(),
  },
  (table) => [
    index("integrations_source_idx").on(table.sourceServiceId),
    index("integrations_target_idx").on(table.targetServiceId),
  ],
);
