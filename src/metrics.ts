import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { type CircuitBreakerSnapshot, circuitStates } from "./domain/breaker.js";
import type { EventTopics } from "./domain/events.js";
import type { ServiceRecord } from "./domain/service.js";
import type { Telemetry } from "./domain/telemetry.js";
import { TERMINAL } from "./domain/workflow.js";
import type { Events } from "./events.js";

/** Seconds, from a millisecond to a minute: requests, calls, probes, round trips. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds, from a tenth to an hour: workflow executions. */
const EXECUTION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds, from a tenth of a millisecond: the live store and the database. */
const ROUND_TRIP_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1];

/**
 * A label whose values come from callers (operation names, service types, workflow types)
 * keeps at most `max` distinct values per process, the first seen; the rest count under
 * `other`, so no client can grow the series without bound.
 */
export function boundedLabel(max: number): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return "other";
    seen.add(value);
    return value;
  };
}

export type MetricsSources = {
  /** Every breaker the gateway holds (the registry's instances). */
  circuitBreakers?: () => Promise<CircuitBreakerSnapshot[]>;
  /** Every registered instance, read at scrape time. */
  services?: () => Promise<ServiceRecord[]>;
  /** Each graphql-ws endpoint's open connections and subscriptions, read at scrape time. */
  webSockets?: () => { endpoint: string; connections: number; subscriptions: number }[];
};

/**
 * One registry per gateway, so tests that start several gateways never collide. Names
 * follow Prometheus' conventions (`sig_` prefix, `_total` counters, `_seconds` times);
 * labels are bounded sets, service ids only where the set is the registry itself.
 */
export function createMetrics(serviceName: string, sources: MetricsSources = {}) {
  const registry = new Registry();
  registry.setDefaultLabels({ service: serviceName });
  // Process CPU, memory, GC, handles and event-loop lag (nodejs_eventloop_lag_*_seconds).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const registers = [registry];
  if (sources.circuitBreakers) registerBreakerGauges(registry, sources.circuitBreakers);
  if (sources.services) registerServiceGauge(registry, sources.services);
  return {
    registry,
    rateLimited: new Counter({
      name: "sig_rate_limited_total",
      help: "Requests and graphql-ws subscribes refused by the rate limit, by surface.",
      labelNames: ["surface"] as const,
      registers,
    }),
    subgraphFetches: new Counter({
      name: "sig_subgraph_fetches_total",
      help: "Fetches of the federated graph to subgraphs, by service type and outcome (ok or the error code).",
      labelNames: ["type", "outcome"] as const,
      registers,
    }),
    subgraphFetchDuration: new Histogram({
      name: "sig_subgraph_fetch_duration_seconds",
      help: "Time of a subgraph fetch, instances retried included, by service type.",
      labelNames: ["type"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    compositions: new Counter({
      name: "sig_supergraph_compositions_total",
      help: "Supergraph compositions, by result (composed or failed).",
      labelNames: ["result"] as const,
      registers,
    }),
    httpRequests: new Counter({
      name: "sig_http_requests_total",
      help: "HTTP requests answered, by route family and status code.",
      labelNames: ["route", "status"] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: "sig_http_request_duration_seconds",
      help: "Time to answer an HTTP request, by route family.",
      labelNames: ["route"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    graphqlOperations: new Counter({
      name: "sig_graphql_operations_total",
      help: "GraphQL operations executed on /graphql, by operation type and name and outcome (ok or the first error's code).",
      labelNames: ["type", "name", "outcome"] as const,
      registers,
    }),
    graphqlDuration: new Histogram({
      name: "sig_graphql_operation_duration_seconds",
      help: "Time to execute a GraphQL query or mutation on /graphql, by operation type and name.",
      labelNames: ["type", "name"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    webSocketConnections: new Gauge({
      name: "sig_websocket_connections",
      help: "Open graphql-ws connections, by endpoint (graphql or federation).",
      labelNames: ["endpoint"] as const,
      registers,
      collect() {
        for (const { endpoint, connections } of sources.webSockets?.() ?? []) {
          this.set({ endpoint }, connections);
        }
      },
    }),
    subscriptions: new Gauge({
      name: "sig_graphql_subscriptions",
      help: "Open GraphQL result streams, by endpoint and transport: graphql-ws subscriptions, and SSE streams.",
      labelNames: ["endpoint", "transport"] as const,
      registers,
      collect() {
        // The SSE series are counted as streams open and close; these are read now.
        for (const { endpoint, subscriptions } of sources.webSockets?.() ?? []) {
          this.set({ endpoint, transport: "ws" }, subscriptions);
        }
      },
    }),
    heartbeats: new Counter({
      name: "sig_heartbeats_total",
      help: "Heartbeats answered, by outcome (ok, not_found, forbidden).",
      labelNames: ["outcome"] as const,
      registers,
    }),
    statusChanges: new Counter({
      name: "sig_service_status_changes_total",
      help: "Service status transitions made by this replica, by previous and new status (previous none: a registration).",
      labelNames: ["from", "to"] as const,
      registers,
    }),
    probes: new Counter({
      name: "sig_health_probes_total",
      help: "Active health probes, by outcome (healthy, degraded, failing, unreachable).",
      labelNames: ["outcome"] as const,
      registers,
    }),
    probeDuration: new Histogram({
      name: "sig_health_probe_duration_seconds",
      help: "Time of an active health probe, unreachable ones included.",
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    breakerTransitions: new Counter({
      name: "sig_circuit_breaker_transitions_total",
      help: "Circuit breaker transitions made by this replica, by previous and new state and by whom (calls or operator).",
      labelNames: ["from", "to", "by"] as const,
      registers,
    }),
    calls: new Counter({
      name: "sig_service_calls_total",
      help: "Calls through the gateway (callService, REST, workflow steps), by service type and outcome (2xx to 5xx, or the error code).",
      labelNames: ["type", "outcome"] as const,
      registers,
    }),
    callDuration: new Histogram({
      name: "sig_service_call_duration_seconds",
      help: "Time of a call through the gateway, retries and failover included, by service type.",
      labelNames: ["type"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    workflowsStarted: new Counter({
      name: "sig_workflow_executions_started_total",
      help: "Workflow executions started on this replica, by workflow type.",
      labelNames: ["workflow"] as const,
      registers,
    }),
    workflowsEnded: new Counter({
      name: "sig_workflow_executions_total",
      help: "Workflow executions ended on this replica, by workflow type and final status.",
      labelNames: ["workflow", "status"] as const,
      registers,
    }),
    workflowDuration: new Histogram({
      name: "sig_workflow_execution_duration_seconds",
      help: "Time from an execution's start to its end, by workflow type and final status.",
      labelNames: ["workflow", "status"] as const,
      buckets: EXECUTION_BUCKETS,
      registers,
    }),
    workflowSteps: new Counter({
      name: "sig_workflow_steps_total",
      help: "Workflow steps ended on this replica, by workflow type and status.",
      labelNames: ["workflow", "status"] as const,
      registers,
    }),
    workflowStepDuration: new Histogram({
      name: "sig_workflow_step_duration_seconds",
      help: "Time of a workflow step, its retries included, by workflow type.",
      labelNames: ["workflow"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    storeDuration: new Histogram({
      name: "sig_registry_store_duration_seconds",
      help: "Round trips to the live registry store (memory, Redis), by operation and result (ok or error).",
      labelNames: ["operation", "result"] as const,
      buckets: ROUND_TRIP_BUCKETS,
      registers,
    }),
    databaseDuration: new Histogram({
      name: "sig_database_duration_seconds",
      help: "Round trips to the database (PostgreSQL, PGlite), by repository operation and result (ok or error).",
      labelNames: ["operation", "result"] as const,
      buckets: ROUND_TRIP_BUCKETS,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** What the services tell the metrics: the Telemetry port on these families. */
export function telemetryOf(metrics: Metrics): Telemetry {
  const serviceType = boundedLabel(500);
  const workflowType = boundedLabel(200);
  const result = (failed: boolean) => (failed ? "error" : "ok");
  return {
    heartbeat: (outcome) => metrics.heartbeats.inc({ outcome }),
    probe(outcome, seconds) {
      metrics.probes.inc({ outcome });
      metrics.probeDuration.observe(seconds);
    },
    call(type, outcome, seconds) {
      const label = serviceType(type);
      metrics.calls.inc({ type: label, outcome });
      metrics.callDuration.observe({ type: label }, seconds);
    },
    workflowStep(type, status, seconds) {
      const workflow = workflowType(type);
      metrics.workflowSteps.inc({ workflow, status });
      if (seconds !== null) metrics.workflowStepDuration.observe({ workflow }, seconds);
    },
    storeOperation: (operation, seconds, failed) =>
      metrics.storeDuration.observe({ operation, result: result(failed) }, seconds),
    databaseOperation: (repository, operation, seconds, failed) =>
      metrics.databaseDuration.observe(
        { operation: `${repository}.${operation}`, result: result(failed) },
        seconds,
      ),
  };
}

/**
 * The same events, counted as they are published. Only what this replica publishes
 * passes here (events from other replicas arrive through `subscribe`), so a fleet counts
 * each transition once, on the replica that made it.
 */
export function countedEvents(events: Events, metrics: Metrics): Events {
  const workflowType = boundedLabel(200);
  const counters: { [K in keyof EventTopics]?: (payload: EventTopics[K][0]) => void } = {
    "service.statusChanged": (change) =>
      metrics.statusChanges.inc({ from: change.previousStatus ?? "none", to: change.status }),
    "breaker.changed": (change) =>
      metrics.breakerTransitions.inc({
        from: change.previousState,
        to: change.state,
        by: change.byOperator ? "operator" : "calls",
      }),
    "workflow.updated"(execution) {
      const workflow = workflowType(execution.workflowType);
      if (execution.status === "PENDING") metrics.workflowsStarted.inc({ workflow });
      if (!TERMINAL.has(execution.status)) return;
      metrics.workflowsEnded.inc({ workflow, status: execution.status });
      if (execution.executionTimeMs !== null) {
        metrics.workflowDuration.observe(
          { workflow, status: execution.status },
          execution.executionTimeMs / 1000,
        );
      }
    },
  };
  return {
    publish(topic, ...payload) {
      counters[topic]?.(payload[0]);
      events.publish(topic, ...payload);
    },
    subscribe: (topic, wanted) => events.subscribe(topic, wanted),
    close: () => events.close(),
  };
}

function registerBreakerGauges(
  registry: Registry,
  circuitBreakers: () => Promise<CircuitBreakerSnapshot[]>,
): void {
  // Both read at scrape time, from one read of the breakers.
  let read: Promise<CircuitBreakerSnapshot[] | null> | null = null;
  const breakers = () => {
    // A registry store that is down must not cost the rest of /metrics: the last
    // values stay.
    read ??= circuitBreakers()
      .catch(() => null)
      .finally(() => {
        read = null;
      });
    return read;
  };
  new Gauge({
    name: "sig_circuit_breakers",
    help: "Circuit breakers of registered instances, by state.",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      const all = await breakers();
      if (!all) return;
      const counts = new Map<string, number>(circuitStates.map((state) => [state, 0]));
      for (const breaker of all) counts.set(breaker.state, (counts.get(breaker.state) ?? 0) + 1);
      for (const [state, count] of counts) this.set({ state }, count);
    },
  });
  new Gauge({
    name: "sig_circuit_breaker_state",
    help: "Each instance's circuit breaker: 1 on the series of its current state (one series per instance).",
    labelNames: ["service_id", "state"] as const,
    registers: [registry],
    async collect() {
      const all = await breakers();
      if (!all) return;
      // Unregistered instances and old states leave the scrape.
      this.reset();
      for (const breaker of all)
        this.set({ service_id: breaker.serviceId, state: breaker.state }, 1);
    },
  });
}

function registerServiceGauge(registry: Registry, services: () => Promise<ServiceRecord[]>): void {
  new Gauge({
    name: "sig_services",
    help: "Registered service instances, by service type and status.",
    labelNames: ["type", "status"] as const,
    registers: [registry],
    async collect() {
      const all = await services().catch(() => null);
      if (!all) return;
      this.reset();
      const counts = new Map<string, { type: string; status: string; count: number }>();
      for (const service of all) {
        const key = `${service.type}\u0000${service.status}`;
        const entry = counts.get(key) ?? { type: service.type, status: service.status, count: 0 };
        entry.count += 1;
        counts.set(key, entry);
      }
      for (const { type, status, count } of counts.values()) this.set({ type, status }, count);
    },
  });
}
