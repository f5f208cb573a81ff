import type { SelfPreservation } from "../services/expiry.js";
import type { SystemHealth } from "../services/health.js";
import type { DependencyStatus } from "../services/readiness.js";
import { builder } from "./builder.js";
import { CircuitBreakerRef, HealthCheckRef, ServiceRef } from "./registry.js";

const SystemStatusEnum = builder.enumType("SystemStatus", {
  values: ["HEALTHY", "DEGRADED", "UNHEALTHY"] as const,
});

const DependencyHealthRef = builder.objectRef<DependencyStatus>("DependencyHealth").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    ok: t.exposeBoolean("ok"),
    latencyMs: t.exposeFloat("latencyMs", { nullable: true }),
    error: t.exposeString("error", { nullable: true }),
  }),
});

const StatusCountsRef = builder.objectRef<SystemHealth["counts"]>("StatusCounts").implement({
  fields: (t) => ({
    online: t.exposeInt("online"),
    degraded: t.exposeInt("degraded"),
    maintenance: t.exposeInt("maintenance"),
    offline: t.exposeInt("offline"),
  }),
});

const SelfPreservationRef = builder.objectRef<SelfPreservation>("SelfPreservation").implement({
  description: "Heartbeat expiry held because most services went silent at once.",
  fields: (t) => ({
    active: t.exposeBoolean("active"),
    since: t.expose("since", { type: "DateTime", nullable: true }),
    held: t.exposeInt("held", { description: "Services that would have expired." }),
  }),
});

const SystemHealthRef = builder.objectRef<SystemHealth>("SystemHealth").implement({
  fields: (t) => ({
    status: t.expose("status", { type: SystemStatusEnum }),
    reasons: t.exposeStringList("reasons", { description: "Why the status is not HEALTHY." }),
    warnings: t.exposeStringList("warnings", {
      description:
        "What an operator should know that does not change the status, e.g. that the gateway is in open mode.",
    }),
    checkedAt: t.expose("checkedAt", { type: "DateTime" }),
    executionTimeMs: t.exposeFloat("executionTimeMs"),
    services: t.field({ type: [ServiceRef], resolve: (health) => health.services }),
    circuitBreakers: t.field({
      type: [CircuitBreakerRef],
      resolve: (health) => health.circuitBreakers,
    }),
    dependencies: t.field({
      type: [DependencyHealthRef],
      resolve: (health) => health.dependencies,
    }),
    counts: t.field({ type: StatusCountsRef, resolve: (health) => health.counts }),
    selfPreservation: t.field({
      type: SelfPreservationRef,
      resolve: (health) => health.selfPreservation,
    }),
  }),
});

builder.queryFields((t) => ({
  checkServiceHealth: t.field({
    type: HealthCheckRef,
    description: "Probes the service's healthCheckUrl now, and applies the result.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.prober.checkNow(String(id)),
  }),
  systemHealth: t.field({
    type: SystemHealthRef,
    description: "Dependencies, every service and breaker, and one status for the whole system.",
    resolve: (_root, _args, ctx) => ctx.services.health.system(),
  }),
}));
