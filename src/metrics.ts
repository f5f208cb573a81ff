import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** One registry per gateway, so tests that start several gateways never collide. */
export function createMetrics(serviceName: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service: serviceName });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
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
