// The shapes the dashboard's operations (operations.ts) select, as schema.graphql types
// them; test/dashboard/operations.test.ts validates every document against the schema.

export type ServiceStatus = "ONLINE" | "DEGRADED" | "MAINTENANCE" | "OFFLINE";
export type CircuitState = "CLOSED" | "OPEN" | "HALF_OPEN" | "ISOLATED";
type SystemStatus = "HEALTHY" | "DEGRADED" | "UNHEALTHY";
export type RegistryChange = "REGISTERED" | "UPDATED" | "UNREGISTERED";

export type BreakerRow = {
  serviceId: string;
  state: CircuitState;
  consecutiveFailures: number;
  lastStateChangeAt: string | null;
};

export type ServiceRow = {
  id: string;
  name: string;
  type: string;
  version: string;
  status: ServiceStatus;
  lastHeartbeat: string;
  health: { latencyMs: number | null; checkedAt: string } | null;
  circuitBreaker: BreakerRow;
};

export type ServiceDetail = ServiceRow & {
  baseUrl: string;
  healthCheckUrl: string;
  registeredAt: string;
  heartbeatIntervalSeconds: number;
  ttlSeconds: number;
  capabilities: string[];
  tags: string[];
  metadata: unknown;
  endpoints: { method: string; path: string; description: string }[];
  recentHealthChecks: RecentCheck[];
  health:
    | (ServiceRow["health"] & {
        status: ServiceStatus;
        reachable: boolean;
        httpStatus: number | null;
        error: string | null;
      })
    | null;
};

/** One of Service.recentHealthChecks, newest first. */
export type RecentCheck = {
  status: ServiceStatus;
  reachable: boolean;
  httpStatus: number | null;
  latencyMs: number | null;
  checkedAt: string;
  error: string | null;
};

export type StatusEvent = {
  previousStatus: ServiceStatus | null;
  status: ServiceStatus;
  reason: string;
  at: string;
};

export type Viewer = {
  mode: "OPEN" | "TOKENS";
  role: "ADMIN" | "OPERATOR" | "SERVICE" | "READER" | null;
  tokenName: string | null;
  permissions: string[];
};

export type SystemHealth = {
  status: SystemStatus;
  reasons: string[];
  warnings: string[];
  checkedAt: string;
  counts: { online: number; degraded: number; maintenance: number; offline: number };
  selfPreservation: { active: boolean; since: string | null; held: number };
};

/** One line of the overview's stream, from any of the three subscriptions. */
export type FeedEntry = { key: number; at: string; serviceId: string; text: string };

export type LiveEvent =
  | { kind: "registry"; change: RegistryChange; service: ServiceRow; at: string }
  | {
      kind: "status";
      service: ServiceRow;
      previousStatus: ServiceStatus | null;
      status: ServiceStatus;
      reason: string;
      at: string;
    }
  | { kind: "breaker"; serviceId: string; state: CircuitState; breaker: BreakerRow; at: string };

export type WorkflowStatus =
  | "PENDING"
  | "RUNNING"
  | "COMPLETED"
  | "FAILED"
  | "CANCELLED"
  | "COMPENSATED";

export type ExecutionSummary = {
  id: string;
  workflowType: string;
  status: WorkflowStatus;
  startedAt: string;
  finishedAt: string | null;
  executionTimeMs: number | null;
  steps: { id: string; status: WorkflowStatus }[];
};

type WorkflowStep = {
  id: string;
  name: string;
  serviceType: string | null;
  serviceId: string | null;
  status: WorkflowStatus;
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  output: unknown;
  error: string | null;
};

export type Execution = Omit<ExecutionSummary, "steps"> & {
  definitionVersion: number;
  errors: string[];
  result: unknown;
  steps: WorkflowStep[];
};

export type WorkflowDefinition = { type: string; version: number; definition: unknown };

export type Supergraph = {
  status: string;
  composedAt: string | null;
  errors: string[];
  warnings: string[];
  sdl: string | null;
  subgraphs: {
    type: string;
    kind: string;
    version: string;
    instances: number;
    callable: number;
  }[];
};
