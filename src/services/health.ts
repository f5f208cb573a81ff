import type { CircuitBreakerSnapshot } from "../domain/breaker.js";
import type { ServiceRecord } from "../domain/service.js";
import { isCallableStatus, statusWithBreaker } from "../domain/status.js";
import { systemClock } from "../lib/clock.js";
import type { RegistryStore } from "../stores/registry.js";
import type { Breakers } from "./breakers.js";
import type { SelfPreservation } from "./expiry.js";
import type { createReadiness, DependencyStatus } from "./readiness.js";

type SystemStatus = "HEALTHY" | "DEGRADED" | "UNHEALTHY";

export type SystemHealth = {
  status: SystemStatus;
  /** Why the status is not HEALTHY, one line a cause. */
  reasons: string[];
  /** What an operator should know that does not change the status: open mode, say. */
  warnings: string[];
  checkedAt: string;
  executionTimeMs: number;
  services: ServiceRecord[];
  circuitBreakers: CircuitBreakerSnapshot[];
  dependencies: DependencyStatus[];
  counts: { online: number; degraded: number; maintenance: number; offline: number };
  selfPreservation: SelfPreservation;
};

export type HealthDeps = {
  store: RegistryStore;
  readiness: ReturnType<typeof createReadiness>;
  breakers: Breakers;
  selfPreservation: () => SelfPreservation;
  /** Standing warnings, e.g. that no token is configured. */
  warnings?: readonly string[];
  /** Reasons to be DEGRADED found elsewhere (a failed supergraph composition). */
  degradedBecause?: () => readonly string[];
  now?: () => Date;
};

/**
 * The system's health, worst first: UNHEALTHY when a dependency is down or a registered
 * type has no instance to call (none ONLINE or DEGRADED, and not all in maintenance);
 * DEGRADED when any instance is DEGRADED or OFFLINE (an ONLINE one whose breaker is OPEN
 * or ISOLATED counts as DEGRADED), a breaker is not CLOSED, or expiry is held by
 * self-preservation; HEALTHY otherwise. MAINTENANCE is planned, so it counts
 * against neither. (The original rated an OFFLINE service milder than a DEGRADED one.)
 */
export function createHealth({
  store,
  readiness,
  breakers,
  selfPreservation,
  warnings = [],
  degradedBecause = () => [],
  now = () => new Date(systemClock.now()),
}: HealthDeps) {
  return {
    async system(): Promise<SystemHealth> {
      const started = performance.now();
      const [{ dependencies }, services] = await Promise.all([
        readiness.check(),
        store.find({}).catch(() => [] as ServiceRecord[]),
      ]);
      const circuitBreakers = services.map((service) => breakers.forService(service.id));
      const counts = { online: 0, degraded: 0, maintenance: 0, offline: 0 };
      const types = new Map<string, { callable: boolean; allInMaintenance: boolean }>();
      const breakerOpen = new Set(
        circuitBreakers
          .filter((breaker) => breaker.state === "OPEN" || breaker.state === "ISOLATED")
          .map((breaker) => breaker.serviceId),
      );
      for (const service of services) {
        const status = statusWithBreaker(service.status, breakerOpen.has(service.id));
        counts[status.toLowerCase() as keyof typeof counts] += 1;
        const type = types.get(service.type) ?? { callable: false, allInMaintenance: true };
        type.callable ||= isCallableStatus(service.status);
        type.allInMaintenance &&= service.status === "MAINTENANCE";
        types.set(service.type, type);
      }

      const unhealthy = [
        ...dependencies.filter((d) => !d.ok).map((d) => `${d.name} is down: ${d.error}`),
        // A type whose instances are all in maintenance is planned downtime, not a fault.
        ...[...types]
          .filter(([, type]) => !type.callable && !type.allInMaintenance)
          .map(([name]) => `no ${name} instance is ONLINE or DEGRADED`),
      ];
      const preservation = selfPreservation();
      const degraded = [
        ...(counts.degraded > 0 ? [`${counts.degraded} instance(s) DEGRADED`] : []),
        ...(counts.offline > 0 ? [`${counts.offline} instance(s) OFFLINE`] : []),
        ...circuitBreakers
          .filter((breaker) => breaker.state !== "CLOSED")
          .map((breaker) => `circuit breaker of ${breaker.serviceId} is ${breaker.state}`),
        ...(preservation.active ? ["heartbeat expiry held by self-preservation"] : []),
        ...degradedBecause(),
      ];
      const status: SystemStatus =
        unhealthy.length > 0 ? "UNHEALTHY" : degraded.length > 0 ? "DEGRADED" : "HEALTHY";
      return {
        status,
        reasons: [...unhealthy, ...degraded],
        warnings: [...warnings],
        checkedAt: now().toISOString(),
        executionTimeMs: performance.now() - started,
        services,
        circuitBreakers,
        dependencies,
        counts,
        selfPreservation: preservation,
      };
    },
  };
}
