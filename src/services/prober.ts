import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { HealthProbe } from "../clients/health-probe.js";
import { notFound } from "../domain/errors.js";
import type { HealthCheck, ServiceRecord } from "../domain/service.js";
import { PROBED_STATUSES } from "../domain/status.js";
import type { Telemetry } from "../domain/telemetry.js";
import { systemClock } from "../lib/clock.js";
import { every } from "../lib/interval-loop.js";
import type { LeaseStore } from "../stores/lease.js";
import type { RegistryStore } from "../stores/registry.js";
import { parseServiceId } from "./registration-input.js";
import type { Registry } from "./registry.js";

export type ProberOptions = {
  store: RegistryStore;
  registry: Registry;
  probe: HealthProbe;
  leases: LeaseStore;
  log: Logger;
  /** Counts each probe by outcome, with its latency. */
  telemetry: Pick<Telemetry, "probe">;
  /** Default probe period when a service sets none. Default 15,000 ms. */
  intervalMs?: number;
  /** Probes in flight at once, whatever the number of services. Default 50. */
  concurrency?: number;
  /** Failures in a row that take a service OFFLINE. Default 3. */
  fallAfter?: number;
  /** Successes in a row that bring it back ONLINE. Default 2. */
  riseAfter?: number;
  /** How often due probes are looked for. Default 250 ms. */
  tickMs?: number;
  /** How often the list of services to probe is read again from the store. Default 2,000 ms. */
  refreshMs?: number;
  now?: () => number;
};

/**
 * Active health checks of every service's healthCheckUrl, each at its own period, by
 * one replica at a time (a lease), with a bounded number in flight so thousands of
 * services never open thousands of sockets at once.
 */
export function createProber({
  store,
  registry,
  probe,
  leases,
  log,
  telemetry,
  intervalMs = 15_000,
  concurrency = 50,
  fallAfter = 3,
  riseAfter = 2,
  tickMs = 250,
  refreshMs = 2000,
  now = () => systemClock.now(),
}: ProberOptions) {
  const holder = randomUUID();
  const inFlight = new Set<string>();
  /** When each service was last probed here; the store's checkedAt before that. */
  const probedAt = new Map<string, number>();
  let services: ServiceRecord[] = [];
  let servicesReadAt = Number.NEGATIVE_INFINITY;

  const periodOf = (service: ServiceRecord) =>
    service.probeIntervalSeconds === null ? intervalMs : service.probeIntervalSeconds * 1000;

  async function probeOne(service: ServiceRecord): Promise<HealthCheck | null> {
    probedAt.set(service.id, now());
    const started = performance.now();
    const result = await probe.probe(service.healthCheckUrl);
    telemetry.probe(
      result.reachable ? result.verdict : "unreachable",
      (performance.now() - started) / 1000,
    );
    return registry.applyProbe(service.id, result, { fallAfter, riseAfter });
  }

  const lastProbe = (service: ServiceRecord) =>
    probedAt.get(service.id) ??
    (service.health ? Date.parse(service.health.checkedAt) : Number.NEGATIVE_INFINITY);

  const leaseMs = Math.max(refreshMs, tickMs) * 3;
  const holdLease = () => leases.acquire("health-prober", holder, leaseMs);

  /**
   * Probes every service whose period has passed; returns how many were probed. The
   * ticks are short, so a period is kept to within about a tick; the list of services
   * is read from the store only every `refreshMs`, so a tick costs a lease renewal.
   * A long round renews the lease as it goes, and stops if another replica took it.
   */
  async function probeDue(): Promise<number> {
    if (!(await holdLease())) {
      probedAt.clear();
      servicesReadAt = Number.NEGATIVE_INFINITY;
      return 0;
    }
    const at = now();
    if (at - servicesReadAt >= refreshMs) {
      services = await store.find({ statuses: PROBED_STATUSES });
      servicesReadAt = at;
      const present = new Set(services.map((service) => service.id));
      for (const id of probedAt.keys()) if (!present.has(id)) probedAt.delete(id);
    }
    const due = services.filter(
      (service) => !inFlight.has(service.id) && lastProbe(service) + periodOf(service) <= at,
    );
    let next = 0;
    let leader = true;
    let renewedAt = now();
    const worker = async () => {
      while (next < due.length && leader) {
        if (now() - renewedAt > leaseMs / 3) {
          renewedAt = now();
          leader = await holdLease();
          if (!leader) break;
        }
        const service = due[next++] as ServiceRecord;
        inFlight.add(service.id);
        try {
          await probeOne(service);
        } catch (error) {
          log.warn({ err: error, serviceId: service.id }, "probe result not recorded");
        } finally {
          inFlight.delete(service.id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, worker));
    return due.length;
  }

  const loop = every(tickMs, probeDue, { log, name: "probe round" });

  return {
    probeDue,

    /** Probes one service now (checkServiceHealth) and applies the result as usual. */
    async checkNow(id: string): Promise<HealthCheck> {
      const current = await store.get(parseServiceId(id));
      if (!current) throw notFound(`Service ${id} is not registered.`);
      const check = await probeOne(current.record);
      if (!check) throw notFound(`Service ${id} is not registered.`);
      return check;
    },

    start: () => loop.start(),

    async stop(): Promise<void> {
      await loop.stop();
      await leases.release("health-prober", holder).catch(() => {});
      await probe.close();
    },
  };
}
