import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { type CircuitBreakerSnapshot, circuitStates } from "./domain/breaker.js";

/** One registry per gateway, so tests that start several gateways never collide. */
export function createMetrics(
  serviceName: string,
  { circuitBreakers }: { circuitBreakers?: () => Promise<CircuitBreakerSnapshot[]> } = {},
) {
  const registry = new Registry();
  registry.setDefaultLabels({ service: serviceName });
  collectDefaultMetrics({ register: registry });
  if (circuitBreakers) {
    new Gauge({
      name: "sig_circuit_breakers",
      help: "Circuit breakers of registered instances, by state.",
      labelNames: ["state"] as const,
      registers: [registry],
      async collect() {
        // A registry store that is down must not cost the rest of /metrics: the last
        // counts stay.
        const breakers = await circuitBreakers().catch(() => null);
        if (!breakers) return;
        const counts = new Map(circuitStates.map((state) => [state, 0]));
        for (const breaker of breakers) {
          counts.set(breaker.state, (counts.get(breaker.state) ?? 0) + 1);
        }
        for (const [state, count] of counts) this.set({ state }, count);
      },
    });
  }
  return {
    registry,
    rateLimited: new Counter({
      name: "sig_rate_limited_total",
      help: "Requests and graphql-ws subscribes refused by the rate limit, by surface.",
      labelNames: ["surface"] as const,
      registers: [registry],
    }),
    subgraphFetches: new Counter({
      name: "sig_subgraph_fetches_total",
      help: "Fetches of the federated graph to subgraphs, by service type and outcome (ok or the error code).",
      labelNames: ["type", "outcome"] as const,
      registers: [registry],
    }),
    subgraphFetchDuration: new Histogram({
      name: "sig_subgraph_fetch_duration_seconds",
      help: "Time of a subgraph fetch, instances retried included, by service type.",
      labelNames: ["type"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    compositions: new Counter({
      name: "sig_supergraph_compositions_total",
      help: "Supergraph compositions, by result (composed or failed).",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: "sig_http_requests_total",
      help: "HTTP requests answered, by route family and status code.",
      labelNames: ["route", "status"] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "sig_http_request_duration_seconds",
      help: "Time to answer an HTTP request, by route family.",
      labelNames: ["route"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
