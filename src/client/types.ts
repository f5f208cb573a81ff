import type { SelectionStrategy, ServiceStatus } from "../domain/service.js";

export type { SelectionStrategy, ServiceStatus };

/** The statuses a service may report of itself; OFFLINE is the gateway's to decide. */
export type ReportedStatus = Exclude<ServiceStatus, "OFFLINE">;

/** GraphQL's RegisterServiceInput. */
export type RegisterServiceInput = {
  /** Optional; the gateway generates a UUID, which the agent then keeps. */
  id?: string;
  name: string;
  type: string;
  version: string;
  baseUrl: string;
  healthCheckUrl?: string;
  endpoints?: {
    path: string;
    method: string;
    description?: string;
    requiredPermissions?: string[];
  }[];
  capabilities?: string[];
  tags?: string[];
  metadata?: Record<string, unknown>;
  /** Default 30; also the agent's heartbeat period. */
  heartbeatIntervalSeconds?: number;
  /** Default 90. */
  ttlSeconds?: number;
  probeIntervalSeconds?: number;
  graphql?: { path?: string; kind?: "FEDERATION" | "PLAIN" };
};

/** A registered instance, as the SDK selects it. */
export type Service = {
  id: string;
  name: string;
  type: string;
  version: string;
  baseUrl: string;
  healthCheckUrl: string;
  endpoints: { path: string; method: string; description: string; requiredPermissions: string[] }[];
  capabilities: string[];
  tags: string[];
  metadata: Record<string, unknown>;
  status: ServiceStatus;
  lastHeartbeat: string;
  registeredAt: string;
  updatedAt: string;
  heartbeatIntervalSeconds: number;
  ttlSeconds: number;
  graphql: { path: string; kind: "FEDERATION" | "PLAIN" } | null;
};

export const SERVICE_FIELDS = `id name type version baseUrl healthCheckUrl
  endpoints { path method description requiredPermissions }
  capabilities tags metadata status lastHeartbeat registeredAt updatedAt
  heartbeatIntervalSeconds ttlSeconds graphql { path kind }`;

/** GraphQL's CallServiceInput. */
export type CallServiceInput = {
  serviceId?: string;
  serviceType?: string;
  strategy?: SelectionStrategy;
  method?: string;
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
  headers?: Record<string, string>;
  idempotent?: boolean;
};

export type ServiceCallResult = {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  serviceId: string;
  attempts: number;
  instancesTried: string[];
  breakerState: "CLOSED" | "OPEN" | "HALF_OPEN" | "ISOLATED";
  durationMs: number;
};

export type WorkflowStatus =
  | "PENDING"
  | "RUNNING"
  | "COMPLETED"
  | "FAILED"
  | "CANCELLED"
  | "COMPENSATED";

/** GraphQL's ExecuteWorkflowInput. */
export type ExecuteWorkflowInput = {
  id?: string;
  workflowType: string;
  data: unknown;
  options?: { wait?: boolean; timeoutSeconds?: number; idempotencyKey?: string };
};

export type WorkflowExecution = {
  id: string;
  workflowType: string;
  definitionVersion: number;
  status: WorkflowStatus;
  data: unknown;
  result: unknown;
  errors: string[];
  startedAt: string;
  finishedAt: string | null;
  executionTimeMs: number | null;
  steps: {
    id: string;
    name: string;
    status: WorkflowStatus;
    serviceId: string | null;
    output: unknown;
    error: string | null;
  }[];
};

export const WORKFLOW_FIELDS = `id workflowType definitionVersion status data result errors
  startedAt finishedAt executionTimeMs steps { id name status serviceId output error }`;

export type RegistryEvent = {
  change: "REGISTERED" | "UPDATED" | "UNREGISTERED";
  service: Service;
  revision: number;
  at: string;
};
