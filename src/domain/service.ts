import { badInput } from "./errors.js";
import type { GraphQLApi } from "./federation.js";
import type { JsonObject, JsonValue } from "./json.js";

// The registry's vocabulary, shared by stores, services and the schema.

export const serviceStatuses = ["ONLINE", "DEGRADED", "MAINTENANCE", "OFFLINE"] as const;
export type ServiceStatus = (typeof serviceStatuses)[number];

export const selectionStrategies = ["ROUND_ROBIN", "RANDOM", "LEAST_LATENCY", "WEIGHTED"] as const;
export type SelectionStrategy = (typeof selectionStrategies)[number];
export const DEFAULT_STRATEGY: SelectionStrategy = "ROUND_ROBIN";

export type ServiceEndpoint = {
  path: string;
  method: string;
  description: string;
  requiredPermissions: string[];
};

/** Result of one active probe of a service's health-check URL. */
export type HealthCheck = {
  serviceId: string;
  status: ServiceStatus;
  reachable: boolean;
  httpStatus: number | null;
  latencyMs: number | null;
  checkedAt: string;
  error: string | null;
  body: JsonValue | null;
  /** Probes in a row that failed / succeeded, for the fall and rise thresholds. */
  consecutiveFailures: number;
  consecutiveSuccesses: number;
};

/**
 * Probe results kept per service in the live store (Service.recentHealthChecks), for a
 * latency trend: the last probe and those before it, without a database row each.
 */
export const HEALTH_CHECKS_KEPT = 20;

/** What a registration says about a service; the caller controls all of it. */
type ServiceRegistration = {
  id: string;
  name: string;
  type: string;
  version: string;
  baseUrl: string;
  healthCheckUrl: string;
  endpoints: ServiceEndpoint[];
  capabilities: string[];
  tags: string[];
  metadata: JsonObject;
  heartbeatIntervalSeconds: number;
  ttlSeconds: number;
  /** Active probe period for this service; null uses the gateway's PROBE_INTERVAL_SECONDS. */
  probeIntervalSeconds: number | null;
  /** The GraphQL API this instance serves, for the federated graph; null when it serves none. */
  graphql: GraphQLApi | null;
};

/** A registered service as the live store holds it. Timestamps are ISO-8601 UTC. */
export type ServiceRecord = ServiceRegistration & {
  /** sha-256 of the bearer token that first registered the id; null when registered anonymously. */
  owner: string | null;
  status: ServiceStatus;
  lastHeartbeat: string;
  registeredAt: string;
  updatedAt: string;
  health: HealthCheck | null;
};

/**
 * A record written before a field existed (a Redis doc, the snapshot in a history row or a
 * kept change) lacks it; this gives it the field's "not declared" value, in place, so
 * readers need not know which version wrote it.
 */
export function withCurrentFields(record: ServiceRecord): ServiceRecord {
  // Only when missing: records of this version may be frozen (the memory store's are).
  if (record.graphql === undefined) record.graphql = null;
  return record;
}

export type StatusChange = {
  service: ServiceRecord;
  previousStatus: ServiceStatus | null;
  status: ServiceStatus;
  reason: string;
  at: string;
};

export type RegistryChangeKind = "REGISTERED" | "UPDATED" | "UNREGISTERED";

export type RegistryChangeEvent = {
  change: RegistryChangeKind;
  service: ServiceRecord;
  revision: number;
  at: string;
};

function isServiceStatus(value: string): value is ServiceStatus {
  return (serviceStatuses as readonly string[]).includes(value);
}

/** Accepts any case ("online"), as the seed's REST API did; rejects everything else. */
export function parseStatus(value: string, field: string): ServiceStatus {
  const upper = value.trim().toUpperCase();
  if (isServiceStatus(upper)) return upper;
  throw badInput(field, `must be one of ${serviceStatuses.join(", ")}`);
}

/** "planning_system", "planning-system" and "planningSystem" all become PLANNING_SYSTEM. */
export function normalizeServiceType(type: string): string {
  return type
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toUpperCase();
}

export const httpMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
